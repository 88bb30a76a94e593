//! One proxied exchange: sending the prepared request on a connection
//! (its fields written straight from the client's where no try needs
//! them in a map: `direct`), and finishing the upstream response for the
//! client — passive health strikes, `handle_response` dispatch, then
//! `finalize` (hop-by-hop removal, `Via`, response header operations,
//! response buffering, `flush_interval`) and protocol upgrades (in
//! `tunnel`): when the upstream answers 101 the client gets
//! the 101 too (an HTTP/2 client's extended CONNECT, RFC 8441, gets 200),
//! and once both sides have switched a task copies bytes both ways until
//! either side closes or `stream_timeout` elapses; when the config is
//! unloaded, open tunnels are closed — after `stream_close_delay` when one
//! is set.
//!
//! Informational responses: Caddy forwards an upstream's 1xx (103 Early
//! Hints, for one) to the client before the final response. bellhop
//! cannot: hyper's server has no way for a handler to send a 1xx (it
//! only answers `Expect: 100-continue` itself). hyper's client reads an
//! upstream's 1xx and skips them, so the client gets the final response
//! alone; the hints are dropped, not merged into it.

use super::direct::Direct;
use super::h1::Keep;
use super::handle_response::ResponseMatcher;
use super::health::Passive;
use super::prepare::Prepared;
use super::response_body::FlushPolicy;
use super::send::Route;
use super::transport_http::{HttpTransport, RtError};
use super::tunnel::Tunnels;
use super::upstreams::{DialAddr, Upstream};
use super::{ReverseProxy, Transport};
use crate::error::HttpError;
use crate::http::handlers::header_ops::HeaderOps;
use crate::http::{Body, Cx, Flow};
use crate::util::IpNet;
use http::{StatusCode, Uri};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What responses and `copy_response` need from the handler.
pub struct Shared {
    pub transport: Transport,
    pub trusted: Vec<IpNet>,
    pub request_ops: HeaderOps,
    pub response_ops: HeaderOps,
    pub response_require: Option<ResponseMatcher>,
    pub response_buffers: i64,
    pub stream_timeout: Option<Duration>,
    pub stream_close_delay: Option<Duration>,
    /// Copy buffer of upgraded streams (`stream_buffer_size`).
    pub stream_buffer: usize,
    pub passive: Option<Passive>,
    /// Passive health: failures that make a host unavailable.
    pub max_fails: usize,
    pub tunnels: Tunnels,
    /// `flush_interval`.
    pub flush: FlushPolicy,
    /// `verbose_logs`: debug logs of retries and response streaming.
    pub verbose: bool,
    /// Keep each upstream response's status and headers for
    /// `{http.reverse_proxy.status_code}` and `{…header.*}` (the config
    /// reads them, or `retry_match` judges responses).
    pub response_placeholders: bool,
    /// Record the upstream chosen and the timings in `Cx::proxy`, for
    /// the `{http.reverse_proxy.*}` placeholders (the config may name
    /// one).
    pub records: bool,
}

/// Why an attempt failed, and whether it failed before the request left.
pub struct Failure {
    pub error: HttpError,
    pub before_send: bool,
    /// The upstream answered, and `retry_match` asks for another try.
    pub response: bool,
}

/// Maps a transport error to the client's status: 504 on timeouts, the
/// body's own status when the client's body failed, else 502.
pub fn classify(e: &RtError) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<crate::http::body::BodyError>() {
            if !matches!(b, crate::http::body::BodyError::Io(_)) {
                return HttpError::from(match b {
                    crate::http::body::BodyError::TooLarge => {
                        crate::http::body::BodyError::TooLarge
                    }
                    _ => crate::http::body::BodyError::Timeout,
                });
            }
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return HttpError::new(StatusCode::GATEWAY_TIMEOUT, e.to_string());
            }
        }
        source = s.source();
    }
    match e {
        RtError::Timeout => HttpError::new(StatusCode::GATEWAY_TIMEOUT, e.to_string()),
        _ => HttpError::upstream(e.to_string()),
    }
}

/// `{http.reverse_proxy.upstream.hostport}` of `addr`.
fn upstream_host(addr: &DialAddr) -> Option<http::HeaderValue> {
    match addr {
        DialAddr::Unix(p) => http::HeaderValue::from_str(&p.display().to_string()).ok(),
        a => http::HeaderValue::from_str(&a.hostport()).ok(),
    }
}

/// One try against `up`.
pub async fn round_trip(
    h: &ReverseProxy,
    up: &Upstream,
    addr: &DialAddr,
    cx: &mut Cx<'_>,
    p: &mut Prepared,
) -> Result<Flow, Failure> {
    let _inflight = up.host.begin();
    let client = cx.conn.remote.unwrap_or_else(|| ([0, 0, 0, 0], 0).into());
    // (The clock is read only for what records the latency.)
    let started = (cx.proxy.is_some() || h.shared.passive.is_some()).then(Instant::now);
    let resp = match &h.shared.transport {
        Transport::Http(t) => {
            // Fields written straight from the client's where nothing
            // needs them in a map (`direct`); else made for this try.
            let direct = p.direct()
                && p.in_memory()
                && h.shared.request_ops.is_empty()
                && h.shared.flush != FlushPolicy::Immediate;
            // (`None` while direct: not even an empty map to drop.)
            let headers = (!direct).then(|| try_headers(h, addr, cx, p));
            let upgrade = headers
                .as_ref()
                .is_some_and(|h| h.contains_key(http::header::UPGRADE));
            let sni = t
                .tls
                .as_ref()
                .and_then(|tls| tls.server_name_template.as_ref())
                .map(|n| n.render(cx));
            let conn = t
                .sender(up, addr, client, upgrade, sni.as_deref(), cx.start)
                .await
                .map_err(|e| Failure {
                    before_send: matches!(e, RtError::Dial(_) | RtError::Tls(..)),
                    error: classify(&e),
                    response: false,
                })?;
            let keep = keep_fields(h, cx);
            let route = match direct {
                true => t.route(conn, Direct::new(cx)),
                false => Route::Map(conn),
            };
            let sent = match route {
                Route::Direct(own, mut f) => {
                    if t.tls.is_some() {
                        f.host_override = upstream_host(addr);
                    }
                    let uri = origin_form(&p.uri);
                    let body = p.body().into_bytes();
                    // Pinned where it is made: moved into the await, the
                    // future (about 1 KB) was copied.
                    let sent = std::pin::pin!(
                        t.send_direct(own, addr, &p.method, &uri, &mut f, body, keep)
                    );
                    sent.await
                }
                Route::Map(conn) => {
                    let headers = headers.unwrap_or_else(|| try_headers(h, addr, cx, p));
                    let mut req = http::Request::new(p.body());
                    *req.method_mut() = p.method.clone();
                    *req.uri_mut() = origin_form(&p.uri);
                    *req.headers_mut() = headers;
                    if h.shared.flush == FlushPolicy::Immediate {
                        send_detached(t, conn, addr, req, keep).await
                    } else {
                        t.send(conn, addr, req, keep).await
                    }
                }
            };
            sent.map_err(|e| Failure {
                error: classify(&e),
                before_send: false,
                response: false,
            })?
        }
        Transport::Fastcgi(f) => {
            let headers = try_headers(h, addr, cx, p);
            let body = p.body();
            Box::pin(f.round_trip(cx, addr, &p.method, &p.uri, headers, body))
                .await
                .map_err(|e| Failure {
                    before_send: e.before_send,
                    error: e.error,
                    response: false,
                })?
        }
    };
    if let Some(latency) = started.map(|t| t.elapsed()) {
        if let Some(info) = cx.proxy.as_deref_mut() {
            info.latency = Some(latency);
        }
        if let Some(passive) = &h.shared.passive {
            passive.strike(&up.host, resp.status(), latency);
        }
    }
    if h.shared.response_placeholders {
        let info = cx.proxy.get_or_insert_with(Default::default);
        info.status = Some(resp.status());
        info.headers = resp.headers().clone();
    }
    if let Some(m) = &h.retry.response_matchers {
        if m.matches(cx).unwrap_or(false) {
            let status = resp.status();
            return Err(Failure {
                error: HttpError::new(
                    status,
                    format!(
                        "upstream response matched retry_match (status {})",
                        status.as_u16()
                    ),
                ),
                before_send: false,
                response: true,
            });
        }
    }
    Ok(finish(h, cx, resp).await)
}

/// What becomes of the response's fields: all in the map for
/// `handle_response` and the response placeholders; kept as they came
/// where nothing reads them before the client's writer (no `header_down`,
/// no `retry_match` on the response, nothing after the handler:
/// `Cx::fields_unread`); else the map, without the hop-by-hop fields
/// `finalize` removes.
fn keep_fields(h: &ReverseProxy, cx: &Cx<'_>) -> Keep {
    if !h.handle_response.is_empty() || h.shared.response_placeholders {
        return Keep::All;
    }
    match h.shared.response_ops.is_empty()
        && h.retry.response_matchers.is_none()
        && cx.fields_unread()
    {
        true => Keep::Raw,
        false => Keep::NoHop,
    }
}

/// The upstream request's fields for one try, in a map: the prepared ones
/// (taken by a lone try, copied when another may follow), with `Host` as
/// the TLS transport sets it and the `header_up` operations applied.
fn try_headers(
    h: &ReverseProxy,
    addr: &DialAddr,
    cx: &Cx<'_>,
    p: &mut Prepared,
) -> http::HeaderMap {
    p.materialize(cx, &h.shared.trusted);
    let mut headers = p.take_headers(!h.retry.disabled());
    if let Transport::Http(t) = &h.shared.transport {
        if t.tls.is_some() {
            // Caddy's TLS transport: `Host` is the upstream's address,
            // before the user's operations (`RequestHeaderOps`).
            if let Some(v) = upstream_host(addr) {
                headers.insert(http::header::HOST, v);
            }
        }
    }
    if !h.shared.request_ops.is_empty() {
        h.shared.request_ops.apply(cx, &mut headers);
    }
    headers
}

/// A round trip that goes on when the client goes away (a negative
/// `flush_interval`, Caddy's `ignoreClientGoneContext`): it runs in its
/// own task, which the handler only waits for.
async fn send_detached(
    t: &Arc<HttpTransport>,
    conn: super::transport_http::Conn,
    addr: &DialAddr,
    req: http::Request<super::prepare::UpBody>,
    keep: Keep,
) -> Result<http::Response<Body>, RtError> {
    let (t, addr) = (t.clone(), addr.clone());
    tokio::spawn(async move { t.send(conn, &addr, req, keep).await })
        .await
        .map_err(|e| RtError::Other(format!("upstream round trip: {e}")))?
}

fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) => Uri::from(pq.clone()),
        None => Uri::from_static("/"),
    }
}

/// An upstream response kept for `handle_response` routes.
pub struct UpstreamResponse {
    pub response: http::Response<Body>,
    pub shared: Arc<Shared>,
}

async fn finish(h: &ReverseProxy, cx: &mut Cx<'_>, mut resp: http::Response<Body>) -> Flow {
    for (i, rh) in h.handle_response.iter().enumerate() {
        if !rh.matches(cx, &resp) {
            continue;
        }
        if let Some(code) = rh.status(cx) {
            if let Ok(s) = StatusCode::from_u16(code) {
                *resp.status_mut() = s;
            }
            break;
        }
        let info = cx.proxy.get_or_insert_with(Default::default);
        if !h.shared.response_placeholders {
            // (Otherwise `round_trip` recorded them already.)
            info.status = Some(resp.status());
            info.headers = resp.headers().clone();
        }
        info.response = Some(std::sync::Mutex::new(UpstreamResponse {
            response: resp,
            shared: h.shared.clone(),
        }));
        return Flow::Routes(i);
    }
    h.shared.finalize(cx, &mut resp).await;
    Flow::Respond(resp)
}
