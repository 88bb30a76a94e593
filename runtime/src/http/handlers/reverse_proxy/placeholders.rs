//! `{http.reverse_proxy.*}` placeholders: what the proxy did for this
//! request (the chosen upstream, its load, latencies, retries, and in
//! `handle_response` routes the upstream's status and headers), kept in
//! [`ProxyInfo`] on the request and rendered on demand, so a request that
//! no template asks about pays for no formatting.

use super::respond::UpstreamResponse;
use super::upstreams::{DialAddr, Host, Upstream};
use crate::http::replacer::clock::write_go_duration;
use crate::http::Cx;
use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The proxy's record of one request.
#[derive(Default)]
pub struct ProxyInfo {
    pub upstream: Option<(Arc<Host>, DialAddr, usize)>,
    pub latency: Option<Duration>,
    pub upstream_start: Option<Instant>,
    pub upstream_duration: Option<Duration>,
    pub duration: Option<Duration>,
    pub retries: u32,
    /// The upstream response, while `handle_response` routes run.
    pub response: Option<std::sync::Mutex<UpstreamResponse>>,
    pub status: Option<http::StatusCode>,
    pub headers: http::HeaderMap,
    /// While `retry_match` judges a transport error.
    pub is_transport_error: bool,
}

/// Sets `{http.reverse_proxy.is_transport_error}` (known only while set).
pub fn set_transport_error(cx: &mut Cx<'_>, on: bool) {
    cx.proxy
        .get_or_insert_with(Default::default)
        .is_transport_error = on;
}

/// Records the upstream chosen for an attempt.
pub fn select(cx: &mut Cx<'_>, up: &Upstream, addr: &DialAddr, _start: Instant, tries: u32) {
    let info = cx.proxy.get_or_insert_with(Default::default);
    info.upstream = Some((up.host.clone(), addr.clone(), up.max_requests));
    info.retries = tries;
    info.upstream_start = Some(Instant::now());
}

/// Records the totals when the proxy is done.
pub fn finish(cx: &mut Cx<'_>, start: Instant, tries: u32) {
    let info = cx.proxy.get_or_insert_with(Default::default);
    info.duration = Some(start.elapsed());
    info.retries = tries;
}

fn ms(d: Duration, out: &mut String) {
    let _ = write!(out, "{}", d.as_secs_f64() * 1e3);
}

/// Renders `name` if it is a reverse-proxy placeholder known for this
/// request.
pub fn placeholder(cx: &Cx<'_>, name: &str, out: &mut String) -> bool {
    let Some(rest) = name.strip_prefix("http.reverse_proxy.") else {
        return false;
    };
    let Some(info) = cx.proxy.as_deref() else {
        return false;
    };
    if let Some(h) = rest.strip_prefix("header.") {
        let mut first = true;
        for v in info.headers.get_all(h) {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&String::from_utf8_lossy(v.as_bytes()));
        }
        return !first;
    }
    match rest {
        "is_transport_error" if info.is_transport_error => out.push_str("true"),
        "retries" => {
            let _ = write!(out, "{}", info.retries);
        }
        "duration" => write_go_duration(info.duration.unwrap_or_default(), out),
        "duration_ms" => ms(info.duration.unwrap_or_default(), out),
        "status_code" => match info.status {
            Some(s) => {
                let _ = write!(out, "{}", s.as_u16());
            }
            None => return false,
        },
        "status_text" => match info.status {
            Some(s) => {
                let _ = write!(out, "{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""));
            }
            None => return false,
        },
        _ => return upstream_field(info, rest, out),
    }
    true
}

fn upstream_field(info: &ProxyInfo, rest: &str, out: &mut String) -> bool {
    let Some((host, addr, max)) = &info.upstream else {
        return false;
    };
    match rest {
        "upstream.address" => match addr {
            DialAddr::Unix(p) => {
                let _ = write!(out, "unix/{}", p.display());
            }
            a => out.push_str(&a.hostport()),
        },
        "upstream.hostport" => match addr {
            DialAddr::Unix(p) => {
                let _ = write!(out, "{}", p.display());
            }
            a => out.push_str(&a.hostport()),
        },
        "upstream.host" => match addr {
            DialAddr::Tcp { host, .. } => out.push_str(host),
            DialAddr::Unix(p) => {
                let _ = write!(out, "{}", p.display());
            }
        },
        "upstream.port" => {
            if let DialAddr::Tcp { port, .. } = addr {
                let _ = write!(out, "{port}");
            }
        }
        "upstream.requests" => {
            let _ = write!(out, "{}", host.num_requests());
        }
        "upstream.max_requests" => {
            let _ = write!(out, "{max}");
        }
        "upstream.fails" => {
            let _ = write!(out, "{}", host.fails());
        }
        "upstream.latency" => write_go_duration(info.latency.unwrap_or_default(), out),
        "upstream.latency_ms" => ms(info.latency.unwrap_or_default(), out),
        "upstream.duration" => write_go_duration(upstream_duration(info), out),
        "upstream.duration_ms" => ms(upstream_duration(info), out),
        _ => return false,
    }
    true
}

fn upstream_duration(info: &ProxyInfo) -> Duration {
    info.upstream_duration
        .or_else(|| info.upstream_start.map(|s| s.elapsed()))
        .unwrap_or_default()
}
