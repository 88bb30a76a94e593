//! `http.reverse_proxy.transport.http`: HTTP/1.1 with keep-alive, HTTP/2
//! over TLS (ALPN) and h2c, TLS to upstreams, timeouts (dial, response
//! header, read, write), keep-alive settings, PROXY protocol and a local
//! address. Connections are hyper client connections driven by tasks;
//! idle ones wait in each upstream's lock-free queue.

use super::dial::{dial, DialError, DialOpts, UpStream};
use super::pool::{IdleConns, PooledBody, Sender};
use super::respond::UpBody;
use super::tls::{client_config, server_name, TlsConfig};
use super::upstreams::{Dial, DialAddr, Upstream};
use crate::config::CaddyDuration;
use crate::error::Error;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The JSON of the HTTP transport.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpTransportConfig {
    pub resolver: Option<Value>,
    pub tls: Option<TlsConfig>,
    pub keep_alive: Option<KeepAliveConfig>,
    pub compression: Option<bool>,
    #[serde(default)]
    pub max_conns_per_host: usize,
    #[serde(default)]
    pub proxy_protocol: String,
    #[serde(default)]
    pub forward_proxy_url: String,
    pub network_proxy: Option<Map<String, Value>>,
    pub dial_timeout: Option<CaddyDuration>,
    pub dial_fallback_delay: Option<super::config::SignedDuration>,
    pub response_header_timeout: Option<CaddyDuration>,
    pub expect_continue_timeout: Option<CaddyDuration>,
    #[serde(default)]
    pub max_response_header_size: i64,
    #[serde(default)]
    pub write_buffer_size: usize,
    #[serde(default)]
    pub read_buffer_size: usize,
    pub read_timeout: Option<CaddyDuration>,
    pub write_timeout: Option<CaddyDuration>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub local_address: String,
}

/// `keep_alive`.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct KeepAliveConfig {
    pub enabled: Option<bool>,
    pub probe_interval: Option<CaddyDuration>,
    #[serde(default)]
    pub max_idle_conns: usize,
    #[serde(default)]
    pub max_idle_conns_per_host: usize,
    pub idle_timeout: Option<CaddyDuration>,
}

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

struct Tls {
    h1: Arc<rustls::ClientConfig>,
    both: Arc<rustls::ClientConfig>,
    server_name: String,
    except_ports: Vec<u16>,
    handshake_timeout: Option<Duration>,
}

/// A provisioned HTTP transport.
pub struct HttpTransport {
    opts: DialOpts,
    tls: Option<Tls>,
    h1: bool,
    h2: bool,
    h2c: bool,
    keepalive: bool,
    idle_timeout: Duration,
    pub idle_cap: usize,
    header_timeout: Option<Duration>,
    max_header: Option<usize>,
    read_buf: Option<usize>,
    conn_limit: Option<Arc<tokio::sync::Semaphore>>,
    dynamic: Mutex<HashMap<String, IdleConns>>,
}

impl HttpTransport {
    /// Provisions the transport's JSON at `path`.
    pub fn provision(c: &HttpTransportConfig, path: &str) -> Result<Self, Error> {
        let not_yet =
            |f: &str| Error::config(format!("{path}.{f}"), "not implemented by bellhop yet");
        if c.resolver.is_some() {
            return Err(not_yet("resolver"));
        }
        if !c.forward_proxy_url.is_empty() {
            return Err(not_yet("forward_proxy_url"));
        }
        if c.network_proxy.is_some() {
            return Err(not_yet("network_proxy"));
        }
        let versions: Vec<&str> = if c.versions.is_empty() {
            vec!["1.1", "2"]
        } else {
            c.versions.iter().map(String::as_str).collect()
        };
        for (i, v) in versions.iter().enumerate() {
            match *v {
                "1.1" | "2" | "h2c" => {}
                "3" => return Err(not_yet(&format!("versions[{i}] (HTTP/3 to upstreams)"))),
                other => {
                    return Err(Error::config(
                        format!("{path}.versions[{i}]"),
                        format!(
                            "unsupported HTTP version: {other}, supported version: 1.1, 2, h2c, 3"
                        ),
                    ))
                }
            }
        }
        let has = |v: &str| versions.contains(&v);
        let proxy_protocol = match c.proxy_protocol.as_str() {
            "" => 0,
            "v1" => 1,
            "v2" => 2,
            other => {
                return Err(Error::config(
                    format!("{path}.proxy_protocol"),
                    format!("unexpected proxy protocol version {other:?}"),
                ))
            }
        };
        let ka = c.keep_alive.clone().unwrap_or_default();
        let d = |o: Option<CaddyDuration>| o.map(|d| d.0).filter(|d| !d.is_zero());
        let local = local_address(&c.local_address, path)?;
        let opts = DialOpts {
            timeout: d(c.dial_timeout).unwrap_or(Duration::from_secs(3)),
            local,
            keepalive_probe: Some(d(ka.probe_interval).unwrap_or(Duration::from_secs(30))),
            proxy_protocol,
            read_timeout: d(c.read_timeout),
            write_timeout: d(c.write_timeout),
        };
        let tls = match &c.tls {
            Some(t) => Some(provision_tls(t, &format!("{path}.tls"))?),
            None => None,
        };
        Ok(HttpTransport {
            opts,
            tls,
            h1: has("1.1") || !has("h2c"),
            h2: has("2"),
            h2c: has("h2c"),
            keepalive: ka.enabled.unwrap_or(true),
            idle_timeout: d(ka.idle_timeout).unwrap_or(Duration::from_secs(120)),
            idle_cap: if ka.max_idle_conns_per_host == 0 {
                32
            } else {
                ka.max_idle_conns_per_host
            },
            header_timeout: d(c.response_header_timeout),
            max_header: (c.max_response_header_size > 0)
                .then_some(c.max_response_header_size as usize),
            read_buf: (c.read_buffer_size > 0).then_some(c.read_buffer_size),
            conn_limit: (c.max_conns_per_host > 0)
                .then(|| Arc::new(tokio::sync::Semaphore::new(c.max_conns_per_host))),
            dynamic: Mutex::new(HashMap::new()),
        })
    }

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
        m.entry(addr.hostport())
            .or_insert_with(|| IdleConns::new(self.idle_cap))
            .clone()
    }

    /// A connection to `addr`: an idle one, or a new one (dial errors
    /// happen here, before the request is committed).
    pub async fn sender(
        &self,
        up: &Upstream,
        addr: &DialAddr,
        client: SocketAddr,
    ) -> Result<(Sender, IdleConns), RtError> {
        let idle = self.idle_for(up, addr);
        if self.keepalive {
            if let Some(s) = idle.checkout(self.idle_timeout) {
                return Ok((s, idle));
            }
        }
        let tls = self.uses_tls(addr);
        Ok((self.connect(addr, tls, client).await?, idle))
    }

    /// A new connection (for health checks), outside the pool.
    pub async fn connect_fresh(
        &self,
        addr: &DialAddr,
        client: SocketAddr,
    ) -> Result<(Sender, IdleConns), RtError> {
        let tls = self.uses_tls(addr);
        Ok((self.connect(addr, tls, client).await?, IdleConns::new(1)))
    }

    /// Sends `req` (origin-form URI, Host header set) on `sender`.
    pub async fn send(
        &self,
        (mut sender, idle): (Sender, IdleConns),
        addr: &DialAddr,
        mut req: http::Request<UpBody>,
    ) -> Result<http::Response<PooledBody>, RtError> {
        if let Sender::H2(_) = sender {
            to_h2_form(&mut req, self.uses_tls(addr))?;
        } else if !self.keepalive {
            req.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        let sent = sender.send(req);
        let resp = match self.header_timeout {
            Some(t) => tokio::time::timeout(t, sent)
                .await
                .map_err(|_| RtError::Timeout)??,
            None => sent.await?,
        };
        let ret = match sender {
            Sender::H1(_) if self.keepalive => Some((sender, idle)),
            _ => None,
        };
        Ok(resp.map(|b| PooledBody::new(b, ret)))
    }

    async fn connect(
        &self,
        addr: &DialAddr,
        tls: bool,
        client: SocketAddr,
    ) -> Result<Sender, RtError> {
        let permit = match &self.conn_limit {
            Some(s) => Some(
                s.clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| RtError::Other(e.to_string()))?,
            ),
            None => None,
        };
        let raw = dial(addr, &self.opts, client).await?;
        let (io, h2) = match (&self.tls, tls) {
            (Some(t), true) => self.handshake(t, addr, raw).await?,
            _ => (UpStream::plain(raw, &self.opts), self.h2c),
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
    ) -> Result<(UpStream, bool), RtError> {
        let host = match addr {
            DialAddr::Tcp { host, .. } => host.as_str(),
            DialAddr::Unix(_) => "localhost",
        };
        let name = server_name(&t.server_name, host).map_err(RtError::Other)?;
        let cfg = if self.h2 && self.h1 { &t.both } else { &t.h1 };
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

fn provision_tls(t: &TlsConfig, path: &str) -> Result<Tls, Error> {
    let mut except = Vec::new();
    for (i, p) in t.except_ports.iter().enumerate() {
        except.push(p.parse().map_err(|_| {
            Error::config(
                format!("{path}.except_ports[{i}]"),
                format!("invalid port {p:?}"),
            )
        })?);
    }
    Ok(Tls {
        h1: Arc::new(client_config(t, &[b"http/1.1"], path)?),
        both: Arc::new(client_config(t, &[b"h2", b"http/1.1"], path)?),
        server_name: t.server_name.clone(),
        except_ports: except,
        handshake_timeout: t.handshake_timeout.map(|d| d.0).filter(|d| !d.is_zero()),
    })
}

fn local_address(s: &str, path: &str) -> Result<Option<std::net::IpAddr>, Error> {
    if s.is_empty() {
        return Ok(None);
    }
    let err = |m: String| Error::config(format!("{path}.local_address"), m);
    let rest = s.strip_prefix("tcp/").unwrap_or(s);
    if rest.contains('/') {
        return Err(err(format!("{s:?}: local_address must be a TCP address")));
    }
    let host = match rest.parse::<SocketAddr>() {
        Ok(sa) => return Ok(Some(sa.ip())),
        Err(_) => rest.trim_start_matches('[').trim_end_matches(']'),
    };
    host.parse()
        .map(Some)
        .map_err(|_| err(format!("{s:?}: not an IP address")))
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
