//! `http.handlers.reverse_proxy`, first version: proxies to HTTP/1.1
//! upstreams chosen round robin (or `first`, `random`), streaming both
//! bodies, with `X-Forwarded-For/Proto/Host`, header operations, and the
//! `dial_timeout`/`response_header_timeout` of the HTTP transport.
//!
//! Faults: an upstream that cannot be reached or fails answers 502 (504
//! when it is too slow to answer); a request body over `request_body`'s
//! cap answers 413. Health checks, retries, dynamic upstreams and the rest
//! of Caddy's proxy come with the complete proxy; their fields are
//! rejected here rather than ignored.

use super::header_ops::{HeaderOps, HeaderOpsConfig};
use crate::error::{Error, HttpError};
use crate::http::body::BodyError;
use crate::http::{Body, BoxFuture, Cx, Flow, Handler, ReqBody, Step};
use crate::registry::Provision;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    upstreams: Vec<UpstreamConfig>,
    load_balancing: Option<LbConfig>,
    transport: Option<TransportConfig>,
    headers: Option<HeadersConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamConfig {
    dial: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LbConfig {
    selection_policy: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransportConfig {
    protocol: String,
    dial_timeout: Option<crate::config::CaddyDuration>,
    response_header_timeout: Option<crate::config::CaddyDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadersConfig {
    request: Option<HeaderOpsConfig>,
    response: Option<HeaderOpsConfig>,
}

#[derive(Clone, Copy)]
enum Policy {
    RoundRobin,
    First,
    Random,
}

struct ReverseProxy {
    upstreams: Vec<String>,
    policy: Policy,
    next: AtomicUsize,
    client: Client<HttpConnector, ReqBody>,
    request_ops: HeaderOps,
    response_ops: HeaderOps,
    header_timeout: Option<Duration>,
}

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode(v, path)?;
    let mut upstreams = Vec::new();
    for (i, u) in c.upstreams.iter().enumerate() {
        let dial = u.dial.strip_prefix("tcp/").unwrap_or(&u.dial);
        if dial.contains('/') || !dial.contains(':') {
            return Err(Error::config(
                format!("{path}.upstreams[{i}].dial"),
                format!("unsupported dial address {:?} (want host:port)", u.dial),
            ));
        }
        upstreams.push(dial.to_string());
    }
    if upstreams.is_empty() {
        return Err(Error::config(format!("{path}.upstreams"), "no upstreams"));
    }
    let policy = policy(&c, p, path)?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let mut header_timeout = None;
    if let Some(t) = &c.transport {
        let tpath = format!("{path}.transport.protocol");
        p.require(
            &format!("http.reverse_proxy.transport.{}", t.protocol),
            &tpath,
        )?;
        connector.set_connect_timeout(t.dial_timeout.map(|d| d.0));
        header_timeout = t.response_header_timeout.map(|d| d.0);
    }
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let ops = |o: &Option<HeaderOpsConfig>, side: &str| match o {
        Some(o) => HeaderOps::provision(o, &format!("{path}.headers.{side}")),
        None => Ok(HeaderOps::default()),
    };
    let (request_ops, response_ops) = match &c.headers {
        Some(h) => (ops(&h.request, "request")?, ops(&h.response, "response")?),
        None => (HeaderOps::default(), HeaderOps::default()),
    };
    Ok(Box::new(ReverseProxy {
        upstreams,
        policy,
        next: AtomicUsize::new(0),
        client,
        request_ops,
        response_ops,
        header_timeout,
    }))
}

fn policy(c: &Config, p: &Provision<'_>, path: &str) -> Result<Policy, Error> {
    let Some(sel) = c
        .load_balancing
        .as_ref()
        .and_then(|l| l.selection_policy.as_ref())
    else {
        return Ok(Policy::RoundRobin);
    };
    let spath = format!("{path}.load_balancing.selection_policy");
    let (name, _) = p.module_name(
        sel,
        "policy",
        "http.reverse_proxy.selection_policies",
        &spath,
    )?;
    Ok(match name {
        "first" => Policy::First,
        "random" => Policy::Random,
        _ => Policy::RoundRobin,
    })
}

/// Hop-by-hop fields, never forwarded.
const HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

fn strip_hop(h: &mut HeaderMap) {
    let listed: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in HOP.iter().chain(listed.iter()) {
        h.remove(n);
    }
    h.remove(header::UPGRADE);
}

impl ReverseProxy {
    fn pick(&self) -> &str {
        let i = match self.policy {
            Policy::First => 0,
            Policy::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed),
            Policy::Random => crate::util::random_u64() as usize,
        };
        &self.upstreams[i % self.upstreams.len()]
    }

    fn upstream_request(&self, cx: &mut Cx<'_>) -> Result<http::Request<ReqBody>, HttpError> {
        let upstream = self.pick();
        let pq = cx.parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri: http::Uri = format!("http://{upstream}{pq}")
            .parse()
            .map_err(|e| HttpError::internal(format!("upstream URI: {e}")))?;
        let mut headers = cx.parts.headers.clone();
        strip_hop(&mut headers);
        if !headers.contains_key(header::HOST) {
            if let Ok(h) = HeaderValue::from_str(cx.hostport()) {
                headers.insert(header::HOST, h);
            }
        }
        self.forwarded(cx, &mut headers);
        self.request_ops.apply(cx, &mut headers);
        let body = std::mem::replace(&mut cx.body, ReqBody::full(bytes::Bytes::new()));
        let mut req = http::Request::new(body);
        *req.method_mut() = cx.parts.method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        Ok(req)
    }

    /// Caddy's X-Forwarded-* rules: from a trusted proxy, extend; else
    /// replace what the client claimed.
    fn forwarded(&self, cx: &Cx<'_>, h: &mut HeaderMap) {
        let remote = cx.remote_ip();
        let trusted = cx.server.is_trusted(remote);
        let xff = HeaderName::from_static("x-forwarded-for");
        let prior = h
            .get(&xff)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let value = match (trusted, prior) {
            (true, Some(p)) => format!("{p}, {remote}"),
            _ => remote.to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(xff, v);
        }
        for (name, value) in [
            ("x-forwarded-proto", cx.conn.scheme()),
            ("x-forwarded-host", cx.hostport()),
        ] {
            let name = HeaderName::from_static(name);
            if !trusted || !h.contains_key(&name) {
                if let Ok(v) = HeaderValue::from_str(value) {
                    h.insert(name, v);
                }
            }
        }
    }

    async fn proxy(&self, cx: &mut Cx<'_>) -> Result<Flow, HttpError> {
        let req = self.upstream_request(cx)?;
        let sent = self.client.request(req);
        let resp = match self.header_timeout {
            Some(t) => tokio::time::timeout(t, sent).await.map_err(|_| {
                HttpError::new(StatusCode::GATEWAY_TIMEOUT, "upstream response timeout")
            })?,
            None => sent.await,
        }
        .map_err(classify)?;
        let (mut parts, body) = resp.into_parts();
        strip_hop(&mut parts.headers);
        self.response_ops.apply(cx, &mut parts.headers);
        Ok(Flow::Respond(http::Response::from_parts(
            parts,
            Body::stream(body),
        )))
    }
}

/// Maps a client error to whose fault it is.
fn classify(e: hyper_util::client::legacy::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        match s.downcast_ref::<BodyError>() {
            Some(BodyError::TooLarge) => {
                return HttpError::downstream(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large",
                )
            }
            Some(BodyError::Timeout) => {
                return HttpError::downstream(
                    StatusCode::REQUEST_TIMEOUT,
                    "timed out reading request body",
                )
            }
            _ => source = s.source(),
        }
    }
    HttpError::upstream(format!("upstream: {e:?}"))
}

impl Handler for ReverseProxy {
    fn handle(&self, _cx: &mut Cx<'_>) -> Step {
        Step::Async
    }

    fn handle_async<'s>(&'s self, cx: &'s mut Cx<'_>) -> BoxFuture<'s, Result<Flow, HttpError>> {
        Box::pin(self.proxy(cx))
    }
}
