//! The listener pool: sockets shared across configs, keyed by network
//! address and reference-counted, like Caddy's `listeners.go`/`usagepool.go`.
//!
//! A config takes a [`Lease`] on every socket it listens on. A later config
//! that listens on the same address gets a lease on the same socket, so a
//! reload never rebinds it and loses nothing from its accept queue. When the
//! last lease goes, the socket's stop signal fires: its accept loop ends,
//! the socket closes, and its connections drain.
//!
//! Sockets are made with socket2: `SO_REUSEADDR` (as Go sets it), never
//! `SO_REUSEPORT`; `:port` listens dual-stack where IPv6 is available.

pub mod address;

pub use address::{ListenAddr, Network};

use crate::error::Error;
use socket2::{Domain, Protocol, Socket as RawSocket, Type};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A bound, listening socket.
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

/// A pooled socket.
pub struct Socket {
    pub key: String,
    pub id: u64,
    /// The listener until its accept loop takes it (see
    /// [`Socket::take_listener`]); closed with the last lease otherwise.
    listener: Mutex<Option<Listener>>,
    /// Becomes true once the listener is closed.
    closed: watch::Sender<bool>,
    /// Where it is bound (`None` for unix sockets).
    pub local: Option<SocketAddr>,
    /// Becomes true when the last lease is gone.
    pub stop: watch::Receiver<bool>,
    stop_tx: watch::Sender<bool>,
    /// Set once an accept loop runs for this socket.
    pub serving: AtomicBool,
    /// How long connections may take to finish after stop, in ms
    /// (`u64::MAX`: no limit).
    pub grace_ms: AtomicU64,
}

impl Socket {
    /// Takes the listener for an accept loop (once); the socket counts as
    /// closed when the returned guard drops.
    pub fn take_listener(&self) -> Option<OwnedListener<'_>> {
        let l = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        l.map(|listener| OwnedListener {
            listener: Some(listener),
            closed: &self.closed,
        })
    }

    /// Waits until the listener is closed, so its port can be bound again.
    pub async fn wait_closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// A listener owned by its accept loop; marks the socket closed on drop.
pub struct OwnedListener<'a> {
    listener: Option<Listener>,
    closed: &'a watch::Sender<bool>,
}

impl std::ops::Deref for OwnedListener<'_> {
    type Target = Listener;
    fn deref(&self) -> &Listener {
        self.listener.as_ref().expect("present until dropped")
    }
}

impl Drop for OwnedListener<'_> {
    fn drop(&mut self) {
        drop(self.listener.take());
        self.closed.send_replace(true);
    }
}

struct Entry {
    socket: Arc<Socket>,
    leases: usize,
}

#[derive(Default)]
struct PoolInner {
    sockets: Mutex<HashMap<String, Entry>>,
    next_id: AtomicU64,
}

/// The pool of listening sockets.
#[derive(Clone, Default)]
pub struct Pool(Arc<PoolInner>);

/// One config's use of a socket; dropping it releases the use.
pub struct Lease {
    pool: Pool,
    pub socket: Arc<Socket>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut map = self
            .pool
            .0
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = map.get_mut(&self.socket.key) {
            entry.leases -= 1;
            if entry.leases == 0 {
                map.remove(&self.socket.key);
                let _ = self.socket.stop_tx.send(true);
                // Closes the listener now if no accept loop has it.
                let unused = self.socket.listener.lock().map(|mut l| l.take());
                if let Ok(Some(l)) = unused {
                    drop(l);
                    self.socket.closed.send_replace(true);
                }
            }
        }
    }
}

impl Pool {
    /// A lease on the socket for `addr`, binding it if nobody holds it.
    /// Must be called within a Tokio runtime.
    pub fn obtain(&self, addr: &ListenAddr) -> Result<Lease, Error> {
        let key = addr.key();
        let mut map = self.0.sockets.lock().unwrap_or_else(|e| e.into_inner());
        // Port 0 asks for a fresh port every time: never shared.
        if addr.port != 0 || addr.network == Network::Unix {
            if let Some(entry) = map.get_mut(&key) {
                entry.leases += 1;
                return Ok(Lease {
                    pool: self.clone(),
                    socket: entry.socket.clone(),
                });
            }
        }
        let (listener, local) = bind(addr).map_err(|e| Error::Listen {
            address: key.clone(),
            message: e.to_string(),
        })?;
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        // A port-0 socket is pooled under the port it got, so a later
        // config naming that port shares it.
        let key = match local {
            Some(l) if addr.port == 0 => ListenAddr {
                port: l.port(),
                ..addr.clone()
            }
            .key(),
            _ => key,
        };
        let (stop_tx, stop) = watch::channel(false);
        let socket = Arc::new(Socket {
            key: key.clone(),
            id,
            listener: Mutex::new(Some(listener)),
            closed: watch::channel(false).0,
            local,
            stop,
            stop_tx,
            serving: AtomicBool::new(false),
            grace_ms: AtomicU64::new(u64::MAX),
        });
        map.insert(
            key,
            Entry {
                socket: socket.clone(),
                leases: 1,
            },
        );
        Ok(Lease {
            pool: self.clone(),
            socket,
        })
    }

    /// How many sockets are open.
    pub fn len(&self) -> usize {
        self.0.sockets.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no socket is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn bind(addr: &ListenAddr) -> std::io::Result<(Listener, Option<SocketAddr>)> {
    if addr.network == Network::Unix {
        return bind_unix(addr).map(|l| (Listener::Unix(l), None));
    }
    let sa = resolve(addr)?;
    let sock = RawSocket::new(Domain::for_address(sa), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if sa.is_ipv6() {
        sock.set_only_v6(addr.network == Network::Tcp6 || !addr.host.is_empty())?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&sa.into())?;
    sock.listen(4096)?;
    let std_listener: std::net::TcpListener = sock.into();
    let local = std_listener.local_addr().ok();
    Ok((
        Listener::Tcp(tokio::net::TcpListener::from_std(std_listener)?),
        local,
    ))
}

fn resolve(addr: &ListenAddr) -> std::io::Result<SocketAddr> {
    let any6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), addr.port);
    let any4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port);
    if addr.host.is_empty() {
        return Ok(match addr.network {
            Network::Tcp4 => any4,
            Network::Tcp6 => any6,
            _ if ipv6_available() => any6,
            _ => any4,
        });
    }
    let want = |a: &SocketAddr| match addr.network {
        Network::Tcp4 => a.is_ipv4(),
        Network::Tcp6 => a.is_ipv6(),
        _ => true,
    };
    (addr.host.as_str(), addr.port)
        .to_socket_addrs()?
        .find(want)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no address of the right family",
            )
        })
}

fn ipv6_available() -> bool {
    RawSocket::new(Domain::IPV6, Type::STREAM, None).is_ok()
}

fn bind_unix(addr: &ListenAddr) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let path = std::path::Path::new(&addr.host);
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let in_use = std::os::unix::net::UnixStream::connect(path).is_ok();
        if !meta.file_type().is_socket() || in_use {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "address already in use",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let l = std::os::unix::net::UnixListener::bind(path)?;
    l.set_nonblocking(true)?;
    if let Some(mode) = addr.mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    tokio::net::UnixListener::from_std(l)
}
