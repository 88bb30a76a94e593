//! Helpers for the upgrade tests: a scratch directory with a config, a
//! pidfile and an admin socket; a `bellhop run` started there; and what
//! `/proc` says about processes and listening sockets.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A bellhop started by a test, in its own scratch directory.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub first: Child,
}

pub use crate::common::free_port;

/// A config answering `body` on 127.0.0.1:`port`.
pub fn site(port: u16, body: &str) -> String {
    format!(
        r#"{{"apps":{{"http":{{"servers":{{"s":{{"listen":["127.0.0.1:{port}"],"routes":[{{"handle":[{{"handler":"static_response","body":"{body}"}}]}}]}}}}}}}}}}"#
    )
}

impl Server {
    /// Starts `bellhop run --config c.json --pidfile pid` answering `body`,
    /// and waits until it serves.
    pub fn start(body: &str) -> Server {
        Server::start_config(|port| site(port, body))
    }

    /// Starts `bellhop run` on the config `config(port)` makes, which must
    /// answer plain HTTP/1.1 on 127.0.0.1:`port`.
    pub fn start_config(config: impl FnOnce(u16) -> String) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::write(dir.path().join("c.json"), config(port)).unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let first = Command::new(env!("CARGO_BIN_EXE_bellhop"))
            .args(["run", "--config", "c.json", "--pidfile", "pid"])
            .current_dir(dir.path())
            .env("BELLHOP_ADMIN", admin_of(dir.path()))
            .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Server { dir, port, first };
        let pid = server.wait_pid(None, Duration::from_secs(20));
        assert_eq!(pid, server.first.id(), "{}", server.log());
        server
    }

    /// `bellhop ARGS…` against this server's admin socket.
    pub fn bellhop(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_bellhop"))
            .args(args)
            .current_dir(self.dir.path())
            .env("BELLHOP_ADMIN", admin_of(self.dir.path()))
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn pidfile(&self) -> PathBuf {
        self.dir.path().join("pid")
    }

    /// The PID in the pidfile.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.pidfile())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Waits until the pidfile names a live process other than `old`
    /// that answers on the port; its PID.
    pub fn wait_pid(&self, old: Option<u32>, limit: Duration) -> u32 {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(pid) = self.pid().filter(|p| Some(*p) != old && alive(*p)) {
                if get(self.port).is_some() {
                    return pid;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "no new serving pid (old {old:?}) within {limit:?}\n{}",
            self.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Stops whichever process serves now (SIGTERM) and waits for it.
    pub fn stop(self) {
        if let Some(pid) = self.pid() {
            signal(pid, rustix::process::Signal::TERM);
            assert!(
                wait_gone(pid, Duration::from_secs(10)),
                "pid {pid} ignored SIGTERM"
            );
        }
    }
}

impl Drop for Server {
    /// Leaves no process behind, even when a test fails.
    fn drop(&mut self) {
        if let Some(pid) = self.pid().filter(|p| alive(*p)) {
            signal(pid, rustix::process::Signal::KILL);
        }
        let _ = self.first.kill();
        let _ = self.first.wait();
    }
}

fn admin_of(dir: &Path) -> String {
    format!("unix/{}", dir.join("admin.sock").display())
}

/// GETs `/` on `port` on a new connection: the body, or `None`.
pub fn get(port: u16) -> Option<String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut resp = String::new();
    c.read_to_string(&mut resp).ok()?;
    resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

pub fn signal(pid: u32, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}

/// Whether `pid` runs (a zombie does not count).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Waits until `pid` no longer runs.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The inode of the socket listening on 127.0.0.1:`port` (`/proc/net/tcp`).
pub fn listen_inode(port: u16) -> u64 {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 9 && f[1] == local && f[3] == "0A")
        .and_then(|f| f[9].parse().ok())
        .unwrap_or_else(|| panic!("nothing listens on 127.0.0.1:{port}"))
}

/// Whether `pid` holds the socket with this inode (`/proc/PID/fd`).
pub fn holds_socket(pid: u32, inode: u64) -> bool {
    let want = format!("socket:[{inode}]");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.as_os_str() == want.as_str()))
        })
        .unwrap_or(false)
}

/// An executable shell script in `dir`.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}
