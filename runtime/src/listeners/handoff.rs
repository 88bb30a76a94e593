//! Sockets across a binary upgrade: the old process lists its pooled
//! sockets ([`Pool::sockets`]) and hands their descriptors to the new one,
//! which adopts each under its pool key ([`Pool::adopt`]). A config that
//! listens on an adopted address takes that socket instead of binding, so
//! the listening socket (and its accept queue) is the same kernel object in
//! both processes and no connection is refused in between.
//!
//! After a hand-off the old process marks its sockets ([`Socket::mark_handed_off`]):
//! it stops accepting, and its HTTP/1 connections close as they finish a
//! response (`Connection: close`) or go idle, so keep-alive clients move to
//! the new process without a failed request.

use super::{Listener, Pool, Socket};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A listening socket inherited from another process.
#[derive(Debug)]
pub enum Inherited {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
    /// The UDP socket of an HTTP/3 endpoint.
    Udp(std::net::UdpSocket),
}

impl Inherited {
    /// A TCP listener from its descriptor.
    pub fn tcp(fd: OwnedFd) -> Self {
        Inherited::Tcp(std::net::TcpListener::from(fd))
    }

    /// A unix-socket listener from its descriptor.
    pub fn unix(fd: OwnedFd) -> Self {
        Inherited::Unix(std::os::unix::net::UnixListener::from(fd))
    }

    /// A UDP socket (HTTP/3) from its descriptor.
    pub fn udp(fd: OwnedFd) -> Self {
        Inherited::Udp(std::net::UdpSocket::from(fd))
    }

    /// A socket of `kind` (as [`Socket::kind`] names it) from its
    /// descriptor; `None` for an unknown kind.
    pub fn of_kind(kind: &str, fd: OwnedFd) -> Option<Self> {
        match kind {
            "tcp" => Some(Self::tcp(fd)),
            "unix" => Some(Self::unix(fd)),
            "udp" => Some(Self::udp(fd)),
            _ => None,
        }
    }

    /// The socket as the pool serves it (needs a Tokio runtime).
    pub(super) fn into_listener(self) -> std::io::Result<(Listener, Option<SocketAddr>)> {
        match self {
            Inherited::Tcp(l) => {
                l.set_nonblocking(true)?;
                let local = l.local_addr().ok();
                Ok((Listener::Tcp(tokio::net::TcpListener::from_std(l)?), local))
            }
            Inherited::Unix(l) => {
                l.set_nonblocking(true)?;
                Ok((Listener::Unix(tokio::net::UnixListener::from_std(l)?), None))
            }
            Inherited::Udp(u) => {
                u.set_nonblocking(true)?;
                let local = u.local_addr().ok();
                Ok((Listener::Udp(u), local))
            }
        }
    }
}

impl Pool {
    /// Pre-seeds the pool with a socket another process bound for the
    /// address with pool key `key` (`tcp/127.0.0.1:8080`, `unix//path`):
    /// the next lease on that address uses it instead of binding.
    pub fn adopt(&self, key: String, socket: Inherited) {
        super::lock(&self.0.adopted).insert(key, socket);
    }

    /// Takes back an adopted socket no lease has used yet.
    pub fn take_adopted(&self, key: &str) -> Option<Inherited> {
        super::lock(&self.0.adopted).remove(key)
    }

    /// Closes the adopted sockets no config took; returns their keys.
    pub fn discard_adopted(&self) -> Vec<String> {
        let mut map = super::lock(&self.0.adopted);
        let mut keys: Vec<String> = map.drain().map(|(k, _)| k).collect();
        keys.sort();
        keys
    }

    /// Every socket the pool holds now.
    pub fn sockets(&self) -> Vec<Arc<Socket>> {
        let map = super::lock(&self.0.sockets);
        let mut all: Vec<Arc<Socket>> = map.values().map(|e| e.socket.clone()).collect();
        all.sort_by_key(|s| s.id);
        all
    }
}

impl Socket {
    /// Records that another process now serves this socket.
    pub fn mark_handed_off(&self) {
        self.handed_off.store(true, Ordering::Release);
    }

    /// Whether another process now serves this socket.
    pub fn is_handed_off(&self) -> bool {
        self.handed_off.load(Ordering::Relaxed)
    }

    /// A duplicate of the listening socket's descriptor (the same kernel
    /// socket, for a hand-off); an error once the listener is closed.
    pub fn dup_fd(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        self.with_listener(|l| l.as_fd().try_clone_to_owned())
            .unwrap_or_else(|| Err(std::io::Error::other("the listener is closed")))
    }
}
