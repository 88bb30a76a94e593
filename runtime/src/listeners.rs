//! The listener pool: sockets shared across configs, keyed by network
//! address and reference-counted, like Caddy's `listeners.go`/`usagepool.go`.
//!
//! A config takes a [`Lease`] on every socket it listens on. A later config
//! that listens on the same address gets a lease on the same socket, so a
//! reload never rebinds it and loses nothing from its accept queue. When the
//! last lease goes, the socket's stop signal fires: its accept loop ends,
//! the socket closes, and its connections drain.
//!
//! Sockets are made with socket2: `SO_REUSEADDR` (as Go sets it), and
//! `SO_REUSEPORT` only when the pool was made with
//! [`BindOptions::reuse_port`] (processes that belong together, the
//! workers of one `bellhop run --workers N` supervisor, which checked
//! first that nobody else owns the ports, or an upgrade hand-off), never by
//! default, so a bind never joins another process's port group silently.
//! A bind that finds the address taken names its owner (see [`owner`]).
//! `:port` listens dual-stack where IPv6 is available. `fd/N` and friends
//! use inherited sockets instead of binding (see [`inherited`]). UDP
//! sockets (HTTP/3) are pooled the same way under `udp/host:port` keys,
//! or `fdgram/N` for inherited ones ([`Pool::obtain_datagram`]), made by
//! [`Pool::obtain_udp`] (no `SO_REUSEADDR`, as Go; `SO_REUSEPORT`
//! under the same opt-in). A binary upgrade pre-seeds the pool with the
//! sockets the old process hands over (`handoff`), which are then used
//! instead of binding.

pub mod address;
pub mod handoff;
pub mod inherited;
pub mod owner;
pub mod prefixed;
pub mod proxy_protocol;
pub mod wrappers;

pub use address::{ListenAddr, Network};
pub use handoff::Inherited;

use crate::error::Error;
use crate::util::lock;
use socket2::{Domain, Protocol, Socket as RawSocket, Type};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::watch;

/// A bound, listening socket.
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
    /// A bound UDP socket (QUIC), kept as a std socket so the endpoint
    /// can be rebuilt from a duplicate of it.
    Udp(std::net::UdpSocket),
}

/// A pooled socket.
pub struct Socket {
    pub key: String,
    pub id: u64,
    /// The listener until its accept loop takes it (see
    /// [`Socket::take_listener`]); closed with the last lease otherwise.
    listener: Mutex<Slot>,
    /// `tcp`, `unix` or `udp`.
    kind: &'static str,
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
    /// Set when the socket was handed to a new process (binary upgrade):
    /// its connections here close gracefully as they go idle.
    handed_off: AtomicBool,
}

/// Where a socket's listener is: with the socket until an accept loop
/// takes it; then only the loop holds it (the socket keeps a weak
/// reference, so the port closes as soon as the loop ends, however long
/// connections keep the socket itself alive).
enum Slot {
    Idle(Listener),
    Taken(Weak<Listener>),
    Closed,
}

/// TCP keep-alive probing of a listener's accepted connections (Linux
/// copies it from the listening socket to each one it accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Quiet time before the first probe.
    pub idle: std::time::Duration,
    /// Time between probes.
    pub interval: std::time::Duration,
    /// Unanswered probes before the connection is dropped.
    pub count: u32,
}

impl Listener {
    /// Sets the TCP keep-alive its connections inherit (a no-op on unix
    /// and UDP sockets).
    pub fn set_keepalive(&self, k: Keepalive) -> std::io::Result<()> {
        let Listener::Tcp(l) = self else {
            return Ok(());
        };
        let s = socket2::SockRef::from(l);
        s.set_keepalive(true)?;
        s.set_tcp_keepalive(
            &socket2::TcpKeepalive::new()
                .with_time(k.idle)
                .with_interval(k.interval)
                .with_retries(k.count),
        )
    }

    /// `tcp`, `unix` or `udp`.
    pub fn kind(&self) -> &'static str {
        match self {
            Listener::Tcp(_) => "tcp",
            Listener::Unix(_) => "unix",
            Listener::Udp(_) => "udp",
        }
    }

    /// The listening socket's descriptor.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) => l.as_fd(),
            Listener::Udp(u) => u.as_fd(),
        }
    }
}

impl Socket {
    /// Takes the listener for an accept loop (once); the socket counts as
    /// closed when the returned guard drops.
    pub fn take_listener(&self) -> Option<OwnedListener<'_>> {
        let mut slot = lock(&self.listener);
        let Slot::Idle(_) = &*slot else {
            return None;
        };
        let Slot::Idle(l) = std::mem::replace(&mut *slot, Slot::Closed) else {
            unreachable!("checked above");
        };
        let l = Arc::new(l);
        *slot = Slot::Taken(Arc::downgrade(&l));
        Some(OwnedListener {
            listener: Some(l),
            closed: &self.closed,
        })
    }

    /// Runs `f` on the listener while it is open (`None` once closed).
    pub fn with_listener<R>(&self, f: impl FnOnce(&Listener) -> R) -> Option<R> {
        match &*lock(&self.listener) {
            Slot::Idle(l) => Some(f(l)),
            Slot::Taken(w) => w.upgrade().map(|l| f(&l)),
            Slot::Closed => None,
        }
    }

    /// What kind of socket this is: `tcp`, `unix` or `udp`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Closes the listener if no accept loop took it.
    fn close_idle(&self) {
        let mut slot = lock(&self.listener);
        if let Slot::Idle(_) = &*slot {
            *slot = Slot::Closed;
            drop(slot);
            self.closed.send_replace(true);
        }
    }

    /// Waits until the listener is closed, so its port can be bound again.
    pub async fn wait_closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// A listener owned by its accept loop; marks the socket closed on drop.
pub struct OwnedListener<'a> {
    listener: Option<Arc<Listener>>,
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
    /// How sockets are bound (fixed when the pool is made).
    options: BindOptions,
    /// Sockets handed over by another process, not leased yet.
    adopted: Mutex<HashMap<String, Inherited>>,
}

/// How a pool binds its sockets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BindOptions {
    /// Set `SO_REUSEPORT` on TCP (and UDP) sockets, so processes that
    /// belong together (workers of one supervisor, the two sides of an
    /// upgrade) each bind the same address with their own accept queue.
    /// Off by default: then a taken address is an error naming its owner.
    /// With it on, a foreign process that also set `SO_REUSEPORT` (and
    /// runs as the same user) can share the port, so turn it on only
    /// for sockets whose other holders you started.
    pub reuse_port: bool,
}

/// Binds a socket for an address: the socket and where it is bound.
type BindFn = fn(&ListenAddr, &BindOptions) -> Result<(Listener, Option<SocketAddr>), Error>;

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
                self.socket.close_idle();
            }
        }
    }
}

impl Pool {
    /// A pool that binds with `options` (`Pool::default()` binds with
    /// the defaults: no `SO_REUSEPORT`).
    pub fn with_options(options: BindOptions) -> Pool {
        Pool(Arc::new(PoolInner {
            options,
            ..Default::default()
        }))
    }

    /// How this pool binds.
    pub fn options(&self) -> BindOptions {
        self.0.options
    }

    /// A lease on the socket for `addr`, binding it if nobody holds it.
    /// Must be called within a Tokio runtime.
    pub fn obtain(&self, addr: &ListenAddr) -> Result<Lease, Error> {
        self.obtain_with(addr, addr.key(), bind)
    }

    /// A lease on the UDP socket for `addr`'s host and port (HTTP/3),
    /// binding it if nobody holds it. `addr` must name a fixed port.
    pub fn obtain_udp(&self, addr: &ListenAddr) -> Result<Lease, Error> {
        let key = udp_key(addr);
        if addr.port == 0 {
            return Err(Error::Listen {
                address: key,
                message: "a UDP socket needs the port of its TCP listener".into(),
            });
        }
        self.obtain_with(addr, key, bind_udp_addr)
    }

    fn obtain_with(&self, addr: &ListenAddr, key: String, bind: BindFn) -> Result<Lease, Error> {
        let mut map = self.0.sockets.lock().unwrap_or_else(|e| e.into_inner());
        // Port 0 asks for a fresh port every time: never shared.
        if addr.port != 0 || addr.network == Network::Unix || addr.network.is_inherited() {
            if let Some(entry) = map.get_mut(&key) {
                entry.leases += 1;
                return Ok(Lease {
                    pool: self.clone(),
                    socket: entry.socket.clone(),
                });
            }
        }
        let adopted = match addr.port != 0 || addr.network == Network::Unix {
            true => self.take_adopted(&key),
            false => None,
        };
        let (listener, local) = match adopted {
            Some(inherited) => inherited.into_listener().map_err(|e| Error::Listen {
                address: key.clone(),
                message: e.to_string(),
            })?,
            None => bind(addr, &self.options())?,
        };
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
            kind: listener.kind(),
            listener: Mutex::new(Slot::Idle(listener)),
            closed: watch::channel(false).0,
            local,
            stop,
            stop_tx,
            serving: AtomicBool::new(false),
            grace_ms: AtomicU64::new(u64::MAX),
            handed_off: AtomicBool::new(false),
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

fn bind(addr: &ListenAddr, opts: &BindOptions) -> Result<(Listener, Option<SocketAddr>), Error> {
    let io_err = |e: std::io::Error| Error::Listen {
        address: addr.key(),
        message: e.to_string(),
    };
    if addr.network == Network::Unix {
        return bind_unix(addr)
            .map(|l| (Listener::Unix(l), None))
            .map_err(io_err);
    }
    if addr.network.is_inherited() {
        return inherited::stream(addr).map_err(io_err);
    }
    let sa = resolve(addr).map_err(io_err)?;
    bind_tcp(addr, sa, opts).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => in_use(owner::Proto::Tcp, sa),
        _ => io_err(e),
    })
}

/// The error for an address that is taken: `listen tcp 127.0.0.1:8443:
/// address already in use by pid 4242 (caddy run …); stop it or pick
/// another port`.
fn in_use(proto: owner::Proto, sa: SocketAddr) -> Error {
    Error::Listen {
        address: format!("{} {sa}", proto.name()),
        message: owner::in_use_message(proto, sa),
    }
}

/// Binds a UDP socket (for HTTP/3) on `sa` with `opts`, non-blocking; a
/// taken address is an error naming its owner, as for TCP.
pub fn bind_udp(sa: SocketAddr, opts: &BindOptions) -> Result<std::net::UdpSocket, Error> {
    let bind = || -> std::io::Result<std::net::UdpSocket> {
        let sock = RawSocket::new(Domain::for_address(sa), Type::DGRAM, Some(Protocol::UDP))?;
        if opts.reuse_port {
            sock.set_reuse_port(true)?;
        }
        if sa.is_ipv6() {
            sock.set_only_v6(!sa.ip().is_unspecified())?;
        }
        sock.set_nonblocking(true)?;
        sock.bind(&sa.into())?;
        Ok(sock.into())
    };
    bind().map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => in_use(owner::Proto::Udp, sa),
        _ => Error::Listen {
            address: format!("udp {sa}"),
            message: e.to_string(),
        },
    })
}

/// Whether another socket holds `addr`, over TCP or (`udp`) over the UDP
/// port beside it (HTTP/3): binds it exactly as the pool would, but
/// without `SO_REUSEPORT` and without listening, and lets go at once.
/// Linux refuses that bind when any other socket holds the address,
/// including another process's `SO_REUSEPORT` group, so a taken address is
/// the pool's error naming its owner. For the workers' supervisor, which
/// checks before its workers join a port group of their own.
pub fn probe(addr: &ListenAddr, udp: bool) -> Result<(), Error> {
    let io_err = |e: std::io::Error| Error::Listen {
        address: if udp { udp_key(addr) } else { addr.key() },
        message: e.to_string(),
    };
    let sa = resolve(addr).map_err(io_err)?;
    let opts = BindOptions::default();
    if udp {
        return bind_udp(sa, &opts).map(drop);
    }
    tcp_socket(addr, sa, &opts)
        .map(drop)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => in_use(owner::Proto::Tcp, sa),
            _ => io_err(e),
        })
}

/// A TCP socket for `addr` bound on `sa` as the pool binds it, not yet
/// listening.
fn tcp_socket(addr: &ListenAddr, sa: SocketAddr, opts: &BindOptions) -> std::io::Result<RawSocket> {
    let sock = RawSocket::new(Domain::for_address(sa), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if opts.reuse_port {
        sock.set_reuse_port(true)?;
    }
    if sa.is_ipv6() {
        sock.set_only_v6(addr.network == Network::Tcp6 || !addr.host.is_empty())?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&sa.into())?;
    Ok(sock)
}

fn bind_tcp(
    addr: &ListenAddr,
    sa: SocketAddr,
    opts: &BindOptions,
) -> std::io::Result<(Listener, Option<SocketAddr>)> {
    let sock = tcp_socket(addr, sa, opts)?;
    sock.listen(4096)?;
    let std_listener: std::net::TcpListener = sock.into();
    let local = std_listener.local_addr().ok();
    Ok((
        Listener::Tcp(tokio::net::TcpListener::from_std(std_listener)?),
        local,
    ))
}

/// The pool key of the UDP socket beside a TCP address.
pub fn udp_key(addr: &ListenAddr) -> String {
    let tcp = addr.key();
    match tcp.split_once('/') {
        Some((net, rest)) => format!("{}/{rest}", net.replacen("tcp", "udp", 1)),
        None => format!("udp/{tcp}"),
    }
}

/// The pool's UDP binder: `addr`'s host and port over UDP.
fn bind_udp_addr(
    addr: &ListenAddr,
    opts: &BindOptions,
) -> Result<(Listener, Option<SocketAddr>), Error> {
    if addr.network == Network::Unix || addr.network.is_inherited() {
        return Err(Error::Listen {
            address: udp_key(addr),
            message:
                "HTTP/3 needs a UDP address (a unix socket or an inherited stream socket has none)"
                    .into(),
        });
    }
    let sa = resolve(addr).map_err(|e| Error::Listen {
        address: udp_key(addr),
        message: e.to_string(),
    })?;
    let udp = bind_udp(sa, opts)?;
    let local = udp.local_addr().ok();
    Ok((Listener::Udp(udp), local))
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
