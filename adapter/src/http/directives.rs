//! The standard directives, one file each under `directives/`, and
//! [`register_standard`], the explicit table that maps their names to
//! their parse functions.

mod abort;
mod basic_auth;
mod encode;
mod error;
mod file_server;
mod fs;
mod handle;
mod handle_errors;
mod handle_path;
mod header;
mod intercept;
mod map;
mod method;
mod push;
mod request_header;
mod respond;
mod reverse_proxy;
mod route;

use super::registry::Directives;

/// Registers every standard directive (Caddy's distribution) in `reg`.
pub fn register_standard(reg: &mut Directives) {
    reg.register_handler("abort", abort::parse);
    reg.register_handler("basic_auth", basic_auth::parse);
    reg.register_handler("basicauth", basic_auth::parse);
    reg.register_handler("encode", encode::parse);
    reg.register_handler("error", error::parse);
    reg.register_handler("file_server", file_server::parse);
    reg.register_handler("fs", fs::parse);
    reg.register_handler("handle", handle::parse);
    reg.register("handle_errors", handle_errors::parse);
    reg.register("handle_path", handle_path::parse);
    reg.register("header", header::parse);
    reg.register_handler("intercept", intercept::parse);
    reg.register_handler("map", map::parse);
    reg.register_handler("method", method::parse);
    reg.register_handler("push", push::parse);
    reg.register("request_header", request_header::parse);
    reg.register_handler("respond", respond::parse);
    reg.register_handler("reverse_proxy", reverse_proxy::parse);
    reg.register_handler("route", route::parse);
}
