//! `http.reverse_proxy.transport.http`: HTTP/1.1 with keep-alive, HTTP/2
//! over TLS (ALPN) and h2c, TLS to upstreams, timeouts (dial, response
//! header, read, write, `expect_continue_timeout`), keep-alive settings,
//! PROXY protocol, a local address, forward proxies (`network_proxy`, in
//! `forward_proxy`) and transparent gzip (`compression`).
//! Connections are hyper client connections driven by tasks; idle ones
//! wait in each upstream's lock-free queue. The JSON model and its
//! provisioning are in `http_config`.

use super::dial::{dial, DialError, DialOpts};
use super::forward_proxy::ForwardProxy;
use super::pool::{IdleConns, PoolLimits, PooledBody, Sender};
use super::prepare::UpBody;
use super::stream::UpStream;
use super::tls::server_name;
use super::upstreams::{Dial, DialAddr, Upstream};
use crate::http::Body;
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
    #[error("{0}")]
    Other(String),
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
    /// does for WebSockets).
    pub async fn sender(
        &self,
        up: &Upstream,
        addr: &DialAddr,
        client: SocketAddr,
        upgrade: bool,
        sni: Option<&str>,
    ) -> Result<(Sender, IdleConns), RtError> {
        let idle = self.idle_for(up, addr);
        let tls = self.uses_tls(addr);
        if upgrade && ((tls && self.h2) || self.h2c) {
            let s = self.connect(addr, tls, client, &idle, true, sni).await?;
            return Ok((s, idle));
        }
        if self.keepalive {
            if let Some(s) = idle.checkout(self.idle_timeout) {
                return Ok((s, idle));
            }
        }
        let sender = self.connect(addr, tls, client, &idle, false, sni).await?;
        if let (Sender::H2(s), true) = (&sender, self.keepalive) {
            // An HTTP/2 connection is shared: later requests find it idle.
            idle.put(Sender::H2(s.clone()));
        }
        Ok((sender, idle))
    }

    /// A new connection (for health checks), outside the pool.
    pub async fn connect_fresh(
        &self,
        addr: &DialAddr,
        client: SocketAddr,
    ) -> Result<(Sender, IdleConns), RtError> {
        let tls = self.uses_tls(addr);
        let pool = IdleConns::new(&PoolLimits::default());
        Ok((
            self.connect(addr, tls, client, &pool, false, None).await?,
            pool,
        ))
    }

    /// Sends `req` (origin-form URI, Host header set) on `sender`.
    pub async fn send(
        &self,
        (mut sender, idle): (Sender, IdleConns),
        addr: &DialAddr,
        mut req: http::Request<UpBody>,
    ) -> Result<http::Response<Body>, RtError> {
        if let Sender::H2(_) = sender {
            to_h2_form(&mut req, self.uses_tls(addr))?;
        } else {
            if !self.keepalive {
                req.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            self.expect_continue(&mut req);
            if let Some(p) = self.proxy.as_deref().filter(|p| p.absolute_form()) {
                if !self.uses_tls(addr) {
                    to_proxy_form(&mut req, addr, p)?;
                }
            }
        }
        let closing = req
            .headers()
            .get(http::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let gzip = self.compression && super::response_body::request_gzip(&mut req);
        let sent = sender.send(req);
        let resp = match self.header_timeout {
            Some(t) => tokio::time::timeout(t, sent)
                .await
                .map_err(|_| RtError::Timeout)??,
            None => sent.await?,
        };
        let ret = match sender {
            Sender::H1(_) if self.keepalive && !closing => Some((sender, idle)),
            _ => None,
        };
        let resp = resp.map(|b| Body::stream(PooledBody::new(b, ret)));
        Ok(if gzip {
            super::response_body::decode_response(resp)
        } else {
            resp
        })
    }

    /// `expect_continue_timeout`: a request with `Expect: 100-continue`
    /// sends its head, then its body only once the upstream answered
    /// `100 Continue` or the timeout passed (HTTP/1.1; without the
    /// setting the body follows at once, as in Go).
    fn expect_continue(&self, req: &mut http::Request<UpBody>) {
        let Some(timeout) = self.expect_timeout else {
            return;
        };
        let expects = req
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !expects {
            return;
        }
        let go = Arc::new(tokio::sync::Notify::new());
        let notify = go.clone();
        hyper::ext::on_informational(req, move |r| {
            if r.status() == http::StatusCode::CONTINUE {
                notify.notify_one();
            }
        });
        req.body_mut().hold_until(go, timeout);
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
        let io = TokioIo::new(io);
        if h2 {
            let (s, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(io)
                .await?;
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
            return Ok(Sender::H2(s));
        }
        let mut b = hyper::client::conn::http1::Builder::new();
        if let Some(m) = self.max_header {
            b.max_buf_size(m.max(8192));
        }
        if let Some(r) = self.read_buf {
            b.read_buf_exact_size(Some(r));
        }
        let (s, conn) = b.handshake(io).await?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
            drop(permit);
        });
        Ok(Sender::H1(s))
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
        let name = server_name(configured, host).map_err(RtError::Other)?;
        let cfg = if self.h2 && self.h1 && !h1_only {
            &t.both
        } else {
            &t.h1
        };
        let connector = tokio_rustls::TlsConnector::from(cfg.clone());
        let fut = connector.connect(name, raw);
        let stream = match t.handshake_timeout {
            Some(d) => tokio::time::timeout(d, fut)
                .await
                .map_err(|_| RtError::Tls(addr.hostport(), std::io::ErrorKind::TimedOut.into()))?,
            None => fut.await,
        }
        .map_err(|e| RtError::Tls(addr.hostport(), e))?;
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok((UpStream::tls(stream, &self.opts), h2))
    }
}

/// A request to a plain HTTP upstream by way of an HTTP proxy: the
/// absolute URI of the upstream, and the proxy's credentials.
fn to_proxy_form(
    req: &mut http::Request<UpBody>,
    addr: &DialAddr,
    p: &ForwardProxy,
) -> Result<(), RtError> {
    if let DialAddr::Unix(_) = addr {
        return Ok(());
    }
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    *req.uri_mut() = format!("http://{}{pq}", addr.hostport())
        .parse()
        .map_err(|e| RtError::Other(format!("upstream URI: {e}")))?;
    if let Some(a) = &p.authorization {
        req.headers_mut()
            .insert(http::header::PROXY_AUTHORIZATION, a.clone());
    }
    Ok(())
}

/// HTTP/2 wants an absolute URI (`:authority` from the Host header).
fn to_h2_form(req: &mut http::Request<UpBody>, tls: bool) -> Result<(), RtError> {
    let host = req
        .headers_mut()
        .remove(http::header::HOST)
        .and_then(|h| h.to_str().ok().map(String::from))
        .unwrap_or_else(|| "localhost".into());
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let scheme = if tls { "https" } else { "http" };
    *req.uri_mut() = format!("{scheme}://{host}{pq}")
        .parse()
        .map_err(|e| RtError::Other(format!("upstream URI: {e}")))?;
    *req.version_mut() = http::Version::HTTP_2;
    Ok(())
}
