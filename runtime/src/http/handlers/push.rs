//! `http.handlers.push`: HTTP/2 server push, as Caddy's `push` handler.
//! On a request that can be pushed to (HTTP/2, push not disabled by the
//! client, not itself a pushed request: see `h2::Pusher`), it promises
//! the configured resources before the rest of the chain runs, then the
//! resources the response's `Link` fields name (unless `nopush` or on
//! another origin). Pushed requests carry `Caddy-Push: 1`, which makes
//! every `push` handler pass them by, and copy a few safe fields of the
//! request (`Accept-Encoding`, `Accept-Language`, `Accept`,
//! `Cache-Control`, `User-Agent`) before the handler's `headers`
//! operations. A push that fails stops the pushing, as in Caddy.
//!
//! Servers with a `push` handler serve HTTP/2 on `h2` (see `http::h2`).
//! Caddyfile: `push [<matcher>] [<resource>] { [GET|HEAD] <resource>;
//! headers { … } }`.

mod link;

use super::header_ops::{HeaderOps, HeaderOpsConfig};
use crate::error::Error;
use crate::http::h2::Pusher;
use crate::http::replacer::Template;
use crate::http::{Cx, Handler, Response, Step};
use crate::registry::Provision;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    resources: Vec<ResourceConfig>,
    headers: Option<HeaderOpsConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceConfig {
    #[serde(default)]
    method: String,
    #[serde(default)]
    target: String,
}

struct Resource {
    method: Method,
    target: Template,
}

struct Push {
    resources: Vec<Resource>,
    headers: HeaderOps,
}

/// Marks pushed requests (Caddy's `pushHeader`).
const PUSH_HEADER: HeaderName = HeaderName::from_static("caddy-push");

/// Request fields copied to pushed requests (Caddy's `safeHeaders`).
const SAFE_HEADERS: [HeaderName; 5] = [
    http::header::ACCEPT_ENCODING,
    http::header::ACCEPT_LANGUAGE,
    http::header::ACCEPT,
    http::header::CACHE_CONTROL,
    http::header::USER_AGENT,
];

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let mut resources = Vec::with_capacity(c.resources.len());
    for (i, r) in c.resources.iter().enumerate() {
        resources.push(resource(r, &format!("{path}.resources[{i}]"))?);
    }
    let headers = match &c.headers {
        Some(h) => HeaderOps::provision(h, &format!("{path}.headers"))?,
        None => HeaderOps::default(),
    };
    p.pushes = true;
    Ok(Box::new(Push { resources, headers }))
}

/// A resource, refused when it could never be pushed (Go's `Push` would
/// fail on it at every request, and Caddy would then push nothing more).
fn resource(r: &ResourceConfig, path: &str) -> Result<Resource, Error> {
    let method = match r.method.as_str() {
        "" | "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        other => {
            return Err(Error::config(
                format!("{path}.method"),
                format!("{other:?}: only GET and HEAD requests can be pushed"),
            ))
        }
    };
    let target = Template::parse(&r.target);
    if let Some(lit) = target.as_literal() {
        if !lit.starts_with('/') && !lit.contains("://") {
            return Err(Error::config(
                format!("{path}.target"),
                format!("{lit:?}: must be an absolute URL or an absolute path"),
            ));
        }
    }
    Ok(Resource { method, target })
}

impl Push {
    /// The headers of the pushed requests.
    fn push_headers(&self, cx: &Cx<'_>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(PUSH_HEADER, HeaderValue::from_static("1"));
        for name in &SAFE_HEADERS {
            for v in cx.parts.headers.get_all(name) {
                h.append(name.clone(), v.clone());
            }
        }
        self.headers.apply(cx, &mut h);
        h
    }
}

impl Handler for Push {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        let Some(pusher) = cx.parts.extensions.get::<Pusher>() else {
            return Step::Next;
        };
        if cx.parts.headers.contains_key(PUSH_HEADER) {
            return Step::Next;
        }
        let headers = self.push_headers(cx);
        for r in &self.resources {
            // Caddy's `ReplaceAll(target, ".")`: unknown or empty
            // placeholders become ".".
            let target = r.target.render_with(cx, &mut |_, v, out| {
                out.push_str(v.filter(|v| !v.is_empty()).unwrap_or("."))
            });
            tracing::debug!(
                uri = %cx.orig_uri, push_method = %r.method, push_target = %target,
                "pushing resource"
            );
            if let Err(e) = pusher.push(&r.method, &target, &headers) {
                tracing::debug!(target = %target, error = %e, "push failed; pushing no more");
                break;
            }
        }
        pusher.keep_link_headers(headers);
        Step::Wrap
    }

    fn on_response(&self, cx: &Cx<'_>, response: Response) -> Response {
        let Some(pusher) = cx.parts.extensions.get::<Pusher>() else {
            return response;
        };
        if !response.headers().contains_key(http::header::LINK) {
            return response;
        }
        let Some(headers) = pusher.take_link_headers() else {
            return response;
        };
        for v in response.headers().get_all(http::header::LINK) {
            let Ok(v) = v.to_str() else { continue };
            tracing::debug!(linked = v, "pushing Link resources");
            for l in link::parse(v) {
                if l.has("nopush") || link::is_remote(l.uri) {
                    continue;
                }
                if let Err(e) = pusher.push(&Method::GET, l.uri, &headers) {
                    tracing::debug!(target = l.uri, error = %e, "push failed; pushing no more");
                    return response;
                }
            }
        }
        response
    }
}
