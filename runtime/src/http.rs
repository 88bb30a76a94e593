//! The HTTP app: servers, routes, matchers, handlers and the replacer.
//!
//! Code map:
//! - `server`: a provisioned server and its connection loop (hyper 1.x, h1
//!   and h2c), `conn`: the timeout-enforcing IO wrapper and per-connection
//!   state.
//! - `routes`: Caddy's route semantics, run by a small interpreter with an
//!   explicit stack (subroutes and named routes push frames, no recursion,
//!   no boxing for synchronous handlers).
//! - `context`: [`Cx`], the state of one request (vars, captures, caches).
//! - `replacer`: placeholders parsed once at provision time into templates.
//! - `handlers/`, `matchers/`: one file per module.
//! - `h3`: HTTP/3 (quinn + h3) on the UDP socket beside a TLS listener.
//! - `metrics`: per-handler counters and histograms, when the config
//!   collects metrics.

pub(crate) mod accept;
pub mod access_log;
pub mod alias_headers;
pub mod autohttps;
pub mod body;
pub mod conn;
pub mod context;
pub(crate) mod drive;
pub mod framing;
pub mod h1;
pub mod h2;
pub mod h3;
pub mod handlers;
pub mod matchers;
pub mod metrics;
pub mod raw_fields;
pub mod replacer;
pub(crate) mod route;
pub mod routes;
pub mod serve;
pub(crate) mod serve_threads;
pub mod server;
pub mod spare;
mod streams;
pub mod tls_info;
pub(crate) mod trace_log;

pub use body::{Body, ReqBody};
pub use context::Cx;

use crate::error::HttpError;
use std::future::Future;
use std::pin::Pin;

/// A response as handlers produce it.
pub type Response = http::Response<Body>;

/// A boxed future borrowed for `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a handler decided, synchronously.
pub enum Step {
    /// Go on with the next handler.
    Next,
    /// The response is ready.
    Respond(Response),
    /// The request failed; error routes take over.
    Fail(HttpError),
    /// Run [`Handler::handle_async`] and use its outcome.
    Async,
    /// Run the routes of [`Handler::routes`], then go on (subroute).
    Routes,
    /// Run the server's named route of this index, then go on (invoke).
    Invoke(usize),
    /// Go on, and pass the eventual response through
    /// [`Handler::on_response`] (headers, encode).
    Wrap,
}

/// What an asynchronous handler decided.
pub enum Flow {
    Next,
    Respond(Response),
    /// Run [`Handler::indexed_routes`] of this index, then go on
    /// (reverse_proxy's `handle_response`).
    Routes(usize),
}

/// An HTTP handler module (`http.handlers.*`).
///
/// Most handlers answer synchronously from [`Handler::handle`]; only those
/// that do I/O (files, upstreams, bodies) return [`Step::Async`] and pay for
/// a boxed future.
pub trait Handler: Send + Sync {
    /// Handles the request or passes it on.
    fn handle(&self, cx: &mut Cx<'_>) -> Step;

    /// The asynchronous part, called after `handle` returned [`Step::Async`].
    fn handle_async<'s>(&'s self, _cx: &'s mut Cx<'_>) -> BoxFuture<'s, Result<Flow, HttpError>> {
        Box::pin(async { Err(HttpError::internal("handler has no asynchronous part")) })
    }

    /// The routes to run after `handle` returned [`Step::Routes`].
    fn routes(&self) -> Option<&routes::RouteList> {
        None
    }

    /// Routes chosen at run time by [`Flow::Routes`].
    fn indexed_routes(&self, _index: usize) -> Option<&routes::RouteList> {
        None
    }

    /// Error routes of a subroute, run when its routes fail.
    fn error_routes(&self) -> Option<&routes::RouteList> {
        None
    }

    /// Rewrites the response, after `handle` returned [`Step::Wrap`].
    fn on_response(&self, _cx: &Cx<'_>, response: Response) -> Response {
        response
    }

    /// Whether the hook is [`Handler::on_response_async`] rather than
    /// [`Handler::on_response`] (it buffers the response, and may fail).
    fn wraps_async(&self) -> bool {
        false
    }

    /// Rewrites the response asynchronously, after `handle` returned
    /// [`Step::Wrap`], when [`Handler::wraps_async`] says so (templates).
    /// An error fails the request: the server's error routes take over.
    fn on_response_async<'s>(
        &'s self,
        _cx: &'s mut Cx<'_>,
        response: Response,
    ) -> BoxFuture<'s, Result<Response, HttpError>> {
        Box::pin(async move { Ok(response) })
    }

    /// Releases what the handler holds when its config is unloaded.
    fn cleanup(&self) {}

    /// The metrics series the handler is counted in, when the config
    /// collects metrics (see `metrics::Instrumented`).
    fn series(&self, _cx: &Cx<'_>) -> Option<metrics::SeriesRef<'_>> {
        None
    }
}

/// The [`Handler`] methods of a wrapper (metrics, `logs.trace`) that pass
/// straight to the handler in its field `$inner`: every method but
/// `handle` and `series`, which each wrapper writes itself. One list, so a
/// method added to the trait is forwarded by every wrapper (a missing one
/// once kept templates from running under metrics).
macro_rules! forward_handler {
    ($inner:ident) => {
        fn handle_async<'s>(
            &'s self,
            cx: &'s mut $crate::http::Cx<'_>,
        ) -> $crate::http::BoxFuture<'s, Result<$crate::http::Flow, $crate::error::HttpError>> {
            self.$inner.handle_async(cx)
        }

        fn routes(&self) -> Option<&$crate::http::routes::RouteList> {
            self.$inner.routes()
        }

        fn indexed_routes(&self, index: usize) -> Option<&$crate::http::routes::RouteList> {
            self.$inner.indexed_routes(index)
        }

        fn error_routes(&self) -> Option<&$crate::http::routes::RouteList> {
            self.$inner.error_routes()
        }

        fn on_response(
            &self,
            cx: &$crate::http::Cx<'_>,
            response: $crate::http::Response,
        ) -> $crate::http::Response {
            self.$inner.on_response(cx, response)
        }

        fn wraps_async(&self) -> bool {
            self.$inner.wraps_async()
        }

        fn on_response_async<'s>(
            &'s self,
            cx: &'s mut $crate::http::Cx<'_>,
            response: $crate::http::Response,
        ) -> $crate::http::BoxFuture<'s, Result<$crate::http::Response, $crate::error::HttpError>> {
            self.$inner.on_response_async(cx, response)
        }

        fn cleanup(&self) {
            self.$inner.cleanup();
        }
    };
}
pub(crate) use forward_handler;

/// A request matcher module (`http.matchers.*`).
pub trait Matcher: Send + Sync {
    /// Whether the request matches; an error aborts the request.
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError>;

    /// For a host matcher of literal names only: those names, lowercased.
    /// Such a matcher's answer depends on the request's host alone, which
    /// lets a long run of host-only routes be skipped by one hash lookup
    /// (`routes::host_index`).
    fn exact_hosts(&self) -> Option<&[String]> {
        None
    }
}
