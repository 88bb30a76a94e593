//! The standard directives, one file each under `directives/`, and
//! [`register_standard`], the explicit table that maps their names to
//! their parse functions.

mod copy_response;
mod copy_response_headers;
mod forward_auth;
mod handle;
mod handle_errors;
mod handle_path;
mod php_fastcgi;
mod respond;
mod reverse_proxy;
mod route;

use super::registry::Directives;

/// Registers every standard directive (Caddy's distribution) in `reg`.
pub fn register_standard(reg: &mut Directives) {
    reg.register_handler("copy_response", copy_response::parse);
    reg.register_handler("copy_response_headers", copy_response_headers::parse);
    reg.register("forward_auth", forward_auth::parse);
    reg.register_handler("handle", handle::parse);
    reg.register("handle_errors", handle_errors::parse);
    reg.register("handle_path", handle_path::parse);
    reg.register("php_fastcgi", php_fastcgi::parse);
    reg.register_handler("respond", respond::parse);
    reg.register_handler("reverse_proxy", reverse_proxy::parse);
    reg.register_handler("route", route::parse);
}
