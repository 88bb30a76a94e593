//! `http.handlers.reverse_proxy`: Caddy's reverse proxy.
//!
//! Per request: prepare the upstream request once (hop-by-hop removal,
//! `X-Forwarded-*`, `Via`, optional `rewrite` and request buffering), then
//! loop: pick an available upstream with the selection policy, apply the
//! request header operations, round-trip through the transport; on
//! failure count it (passive health) and retry while `retries` and
//! `try_duration` allow, waiting `try_interval` between tries. Only dial
//! failures, or requests that are GET or match `retry_match`, are retried,
//! and a body is replayed only when it was buffered.
//!
//! Code map (`reverse_proxy/`): `config` (JSON model), `upstreams` (hosts
//! pool, dial addresses), `selection`, `health` (active and passive),
//! `transport_http` + `http_config` + `dial` + `forward_proxy` + `stream` +
//! `tls` + `pool` + `send` + `h1` (our own HTTP/1.1 exchange; `h1/parse`
//! its response heads, whose fields stay as they came where nothing reads
//! them before the client's writer) + `direct` (its head written straight
//! from the client's fields), `transport_fastcgi` + `fastcgi`, `headers`,
//! `prepare` (the upstream request and its body), `respond` (round
//! trips), `finalize` (the client's response made from the upstream's),
//! `tunnel` (an upgrade's two sides copied both ways),
//! `response_body` (`flush_interval`, gzip decoding),
//! `handle_response`, `dynamic` + `resolver` (DNS), `placeholders`,
//! `provision`.

mod config;
mod dial;
mod direct;
mod dynamic;
mod fastcgi;
mod finalize;
mod forward_proxy;
mod h1;
mod handle_response;
pub(crate) mod headers;
mod health;
mod http_config;
mod placeholders;
mod pool;
mod prepare;
mod provision;
pub(crate) mod resolver;
mod respond;
mod response_body;
mod selection;
mod send;
mod stream;
mod tls;
mod transport_fastcgi;
mod transport_http;
mod tunnel;
mod upstreams;

pub use tls::{client_config, NoVerify, TlsConfig};

pub use config::ResponseHandlerConfig;
pub use handle_response::{copy_response, copy_response_headers, ResponseHandler};
pub use placeholders::{placeholder, ProxyInfo};
pub use provision::new;
pub use upstreams::{upstreams_status, UpstreamStatus};

use crate::error::HttpError;
use crate::http::{BoxFuture, Cx, Flow, Handler, Step};
use http::StatusCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use upstreams::Upstream;

/// The transport that performs round trips.
pub enum Transport {
    Http(Arc<transport_http::HttpTransport>),
    Fastcgi(Box<transport_fastcgi::FastcgiTransport>),
}

/// Retry settings (`load_balancing`).
pub struct Retry {
    pub retries: u32,
    pub try_duration: Duration,
    pub try_interval: Duration,
    pub matchers: Option<crate::http::routes::MatcherSets>,
    /// The `retry_match` sets with an expression matcher: those judge the
    /// upstream's response too (`{rp.status_code}`, `{rp.header.*}`), as
    /// Caddy's; request-only sets never retry a response.
    pub response_matchers: Option<crate::http::routes::MatcherSets>,
}

/// The provisioned handler; `shared` is what finished responses and
/// `copy_response` need.
pub struct ReverseProxy {
    pub upstreams: Vec<Upstream>,
    pub dynamic: Option<dynamic::Source>,
    pub policy: selection::Policy,
    pub retry: Retry,
    pub passive: Option<health::Passive>,
    pub request_buffers: i64,
    pub rewrite: Option<Box<dyn Handler>>,
    pub handle_response: Vec<ResponseHandler>,
    pub shared: Arc<respond::Shared>,
    pub checker: Option<health::Checker>,
}

/// What one attempt produced.
enum Attempt {
    Done(Flow),
    /// Failed; `retryable` when the request never reached the upstream.
    Failed {
        err: HttpError,
        why: Retryable,
    },
}

/// How a failed attempt may be retried.
#[derive(Clone, Copy, PartialEq)]
enum Retryable {
    /// The request never left: always.
    Dial,
    /// The response matched `retry_match`: when the body can be sent again.
    Response,
    /// A transport error after sending: GET, or `retry_match`, and a body
    /// that can be sent again.
    Transport,
}

impl Retry {
    /// Whether a request is only ever tried once.
    pub fn disabled(&self) -> bool {
        self.retries == 0 && self.try_duration.is_zero()
    }
}

impl ReverseProxy {
    async fn proxy(&self, cx: &mut Cx<'_>) -> Result<Flow, HttpError> {
        let records = self.shared.records;
        // (Read only to record the duration, or for `try_duration`.)
        let start = match records || !self.retry.try_duration.is_zero() {
            true => Instant::now(),
            false => cx.start,
        };
        let mut prepared = prepare::Prepared::default();
        prepare::prepare(self, cx, &mut prepared).await?;
        let mut tries = 0u32;
        let mut last: Option<HttpError> = None;
        loop {
            let (dyn_pool, lookup_err) = self.dynamic_pool(cx).await;
            let pool: &[Upstream] = dyn_pool.as_deref().unwrap_or(&self.upstreams);
            let outcome = match self.policy.select(pool, cx) {
                None => Attempt::Failed {
                    err: last.take().unwrap_or_else(|| no_upstream(pool, lookup_err)),
                    why: Retryable::Dial,
                },
                Some(up) => {
                    let r = self.attempt(up, cx, &mut prepared, start, tries).await;
                    if let Attempt::Failed { .. } = r {
                        if let Some(p) = &self.passive {
                            p.count_failure(&up.host);
                        }
                    }
                    r
                }
            };
            let (err, why) = match outcome {
                Attempt::Done(flow) => {
                    if records {
                        placeholders::finish(cx, start, tries);
                    }
                    return Ok(flow);
                }
                Attempt::Failed { err, why } => (err, why),
            };
            if !self
                .try_again(cx, start, tries, why, prepared.replayable())
                .await
            {
                if records {
                    placeholders::finish(cx, start, tries);
                }
                if let Some(body) = prepared.unsent_body() {
                    cx.body = body;
                }
                return Err(err);
            }
            if self.shared.verbose {
                tracing::debug!(error = %err.message, after = ?self.retry.try_interval, "retrying");
            }
            last = Some(err);
            tries += 1;
        }
    }

    /// The dynamic upstreams for this try, or `None` for the static ones
    /// (no source, or its lookup failed: then with the error, as Caddy
    /// falls back to the static upstreams).
    async fn dynamic_pool(&self, cx: &Cx<'_>) -> (Option<Vec<Upstream>>, Option<String>) {
        let Some(src) = &self.dynamic else {
            return (None, None);
        };
        match Box::pin(src.upstreams(cx, &self.shared)).await {
            Ok(p) => (Some(p), None),
            Err(e) => {
                tracing::error!(error = %e, "failed getting dynamic upstreams; falling back to static upstreams");
                (None, Some(e))
            }
        }
    }

    async fn attempt(
        &self,
        up: &Upstream,
        cx: &mut Cx<'_>,
        prepared: &mut prepare::Prepared,
        start: Instant,
        tries: u32,
    ) -> Attempt {
        let addr = match up.resolve(cx) {
            Ok(a) => a,
            Err(e) => {
                return Attempt::Failed {
                    err: HttpError::new(StatusCode::BAD_GATEWAY, format!("making dial info: {e}")),
                    why: Retryable::Transport,
                }
            }
        };
        if self.shared.records {
            placeholders::select(cx, up, &addr, start, tries);
        }
        match respond::round_trip(self, up, &addr, cx, prepared).await {
            Ok(flow) => Attempt::Done(flow),
            Err(f) => Attempt::Failed {
                err: f.error,
                why: match (f.before_send, f.response) {
                    (_, true) => Retryable::Response,
                    (true, false) => Retryable::Dial,
                    (false, false) => Retryable::Transport,
                },
            },
        }
    }

    /// Caddy's `tryAgain`: whether (and after waiting) to try again.
    async fn try_again(
        &self,
        cx: &mut Cx<'_>,
        start: Instant,
        tries: u32,
        why: Retryable,
        replayable: bool,
    ) -> bool {
        let r = &self.retry;
        if r.disabled() {
            return false;
        }
        if !r.try_duration.is_zero() && start.elapsed() >= r.try_duration {
            return false;
        }
        if r.retries > 0 && tries >= r.retries {
            return false;
        }
        if why != Retryable::Dial && !replayable {
            return false;
        }
        if why == Retryable::Transport {
            let allowed = match &r.matchers {
                None => cx.parts.method == http::Method::GET,
                Some(m) => {
                    // `{rp.is_transport_error}` is true while they judge.
                    placeholders::set_transport_error(cx, true);
                    let ok = m.matches(cx).unwrap_or(false);
                    placeholders::set_transport_error(cx, false);
                    ok
                }
            };
            if !allowed {
                return false;
            }
        }
        if !r.try_interval.is_zero() {
            tokio::time::sleep(r.try_interval).await;
        }
        true
    }
}

/// The error when no upstream could be selected: 503, as Caddy answers,
/// whether the upstreams were all unavailable or a dynamic lookup failed
/// and no static ones exist (then the message names the failed lookup).
fn no_upstream(pool: &[Upstream], lookup_err: Option<String>) -> HttpError {
    match lookup_err {
        Some(e) if pool.is_empty() => HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no upstreams available: {e}"),
        ),
        _ => HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "no upstreams available"),
    }
}

impl Handler for ReverseProxy {
    fn handle(&self, _cx: &mut Cx<'_>) -> Step {
        Step::Async
    }

    fn handle_async<'s>(&'s self, cx: &'s mut Cx<'_>) -> BoxFuture<'s, Result<Flow, HttpError>> {
        // Allocated first and written in place: `Box::pin(fut)` makes the
        // future on the stack and copies all of it (about 3 KB) over.
        let fut = Box::write(Box::new_uninit(), self.proxy(cx));
        Box::into_pin(fut)
    }

    fn indexed_routes(&self, index: usize) -> Option<&crate::http::routes::RouteList> {
        self.handle_response.get(index).map(|h| &h.routes)
    }

    fn cleanup(&self) {
        if let Some(c) = &self.checker {
            c.stop();
        }
        self.shared
            .tunnels
            .close_all(self.shared.stream_close_delay);
    }
}
