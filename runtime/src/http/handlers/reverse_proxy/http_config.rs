//! The JSON of `http.reverse_proxy.transport.http` and its provisioning:
//! every field is either turned into a setting of [`HttpTransport`] or
//! rejected with its JSON path (HTTP/3 to upstreams, for one).

use super::config::SignedDuration;
use super::dial::{fallback_delay, DialOpts};
use super::pool::{IdleBudget, PoolLimits};
use super::resolver::{DnsResolver, Family};
use super::tls::{clients, TlsConfig};
use super::transport_http::{HttpTransport, Renegotiating, Tls};
use crate::config::CaddyDuration;
use crate::error::Error;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The JSON of the HTTP transport.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpTransportConfig {
    pub(crate) resolver: Option<Value>,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) keep_alive: Option<KeepAliveConfig>,
    pub(crate) compression: Option<bool>,
    #[serde(default)]
    pub(crate) max_conns_per_host: usize,
    #[serde(default)]
    pub(crate) proxy_protocol: String,
    #[serde(default)]
    pub(crate) forward_proxy_url: String,
    pub(crate) network_proxy: Option<Map<String, Value>>,
    pub(crate) dial_timeout: Option<CaddyDuration>,
    pub(crate) dial_fallback_delay: Option<SignedDuration>,
    pub(crate) response_header_timeout: Option<CaddyDuration>,
    pub(crate) expect_continue_timeout: Option<CaddyDuration>,
    #[serde(default)]
    pub(crate) max_response_header_size: i64,
    #[serde(default)]
    pub(crate) write_buffer_size: usize,
    #[serde(default)]
    pub(crate) read_buffer_size: usize,
    pub(crate) read_timeout: Option<CaddyDuration>,
    pub(crate) write_timeout: Option<CaddyDuration>,
    #[serde(default)]
    pub(crate) versions: Vec<String>,
    #[serde(default)]
    pub(crate) local_address: String,
}

/// `keep_alive`.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct KeepAliveConfig {
    pub(crate) enabled: Option<bool>,
    pub(crate) probe_interval: Option<CaddyDuration>,
    #[serde(default)]
    pub(crate) max_idle_conns: usize,
    #[serde(default)]
    pub(crate) max_idle_conns_per_host: usize,
    pub(crate) idle_timeout: Option<CaddyDuration>,
}

/// Idle connections kept per upstream when `max_idle_conns_per_host` is
/// unset. Caddy keeps 32; with more requests in flight than that, every
/// response beyond the 32nd closes its connection and a later request
/// opens a new one (at 64 in flight, one connect per ~27 requests, a
/// third of the proxy's CPU per request). 128 matches what nginx is
/// usually given (`keepalive 64` per worker) and costs only idle sockets.
pub const DEFAULT_IDLE_PER_HOST: usize = 128;

fn d(o: Option<CaddyDuration>) -> Option<Duration> {
    o.map(|d| d.0).filter(|d| !d.is_zero())
}

/// Which protocols `versions` allows: (HTTP/1.1, HTTP/2 over TLS, h2c).
fn versions(c: &HttpTransportConfig, path: &str) -> Result<(bool, bool, bool), Error> {
    let versions: Vec<&str> = if c.versions.is_empty() {
        vec!["1.1", "2"]
    } else {
        c.versions.iter().map(String::as_str).collect()
    };
    for (i, v) in versions.iter().enumerate() {
        match *v {
            "1.1" | "2" | "h2c" => {}
            "3" => {
                return Err(Error::config(
                    format!("{path}.versions[{i}]"),
                    "HTTP/3 to upstreams: not implemented by bellhop yet",
                ))
            }
            other => {
                return Err(Error::config(
                    format!("{path}.versions[{i}]"),
                    format!("unsupported HTTP version: {other}, supported version: 1.1, 2, h2c, 3"),
                ))
            }
        }
    }
    let has = |v: &str| versions.contains(&v);
    Ok((has("1.1") || !has("h2c"), has("2"), has("h2c")))
}

impl HttpTransport {
    /// Provisions the transport's JSON at `path`.
    /// `p` is where a `client_certificate_automate` name is handed to the
    /// `tls` app (health checks' stand-in transports have none).
    pub fn provision(
        c: &HttpTransportConfig,
        p: Option<&crate::registry::Provision<'_>>,
        path: &str,
    ) -> Result<Self, Error> {
        let (h1, h2, h2c) = versions(c, path)?;
        let proxy_protocol = proxy_protocol(&c.proxy_protocol, path)?;
        // As Caddy 2.11: each `keep_alive` field left unset (or zero)
        // takes its default, whether or not the object is there: 30s
        // probes (`dial_opts`), a 2m idle timeout, and
        // DEFAULT_IDLE_PER_HOST idle connections per host (Caddy's is 32;
        // see there).
        let none = KeepAliveConfig::default();
        let ka = c.keep_alive.as_ref().unwrap_or(&none);
        let opts = dial_opts(c, ka, proxy_protocol, path)?;
        let tls = match &c.tls {
            Some(t) => Some(provision_tls(t, p, &format!("{path}.tls"))?),
            None => None,
        };
        Ok(HttpTransport {
            opts,
            tls,
            h1,
            h2,
            h2c,
            // As Caddy: a connection that announced one client with the
            // PROXY protocol cannot carry another client's requests.
            keepalive: ka.enabled.unwrap_or(true) && proxy_protocol == 0,
            idle_timeout: d(ka.idle_timeout).unwrap_or(Duration::from_secs(120)),
            limits: PoolLimits {
                idle_per_host: match ka.max_idle_conns_per_host {
                    0 => DEFAULT_IDLE_PER_HOST,
                    n => n,
                },
                idle_total: (ka.max_idle_conns > 0)
                    .then(|| Arc::new(IdleBudget::new(ka.max_idle_conns))),
                conns_per_host: c.max_conns_per_host,
            },
            header_timeout: d(c.response_header_timeout),
            expect_timeout: d(c.expect_continue_timeout),
            compression: c.compression.unwrap_or(true),
            max_header: (c.max_response_header_size > 0)
                .then_some(c.max_response_header_size as usize),
            read_buf: (c.read_buffer_size > 0).then_some(c.read_buffer_size),
            dynamic: Mutex::new(Default::default()),
            proxy: super::forward_proxy::provision(
                c.network_proxy.as_ref(),
                &c.forward_proxy_url,
                path,
            )?,
        })
    }
}

fn proxy_protocol(v: &str, path: &str) -> Result<u8, Error> {
    match v {
        "" => Ok(0),
        "v1" => Ok(1),
        "v2" => Ok(2),
        other => Err(Error::config(
            format!("{path}.proxy_protocol"),
            format!("unexpected proxy protocol version {other:?}"),
        )),
    }
}

/// How the transport opens connections.
fn dial_opts(
    c: &HttpTransportConfig,
    ka: &KeepAliveConfig,
    proxy_protocol: u8,
    path: &str,
) -> Result<DialOpts, Error> {
    let resolver = match &c.resolver {
        Some(v) => Some(DnsResolver::provision(
            v,
            d(c.dial_timeout),
            Family::Both,
            &format!("{path}.resolver"),
        )?),
        None => None,
    };
    Ok(DialOpts {
        timeout: d(c.dial_timeout).unwrap_or(Duration::from_secs(3)),
        local: local_address(&c.local_address, path)?,
        keepalive_probe: Some(d(ka.probe_interval).unwrap_or(Duration::from_secs(30))),
        proxy_protocol,
        read_timeout: d(c.read_timeout),
        write_timeout: d(c.write_timeout),
        fallback: fallback_delay(c.dial_fallback_delay),
        write_buffer: c.write_buffer_size,
        resolver,
    })
}

fn provision_tls(
    t: &TlsConfig,
    p: Option<&crate::registry::Provision<'_>>,
    path: &str,
) -> Result<Tls, Error> {
    let tls = p.and_then(|p| p.tls.as_ref());
    if let (false, Some(p)) = (t.client_certificate_automate.is_empty(), p) {
        p.manage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(t.client_certificate_automate.clone());
    }
    let mut except = Vec::new();
    for (i, p) in t.except_ports.iter().enumerate() {
        except.push(p.parse().map_err(|_| {
            Error::config(
                format!("{path}.except_ports[{i}]"),
                format!("invalid port {p:?}"),
            )
        })?);
    }
    let (both, openssl) = clients(t, &[b"h2", b"http/1.1"], tls, path)?;
    let mut h1 = both.clone();
    h1.alpn_protocols = vec![b"http/1.1".to_vec()];
    let renegotiating = openssl.map(|client| Renegotiating {
        client,
        automate: tls
            .filter(|_| !t.client_certificate_automate.is_empty())
            .map(|s| (t.client_certificate_automate.to_lowercase(), s.clone())),
    });
    Ok(Tls {
        renegotiating,
        h1: Arc::new(h1),
        both: Arc::new(both),
        server_name: t.server_name.clone(),
        server_name_template: t
            .server_name
            .contains('{')
            .then(|| crate::http::replacer::Template::parse(&t.server_name)),
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
