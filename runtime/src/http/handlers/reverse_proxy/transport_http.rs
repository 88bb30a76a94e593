//! `http.reverse_proxy.transport.http`: HTTP/1.1 with keep-alive, HTTP/2
//! over TLS (ALPN) and h2c, TLS to upstreams, timeouts (dial, response
//! header, read, write, `expect_continue_timeout`), keep-alive settings,
//! PROXY protocol, a local address, forward proxies (`network_proxy`, in
//! `forward_proxy`) and transparent gzip (`compression`).
//! An HTTP/1.1 connection is our own (`h1`), driven by the requests that
//! use it, and handed to hyper's client for what that does not cover;
//! HTTP/2 ones are hyper's, driven by a task. Idle ones wait in each
//! upstream's lock-free queue (`pool`). Sending a request is in `send`;
//! the JSON model and its provisioning are in `http_config`.

use super::dial::{dial, DialError, DialOpts};
use super::forward_proxy::ForwardProxy;
use super::h1::{H1Conn, H1Error, Limits, DEFAULT_MAX_HEAD};
use super::pool::{HyperSender, IdleConns, PoolLimits, Sender};
use super::stream::UpStream;
use super::tls::server_name;
use super::upstreams::{Dial, DialAddr, Upstream};
use crate::tls::renegotiation::watch::Watched;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use super::http_config::HttpTransportConfig;

/// Why a round trip failed.
#[derive(Debug, thiserror::Error)]
pub enum RtError {
    #[error(transparent)]
    Dial(#[from] DialError),
    #[error("TLS handshake with {0}: {1}")]
    Tls(String, std::io::Error),
    #[error("upstream response header timeout")]
    Timeout,
    #[error("upstream: {0}")]
    Http(#[from] hyper::Error),
    #[error(transparent)]
    H1(#[from] H1Error),
    #[error("{0}")]
    Other(String),
}

/// A connection taken for one request, with what it takes to dial anew.
pub struct Conn {
    pub(super) sender: Sender,
    pub(super) origin: Origin,
}

/// Where a connection came from: its pool, and the client address (for a
/// PROXY header) and server name it was dialled with.
pub struct Origin {
    pub(super) idle: IdleConns,
    pub(super) client: SocketAddr,
    pub(super) sni: Option<String>,
}

/// Provisioned TLS settings.
pub struct Tls {
    pub h1: Arc<rustls::ClientConfig>,
    pub both: Arc<rustls::ClientConfig>,
    pub server_name: String,
    /// `server_name` with placeholders, rendered per request (a
    /// connection keeps the name it was opened with, as Caddy's).
    pub server_name_template: Option<crate::http::replacer::Template>,
    pub except_ports: Vec<u16>,
    pub handshake_timeout: Option<Duration>,
    /// `renegotiation` `once` or `freely`: OpenSSL instead of rustls.
    pub renegotiating: Option<Renegotiating>,
}

/// The OpenSSL clients of a transport that allows renegotiation.
pub struct Renegotiating {
    pub client: crate::tls::renegotiation::Client,
    /// `client_certificate_automate`: the name, and the `tls` app whose
    /// newest certificate for it each handshake presents.
    pub automate: Option<(String, Arc<crate::tls::TlsState>)>,
}

/// A provisioned HTTP transport.
pub struct HttpTransport {
    pub(super) opts: DialOpts,
    pub(super) tls: Option<Tls>,
    pub(super) h1: bool,
    pub(super) h2: bool,
    pub(super) h2c: bool,
    pub(super) keepalive: bool,
    pub(super) idle_timeout: Duration,
    pub limits: PoolLimits,
    pub(super) header_timeout: Option<Duration>,
    pub(super) expect_timeout: Option<Duration>,
    pub(super) compression: bool,
    pub(super) max_header: Option<usize>,
    pub(super) read_buf: Option<usize>,
    pub(super) dynamic: Mutex<HashMap<String, IdleConns>>,
    /// A forward proxy to reach upstreams through (`network_proxy`).
    pub(super) proxy: Option<Arc<ForwardProxy>>,
}

impl HttpTransport {
    /// Whether requests to `port` go over TLS.
    pub fn uses_tls(&self, addr: &DialAddr) -> bool {
        match (&self.tls, addr) {
            (Some(t), DialAddr::Tcp { port, .. }) => !t.except_ports.contains(port),
            (Some(_), DialAddr::Unix(_)) => true,
            _ => false,
        }
    }

    fn idle_for(&self, up: &Upstream, addr: &DialAddr) -> IdleConns {
        if let (Dial::Static(_), true) = (&up.dial, up.own_pool) {
            return up.idle.clone();
        }
        let mut m = self.dynamic.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(addr.pool_key())
            .or_insert_with(|| IdleConns::new(&self.limits))
            .clone()
    }

    /// A connection to `addr`: an idle one, or a new one (dial errors
    /// happen here, before the request is committed). A protocol
    /// `upgrade` needs HTTP/1.1: where HTTP/2 could be chosen, it gets a
    /// new connection that offers only HTTP/1.1 (as Caddy's transport
    /// does for WebSockets). `now`: the request's start, which an idle
    /// connection's age is counted to (one clock read fewer).
    pub async fn sender(
        &self,
        up: &Upstream,
        addr: &DialAddr,
        client: SocketAddr,
        upgrade: bool,
        sni: Option<&str>,
        now: std::time::Instant,
    ) -> Result<Conn, RtError> {
        let idle = self.idle_for(up, addr);
        let tls = self.uses_tls(addr);
        let conn = |sender| Conn {
            sender,
            origin: Origin {
                idle: idle.clone(),
                client,
                sni: sni.map(String::from),
            },
        };
        if upgrade && ((tls && self.h2) || self.h2c) {
            // Dialling is rare next to reuse: its large future is boxed, so the
            // request's own future stays small.
            let s = Box::pin(self.connect(addr, tls, client, &idle, true, sni)).await?;
            return Ok(conn(s));
        }
        if self.keepalive {
            if let Some(s) = idle.checkout(self.idle_timeout, now) {
                return Ok(conn(s));
            }
        }
        let sender = Box::pin(self.connect(addr, tls, client, &idle, false, sni)).await?;
        if let (Sender::H2(s), true) = (&sender, self.keepalive) {
            // An HTTP/2 connection is shared: later requests find it idle.
            idle.put(Sender::H2(s.clone()));
        }
        Ok(conn(sender))
    }

    /// A new connection (for health checks), outside the pool.
    pub async fn connect_fresh(
        &self,
        addr: &DialAddr,
        client: SocketAddr,
    ) -> Result<Conn, RtError> {
        let tls = self.uses_tls(addr);
        let idle = IdleConns::new(&PoolLimits::default());
        Ok(Conn {
            sender: self.connect(addr, tls, client, &idle, false, None).await?,
            origin: Origin {
                idle,
                client,
                sni: None,
            },
        })
    }

    /// A new HTTP/1.1 connection of our own to `addr`, for a request whose
    /// kept-alive connection was found closed.
    pub(super) async fn redial(&self, addr: &DialAddr, r: &Origin) -> Result<Box<H1Conn>, RtError> {
        let tls = self.uses_tls(addr);
        let sni = r.sni.as_deref();
        match self
            .connect(addr, tls, r.client, &r.idle, true, sni)
            .await?
        {
            Sender::Own(c) => Ok(c),
            _ => Err(RtError::Other("upstream redial: not HTTP/1.1".into())),
        }
    }

    async fn connect(
        &self,
        addr: &DialAddr,
        tls: bool,
        client: SocketAddr,
        pool: &IdleConns,
        h1_only: bool,
        sni: Option<&str>,
    ) -> Result<Sender, RtError> {
        let permit = pool.permit().await;
        let raw = match &self.proxy {
            Some(p) => p.connect(addr, &self.opts, client, tls || self.h2c).await?,
            None => dial(addr, &self.opts, client).await?,
        };
        let (io, h2) = match (&self.tls, tls) {
            (Some(t), true) => self.handshake(t, addr, raw, h1_only, sni).await?,
            _ => (UpStream::plain(raw, &self.opts), self.h2c && !h1_only),
        };
        if h2 {
            let (s, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(TokioIo::new(io))
                .await?;
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
            return Ok(Sender::H2(s));
        }
        let limits = Limits {
            max_head: self.max_header.unwrap_or(DEFAULT_MAX_HEAD),
            read_exact: self.read_buf,
        };
        Ok(Sender::Own(Box::new(H1Conn::new(io, limits, permit))))
    }

    /// Hands one of our connections to hyper's client, for a request our
    /// own exchange does not cover (see `h1`).
    pub(super) async fn to_hyper(&self, conn: Box<H1Conn>) -> Result<HyperSender, RtError> {
        let (io, permit) = conn.into_parts();
        let mut b = hyper::client::conn::http1::Builder::new();
        if let Some(m) = self.max_header {
            // hyper's buffer is 8 KiB at least; our own exchange holds the
            // exact limit.
            b.max_buf_size(m.max(8192));
        }
        if let Some(r) = self.read_buf {
            b.read_buf_exact_size(Some(r));
        }
        let (s, conn) = b.handshake(TokioIo::new(io)).await?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
            drop(permit);
        });
        Ok(HyperSender::H1(s))
    }

    async fn handshake(
        &self,
        t: &Tls,
        addr: &DialAddr,
        raw: super::dial::Raw,
        h1_only: bool,
        sni: Option<&str>,
    ) -> Result<(UpStream, bool), RtError> {
        let host = match addr {
            DialAddr::Tcp { host, .. } => &**host,
            DialAddr::Unix(_) => "localhost",
        };
        // A templated name not rendered (health checks) falls back to the
        // dial host.
        let configured = match (&t.server_name_template, sni) {
            (Some(_), Some(rendered)) => rendered,
            (Some(_), None) => "",
            (None, _) => &t.server_name,
        };
        let name = if configured.is_empty() {
            host
        } else {
            configured
        };
        let checked = server_name(name).map_err(RtError::Other)?;
        let both = self.h2 && self.h1 && !h1_only;
        if let Some(r) = &t.renegotiating {
            return self.handshake_openssl(t, r, addr, name, raw, both).await;
        }
        let cfg = if both { &t.both } else { &t.h1 };
        let connector = tokio_rustls::TlsConnector::from(cfg.clone());
        // rustls ignores a server's request to renegotiate (and the
        // server waits for an answer that never comes); the connection
        // fails on it instead, as Go's does with `never`.
        let fut = connector.connect(checked, Watched::never(raw));
        let mut stream = within_handshake_timeout(t, addr, fut).await?;
        stream.get_mut().0.records.established();
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok((UpStream::tls(stream, &self.opts), h2))
    }

    /// The handshake through OpenSSL, for `renegotiation` once or freely.
    async fn handshake_openssl(
        &self,
        t: &Tls,
        r: &Renegotiating,
        addr: &DialAddr,
        name: &str,
        raw: super::dial::Raw,
        both: bool,
    ) -> Result<(UpStream, bool), RtError> {
        let cert = r.automate.as_ref().and_then(|(name, state)| {
            let c = state.cache.lookup(name, |c| c.pem.is_some());
            if c.is_none() {
                tracing::warn!(%name, "no managed client certificate for the upstream handshake");
            }
            c
        });
        let pem = cert
            .as_ref()
            .and_then(|c| c.pem.as_ref())
            .map(|(chain, key)| (chain.as_str(), key.as_str()));
        let alpn: &[u8] = if both {
            b"\x02h2\x08http/1.1"
        } else {
            b"\x08http/1.1"
        };
        let fut = r.client.connect(name, raw, alpn, pem);
        let stream = within_handshake_timeout(t, addr, fut).await?;
        let h2 = stream.ssl().selected_alpn_protocol() == Some(b"h2");
        Ok((UpStream::renegotiating(stream, &self.opts), h2))
    }
}

/// Runs a TLS handshake within the transport's `handshake_timeout`; a
/// failure, or running out of time, names the upstream.
async fn within_handshake_timeout<T>(
    t: &Tls,
    addr: &DialAddr,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, RtError> {
    match t.handshake_timeout {
        Some(d) => tokio::time::timeout(d, fut)
            .await
            .map_err(|_| RtError::Tls(addr.hostport(), std::io::ErrorKind::TimedOut.into()))?,
        None => fut.await,
    }
    .map_err(|e| RtError::Tls(addr.hostport(), e))
}
