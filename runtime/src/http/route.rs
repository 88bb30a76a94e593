//! One request through the config current when it arrives: the socket's
//! server chosen, the TLS pre-route checks, the request context made, and
//! the server's answer with a panic turned into a 500 and the response
//! bounded by `write_timeout`. HTTP/1.1, HTTP/2 and HTTP/3 all enter at
//! [`route`].
//!
//! The serving future is not boxed: [`Serving`] holds it in place, inside
//! the future that awaits `route` (one per connection for HTTP/1.1, one
//! per stream for HTTP/2 and HTTP/3). A box per request, about 2 KB, was
//! larger than the allocator's thread cache serves and cost a slow
//! allocation, a slow free and a copy of the whole future each time.

use super::body::{Body, ReqBody};
use super::conn::ConnInfo;
use super::handlers::status_response;
use super::server::{Abort, Server};
use crate::app::Shared;
use http::StatusCode;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Runs one request through the config current now: TLS pre-route checks,
/// then the socket's server with panics turned into 500s. `body` makes the
/// request body from the server's `read_timeout`; `own_writer`: bellhop's
/// own HTTP/1.1 writer writes the response (`Cx::own_writer`);
/// `separator`: whether a field's name holds `_` or `.`, when the parser
/// noted it; `start`: when the request started (the connection's guard
/// read the clock: [`super::conn::ActiveGuard::started`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn route(
    shared: &Shared,
    socket_id: u64,
    info: &ConnInfo,
    parts: http::request::Parts,
    body: impl FnOnce(Option<Duration>) -> ReqBody,
    own_writer: bool,
    separator: Option<bool>,
    start: std::time::Instant,
) -> Result<super::Response, Abort> {
    let Some(instance) = shared.current() else {
        return Ok(status_response(StatusCode::SERVICE_UNAVAILABLE));
    };
    // Built in place: returned by value and then awaited, the serving
    // future (1.7 KB) was copied three times more.
    let r = {
        let mut serving = pin!(Serving::Answered { response: None });
        // (The context is made by a closure written here, not returned
        // by `route_on`: that costs 150 instructions more per request.)
        match route_on(&instance, socket_id, info, parts, body, separator, start) {
            Routed::Serve {
                server,
                parts,
                body,
                start,
                deadline,
            } => serving.set(Serving::Run {
                fut: server.serve_made(move || {
                    let mut cx = super::Cx::started(parts, body, info, server, start);
                    cx.own_writer = own_writer;
                    cx
                }),
                deadline,
                name: &server.name,
            }),
            Routed::Answer(r) => serving.set(Serving::Answered { response: Some(r) }),
        }
        serving.await
    };
    // The last request of a replaced config would free it here, on a
    // worker: hand that work to a background thread instead.
    if let Some(last) = Arc::into_inner(instance) {
        crate::app::drop_later(last);
    }
    r
}

pin_project_lite::pin_project! {
    /// A request's serving future (the server's `serve`), or the answer
    /// given before it (no server for the socket, a TLS pre-route check).
    #[project = ServingProj]
    pub(crate) enum Serving<'a, F> {
        Run {
            #[pin]
            fut: F,
            deadline: Option<tokio::time::Instant>,
            name: &'a str,
        },
        Answered { response: Option<super::Response> },
    }
}

impl<F: Future<Output = Result<super::Response, Abort>>> Future for Serving<'_, F> {
    type Output = Result<super::Response, Abort>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (fut, deadline, name) = match self.project() {
            ServingProj::Answered { response } => {
                return Poll::Ready(Ok(response.take().expect("polled after its answer")));
            }
            ServingProj::Run {
                fut,
                deadline,
                name,
            } => (fut, *deadline, *name),
        };
        let r = match std::task::ready!(poll_catching(fut, cx)) {
            Ok(r) => r,
            Err(msg) => {
                tracing::error!(server = %name, panic = %msg, "handler panicked");
                Ok(status_response(StatusCode::INTERNAL_SERVER_ERROR))
            }
        };
        Poll::Ready(match (r, deadline) {
            // `write_timeout` bounds the whole response, however steadily
            // the client reads (the stall limit bounds each write).
            (Ok(r), Some(at)) if !http_body::Body::is_end_stream(r.body()) => {
                Ok(r.map(|b| Body::stream(super::body::Deadline::new(b, at, "write_timeout"))))
            }
            (r, _) => r,
        })
    }
}

/// What [`route_on`] found: the server to serve the request, the request
/// (its context is made in the serving future: made here, it would be
/// copied into it), when it started and its write deadline; or the
/// answer given instead.
enum Routed<'a> {
    Serve {
        server: &'a Server,
        parts: http::request::Parts,
        body: ReqBody,
        start: std::time::Instant,
        deadline: Option<tokio::time::Instant>,
    },
    Answer(super::Response),
}

/// The work before `instance`'s server for `socket_id` serves the request:
/// choosing the server, TLS pre-route checks, the request body and the
/// write deadline.
fn route_on<'a>(
    instance: &'a crate::instance::Instance,
    socket_id: u64,
    info: &'a ConnInfo,
    parts: http::request::Parts,
    body: impl FnOnce(Option<Duration>) -> ReqBody,
    separator: Option<bool>,
    start: std::time::Instant,
) -> Routed<'a> {
    let Some(server) = instance.server_for(socket_id) else {
        return Routed::Answer(status_response(StatusCode::SERVICE_UNAVAILABLE));
    };
    if let Some(r) = crate::tls::accept::pre_route(
        server.tls.as_deref(),
        instance.tls.as_ref().map(|t| &t.state.storage),
        info,
        &parts,
    ) {
        return Routed::Answer(r);
    }
    let mut parts = parts;
    server.alias_filter.apply(&mut parts.headers, separator);
    let s = &server.settings;
    let body = body(s.read_timeout).watching(s.read_idle, s.read_min_rate);
    let deadline = s
        .write_timeout
        .map(|t| tokio::time::Instant::from_std(start) + t);
    Routed::Serve {
        server,
        parts,
        body,
        start,
        deadline,
    }
}

/// Polls `fut`, turning a panic into `Err(message)`.
pub(crate) async fn catch_panic<F: Future>(fut: F) -> Result<F::Output, String> {
    let mut fut = pin!(fut);
    std::future::poll_fn(move |cx| poll_catching(fut.as_mut(), cx)).await
}

/// Polls `fut` once, a panic turned into `Err(message)`.
fn poll_catching<F: Future>(
    fut: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, String>> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
        Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(p) => Poll::Ready(Err(crate::util::panic_message(p.as_ref())
            .unwrap_or("unknown panic")
            .to_string())),
    }
}
