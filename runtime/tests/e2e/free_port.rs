//! A free loopback port for configs that must name one before they load,
//! shared by the runtime's e2e suite and the binary's tests.

/// A port free on 127.0.0.1 now, and never handed to another test of this
/// binary: tests run in parallel, and the kernel may give a port just
/// freed here to the next `bind` to port 0 (a fleet test once saw its
/// instance's port taken by another test's instance).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
}
