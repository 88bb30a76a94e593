//! What the binary's test files share: a free loopback port, and a child
//! process killed (and reaped) when the test lets go of it.

#![allow(dead_code)]

use std::process::Child;

/// A port free on 127.0.0.1 now (for configs that must name it before
/// they load).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed and waited for on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
