//! HTTP handler modules (`http.handlers.*`), one file each, and what they
//! share: empty and status-only responses, and header operations.

mod acme_server;
mod authentication;
mod encode;
mod error;
mod file_server;
pub mod header_ops;
mod headers;
mod intercept;
mod invoke;
mod log_append;
mod map;
mod metrics;
mod push;
mod request_body;
pub mod response_matcher;
pub mod reverse_proxy;
pub(crate) mod rewrite;
mod static_response;
mod subroute;
mod templates;
mod timeouts;
mod tracing;
mod vars;

pub use file_server::BROWSE_TEMPLATE;
pub use intercept::{merge as intercept_merge, Intercepted};
pub use rewrite::new as rewrite_handler;
pub use static_response::Abort;
pub use tracing::SpanEnd;

use super::{Body, Response};
use crate::registry::{Module, Registry};
use http::StatusCode;

/// Registers the handler modules.
pub fn register(r: &mut Registry) {
    r.register("http.handlers.intercept", Module::Handler(intercept::new));
    r.register(
        "http.handlers.acme_server",
        Module::Handler(acme_server::new),
    );
    r.register(
        "http.handlers.authentication",
        Module::Handler(authentication::new),
    );
    r.register("http.authentication.providers.http_basic", Module::Provided);
    r.register("http.authentication.hashes.bcrypt", Module::Provided);
    r.register("http.authentication.hashes.argon2id", Module::Provided);
    r.register("http.handlers.encode", Module::Handler(encode::new));
    r.register("http.encoders.gzip", Module::Provided);
    r.register("http.encoders.zstd", Module::Provided);
    r.register("http.handlers.error", Module::Handler(error::new));
    r.register(
        "http.handlers.file_server",
        Module::Handler(file_server::new),
    );
    r.register("http.precompressed.br", Module::Provided);
    r.register("http.precompressed.gzip", Module::Provided);
    r.register("http.precompressed.zstd", Module::Provided);
    r.register("http.handlers.headers", Module::Handler(headers::new));
    r.register("http.handlers.map", Module::Handler(map::new));
    r.register("http.handlers.metrics", Module::Handler(metrics::new));
    r.register("http.handlers.push", Module::Handler(push::new));
    r.register("http.handlers.timeouts", Module::Handler(timeouts::new));
    r.register(
        "http.handlers.request_body",
        Module::Handler(request_body::new),
    );
    r.register(
        "http.handlers.reverse_proxy",
        Module::Handler(reverse_proxy::new),
    );
    for id in [
        "http.reverse_proxy.transport.http",
        "http.reverse_proxy.transport.fastcgi",
        "http.reverse_proxy.upstreams.a",
        "http.reverse_proxy.upstreams.multi",
        "http.reverse_proxy.upstreams.srv",
        "http.reverse_proxy.selection_policies.random",
        "http.reverse_proxy.selection_policies.random_choose",
        "http.reverse_proxy.selection_policies.first",
        "http.reverse_proxy.selection_policies.round_robin",
        "http.reverse_proxy.selection_policies.weighted_round_robin",
        "http.reverse_proxy.selection_policies.least_conn",
        "http.reverse_proxy.selection_policies.ip_hash",
        "http.reverse_proxy.selection_policies.client_ip_hash",
        "http.reverse_proxy.selection_policies.uri_hash",
        "http.reverse_proxy.selection_policies.query",
        "http.reverse_proxy.selection_policies.header",
        "http.reverse_proxy.selection_policies.cookie",
        "tls.ca_pool.source.inline",
        "tls.ca_pool.source.file",
    ] {
        r.register(id, Module::Provided);
    }
    r.register(
        "http.handlers.copy_response",
        Module::Handler(reverse_proxy::copy_response),
    );
    r.register(
        "http.handlers.copy_response_headers",
        Module::Handler(reverse_proxy::copy_response_headers),
    );
    r.register("http.handlers.rewrite", Module::Handler(rewrite::new));
    r.register("http.handlers.invoke", Module::Handler(invoke::new));
    r.register("http.handlers.log_append", Module::Handler(log_append::new));
    r.register(
        "http.handlers.static_response",
        Module::Handler(static_response::new),
    );
    r.register("http.handlers.subroute", Module::Handler(subroute::new));
    r.register("http.handlers.templates", Module::Handler(templates::new));
    r.register("http.handlers.tracing", Module::Handler(tracing::new));
    r.register("http.handlers.vars", Module::Handler(vars::new));
}

/// A response with a status and no body.
pub fn status_response(status: StatusCode) -> Response {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = status;
    r
}
