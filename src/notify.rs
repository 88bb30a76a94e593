//! The service manager's readiness protocol (systemd's `sd_notify`): when
//! `NOTIFY_SOCKET` is set, `bellhop run` sends `READY=1` once the first
//! config serves, `RELOADING=1` (with `MONOTONIC_USEC`, as
//! `Type=notify-reload` requires) and then `READY=1` around each later
//! config change, and `STOPPING=1` when it starts shutting down. Without
//! `NOTIFY_SOCKET` nothing is sent. A send that fails is logged once and
//! never stops the server.

use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where notifications go (nowhere without `NOTIFY_SOCKET`).
pub struct Notifier {
    target: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
    /// Set once `READY=1` was sent: reloads are reported from then on.
    ready: AtomicBool,
    warned: AtomicBool,
}

impl Notifier {
    /// The notifier for `NOTIFY_SOCKET` (a path, or `@name` for the
    /// abstract namespace).
    pub fn from_env() -> Self {
        let target = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty())
            .and_then(|s| match open(&s) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(socket = %s, error = %e, "NOTIFY_SOCKET is unusable; not notifying the service manager");
                    None
                }
            });
        Notifier {
            target,
            ready: AtomicBool::new(false),
            warned: AtomicBool::new(false),
        }
    }

    /// The first config serves: `READY=1` (with our PID).
    pub fn ready(&self) {
        self.ready.store(true, Ordering::Release);
        self.send(&format!("READY=1\nMAINPID={}", std::process::id()));
    }

    /// A config change begins (after the first): `RELOADING=1`.
    pub fn reloading(&self) {
        if self.ready.load(Ordering::Acquire) {
            self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
        }
    }

    /// A config change ended, whichever way: `READY=1` again.
    pub fn reloaded(&self) {
        if self.ready.load(Ordering::Acquire) {
            self.send("READY=1");
        }
    }

    /// Shutting down: `STOPPING=1`.
    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    fn send(&self, msg: &str) {
        let Some((sock, addr)) = &self.target else {
            return;
        };
        if let Err(e) = sock.send_to_addr(msg.as_bytes(), addr) {
            if !self.warned.swap(true, Ordering::AcqRel) {
                tracing::warn!(error = %e, "notifying the service manager failed");
            }
        }
    }
}

fn open(spec: &str) -> std::io::Result<(UnixDatagram, std::os::unix::net::SocketAddr)> {
    let addr = match spec.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?
        }
        None => std::os::unix::net::SocketAddr::from_pathname(spec)?,
    };
    Ok((UnixDatagram::unbound()?, addr))
}

/// `CLOCK_MONOTONIC` in microseconds, as systemd compares it.
fn monotonic_usec() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1_000
}
