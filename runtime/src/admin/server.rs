//! The admin listeners and their connections (hyper, HTTP/1.1): the local
//! endpoint, and the remote one over mutual TLS (`remote.rs`).
//!
//! The admin socket is bound through a listener pool of its own, so it gets
//! the same address syntax and unix-socket handling as the HTTP servers
//! (`unix//path` defaults to file mode 0600). Dropping an [`AdminServer`]
//! releases its lease: the accept loop ends and each connection finishes
//! its request, then closes.

use super::origin::Checks;
use super::remote::Remote;
use super::{routes, Inner};
use crate::config::AdminConfig;
use crate::error::Error;
use crate::listeners::{Lease, ListenAddr, Listener, Network, Pool, Socket};
use arc_swap::ArcSwap;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// A bound admin listener, not serving yet.
pub struct Bound {
    listen: String,
    addr: ListenAddr,
    lease: Lease,
}

/// A serving admin server.
pub struct AdminServer {
    /// The listen address as configured (compared across reloads).
    pub listen: String,
    /// Where it listens: `127.0.0.1:2019` or `unix//path`.
    pub address: String,
    addr: ListenAddr,
    checks: Arc<ArcSwap<Checks>>,
    _lease: Lease,
}

/// Binds the admin listener for `addr` (configured as `listen`), or takes
/// the socket a previous process handed over in `adopted` (an upgrade).
pub fn bind(listen: &str, mut addr: ListenAddr, adopted: &Pool) -> Result<Bound, Error> {
    if addr.network == Network::Unix && addr.mode.is_none() {
        addr.mode = Some(0o600);
    }
    let pool = Pool::default();
    if let Some(socket) = adopted.take_adopted(&addr.key()) {
        pool.adopt(addr.key(), socket);
    }
    let lease = pool.obtain(&addr)?;
    Ok(Bound {
        listen: listen.to_string(),
        addr,
        lease,
    })
}

impl Bound {
    /// Starts serving with the origin checks of `cfg`.
    pub fn start(self, inner: Arc<Inner>, cfg: Option<&AdminConfig>) -> AdminServer {
        let socket = self.lease.socket.clone();
        let checks = Arc::new(ArcSwap::from_pointee(Checks::new(
            &self.addr,
            socket.local,
            cfg,
        )));
        let address = match socket.local {
            Some(l) => l.to_string(),
            None => format!("unix/{}", self.addr.host),
        };
        tracing::info!(address = %address, "admin endpoint started");
        tokio::spawn(accept_loop(socket, inner, checks.clone()));
        AdminServer {
            listen: self.listen,
            address,
            addr: self.addr,
            checks,
            _lease: self.lease,
        }
    }
}

/// A serving remote admin endpoint (`remote.rs`).
pub struct RemoteServer {
    /// The listen address as configured (compared across reloads).
    pub listen: String,
    pub address: String,
    settings: Arc<ArcSwap<Remote>>,
    _lease: Lease,
}

impl RemoteServer {
    /// Applies the access controls of a new config (to new connections).
    pub fn set(&self, remote: Arc<Remote>) {
        self.settings.store(remote);
    }
}

impl Bound {
    /// Starts serving the remote endpoint `remote`.
    pub fn start_remote(self, inner: Arc<Inner>, remote: Arc<Remote>) -> RemoteServer {
        let socket = self.lease.socket.clone();
        let address = socket.local.map(|l| l.to_string()).unwrap_or_default();
        tracing::info!(target: "admin.remote", address = %address, "secure admin remote control endpoint started");
        let settings = Arc::new(ArcSwap::new(remote));
        tokio::spawn(remote_accept_loop(socket, inner, settings.clone()));
        RemoteServer {
            listen: self.listen,
            address,
            settings,
            _lease: self.lease,
        }
    }
}

async fn remote_accept_loop(
    socket: Arc<Socket>,
    inner: Arc<Inner>,
    settings: Arc<ArcSwap<Remote>>,
) {
    let Some(owned) = socket.take_listener() else {
        return;
    };
    let Listener::Tcp(listener) = &*owned else {
        tracing::error!(target: "admin.remote", listener = %socket.key, "the remote admin endpoint listens on TCP only");
        return;
    };
    let mut stop = socket.stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let (inner, remote) = (inner.clone(), settings.load_full());
                tokio::spawn(serve_remote(tcp, peer, inner, remote, socket.stop.clone()));
            }
            Err(e) => {
                tracing::error!(target: "admin.remote", error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One remote connection: the TLS handshake (a client certificate that an
/// access entry allows, or no connection), then each request held to that
/// entry's permissions.
async fn serve_remote(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    inner: Arc<Inner>,
    remote: Arc<Remote>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(remote.tls.clone());
    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(target: "admin.remote", %peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let chain = tls.get_ref().1.peer_certificates().unwrap_or_default();
    let Some(index) = remote.access_of(chain) else {
        return;
    };
    let checks = Arc::new(Checks::remote());
    let counted = inner.clone();
    let _open = counted.conns.enter();
    let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let (inner, checks, remote) = (inner.clone(), checks.clone(), remote.clone());
        async move {
            if let Err(m) = remote.permit(index, req.method().as_str(), req.uri().path()) {
                let e = super::ApiError::new(http::StatusCode::FORBIDDEN, m);
                return Ok::<_, Infallible>(routes::error_response(&e));
            }
            Ok(routes::handle(inner, checks, Some(peer), req).await)
        }
    });
    serve_http1(tls, svc, stop).await;
}

impl AdminServer {
    /// The listening socket.
    pub fn socket(&self) -> Arc<Socket> {
        self._lease.socket.clone()
    }

    /// Applies the origin settings of a new config.
    pub fn set_checks(&self, cfg: Option<&AdminConfig>) {
        let local = self.address.parse::<SocketAddr>().ok();
        self.checks
            .store(Arc::new(Checks::new(&self.addr, local, cfg)));
    }
}

async fn accept_loop(socket: Arc<Socket>, inner: Arc<Inner>, checks: Arc<ArcSwap<Checks>>) {
    let Some(listener) = socket.take_listener() else {
        return;
    };
    let mut stop = socket.stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            a = accept(&listener) => a,
        };
        let stop = socket.stop.clone();
        let (inner, checks) = (inner.clone(), checks.clone());
        match accepted {
            Ok((Io::Tcp(s), remote)) => {
                tokio::spawn(serve_conn(s, remote, inner, checks, stop));
            }
            Ok((Io::Unix(s), remote)) => {
                tokio::spawn(serve_conn(s, remote, inner, checks, stop));
            }
            Err(e) => {
                tracing::error!(error = %e, "admin endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    tracing::info!(listener = %socket.key, "admin endpoint stopped");
}

enum Io {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(l: &Listener) -> std::io::Result<(Io, Option<SocketAddr>)> {
    match l {
        Listener::Tcp(t) => t.accept().await.map(|(s, a)| (Io::Tcp(s), Some(a))),
        Listener::Unix(u) => u.accept().await.map(|(s, _)| (Io::Unix(s), None)),
        Listener::Udp(_) => Err(std::io::Error::other(
            "the admin API does not listen on UDP",
        )),
    }
}

async fn serve_conn<I>(
    io: I,
    remote: Option<SocketAddr>,
    inner: Arc<Inner>,
    checks: Arc<ArcSwap<Checks>>,
    stop: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let counted = inner.clone();
    let _open = counted.conns.enter();
    let svc = hyper::service::service_fn(move |req| {
        let (inner, checks) = (inner.clone(), checks.load_full());
        async move { Ok::<_, Infallible>(routes::handle(inner, checks, remote, req).await) }
    });
    serve_http1(io, svc, stop).await;
}

/// Serves admin requests on one connection until it ends, or until the
/// listener stops (then the request in flight finishes, within 10 s).
async fn serve_http1<I, S>(io: I, svc: S, mut stop: tokio::sync::watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<http_body_util::Full<bytes::Bytes>>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), svc);
    let mut conn = pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
}
