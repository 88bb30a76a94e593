//! HTTP handler modules (`http.handlers.*`), one file each, and what they
//! share: empty and status-only responses, and header operations.

pub mod header_ops;
mod headers;
mod invoke;
mod static_response;
mod subroute;
mod vars;

pub use static_response::Abort;

use super::{Body, Response};
use crate::registry::{Module, Registry};
use http::StatusCode;

/// Registers the handler modules.
pub fn register(r: &mut Registry) {
    r.register("http.handlers.headers", Module::Handler(headers::new));
    r.register("http.handlers.invoke", Module::Handler(invoke::new));
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
