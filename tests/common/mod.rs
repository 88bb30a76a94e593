//! What the binary's test files share: a free loopback port, `bellhop
//! run` kept to a scratch directory and waited for until it serves, and a
//! child process killed (and reaped) when the test lets go of it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

#[path = "../../runtime/tests/e2e/free_port.rs"]
mod free_port;
// (Not every test file that includes this module names it.)
#[allow(unused_imports)]
pub use free_port::free_port;

/// `bellhop run --config CONFIG` with its admin socket and XDG
/// directories in `dir`, no stdin, and nothing inherited that a systemd
/// unit would set (`NOTIFY_SOCKET`, `LISTEN_FDS`).
pub fn bellhop_run(dir: &Path, config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bellhop"));
    c.args(["run", "--config"])
        .arg(config)
        .env(
            "BELLHOP_ADMIN",
            format!("unix/{}", dir.join("admin.sock").display()),
        )
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .stdin(Stdio::null());
    c
}

/// Spawns `cmd` (a `bellhop run`) and returns once it logs that it is
/// serving; panics with what it logged if it exits first.
pub fn serve(cmd: &mut Command) -> Proc {
    let mut child = Proc(cmd.stderr(Stdio::piped()).spawn().unwrap());
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("serving") {
            std::thread::spawn(move || lines.for_each(drop));
            return child;
        }
        seen.push(line);
    }
    panic!("bellhop exited before serving:\n{}", seen.join("\n"));
}

/// A child process, killed and waited for on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
