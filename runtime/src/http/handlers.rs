//! HTTP handler modules (`http.handlers.*`), one file each, and what they
//! share: empty and status-only responses, and header operations.

mod authentication;
mod encode;
mod error;
mod file_server;
pub mod header_ops;
mod headers;
mod invoke;
mod log_append;
mod map;
mod request_body;
pub mod response_matcher;
mod reverse_proxy;
mod rewrite;
mod static_response;
mod subroute;
mod vars;

pub use rewrite::uri::encode_path as rewrite_encode;
pub use static_response::Abort;

use super::{Body, Response};
use crate::registry::{Module, Registry};
use http::StatusCode;

/// Registers the handler modules.
pub fn register(r: &mut Registry) {
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
    r.register(
        "http.handlers.request_body",
        Module::Handler(request_body::new),
    );
    r.register(
        "http.handlers.reverse_proxy",
        Module::Handler(reverse_proxy::new),
    );
    r.register("http.reverse_proxy.transport.http", Module::Provided);
    r.register(
        "http.reverse_proxy.selection_policies.first",
        Module::Provided,
    );
    r.register(
        "http.reverse_proxy.selection_policies.random",
        Module::Provided,
    );
    r.register(
        "http.reverse_proxy.selection_policies.round_robin",
        Module::Provided,
    );
    r.register("http.handlers.rewrite", Module::Handler(rewrite::new));
    r.register("http.handlers.invoke", Module::Handler(invoke::new));
    r.register("http.handlers.log_append", Module::Handler(log_append::new));
    r.register(
        "http.handlers.static_response",
        Module::Handler(static_response::new),
    );
    r.register("http.handlers.subroute", Module::Handler(subroute::new));
    r.register("http.handlers.vars", Module::Handler(vars::new));
}

/// A response with a status and no body.
pub fn status_response(status: StatusCode) -> Response {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = status;
    r
}
