//! The standard directives, one file each under `directives/`, and
//! [`register_standard`], the explicit table that maps their names to
//! their parse functions.

mod abort;
mod acme_server;
mod basic_auth;
pub(crate) mod bind;
mod copy_response;
mod copy_response_headers;
mod encode;
mod error;
mod file_server;
mod forward_auth;
mod fs;
mod handle;
mod handle_errors;
mod handle_path;
mod header;
mod intercept;
mod invoke;
pub(crate) mod log;
mod log_append;
mod log_name;
mod log_skip;
mod map;
mod method;
mod metrics;
mod php_fastcgi;
mod push;
mod redir;
mod request_body;
mod request_header;
mod respond;
mod reverse_proxy;
mod rewrite;
mod root;
mod route;
mod templates;
mod timeouts;
pub(crate) mod tls;
mod tracing;
mod try_files;
mod uri;
mod vars;

use super::registry::Directives;

/// Registers every standard directive (Caddy's distribution) in `reg`.
pub fn register_standard(reg: &mut Directives) {
    reg.register("acme_server", acme_server::parse);
    reg.register("bind", bind::parse);
    reg.register("forward_auth", forward_auth::parse);
    reg.register("handle_errors", handle_errors::parse);
    reg.register("handle_path", handle_path::parse);
    reg.register("header", header::parse);
    reg.register("log", log::parse);
    reg.register("php_fastcgi", php_fastcgi::parse);
    reg.register("request_header", request_header::parse);
    reg.register_handler("abort", abort::parse);
    reg.register_handler("basic_auth", basic_auth::parse);
    reg.register_handler("basicauth", basic_auth::parse);
    reg.register_handler("copy_response", copy_response::parse);
    reg.register_handler("copy_response_headers", copy_response_headers::parse);
    reg.register_handler("encode", encode::parse);
    reg.register_handler("error", error::parse);
    reg.register_handler("file_server", file_server::parse);
    reg.register_handler("fs", fs::parse);
    reg.register_handler("handle", handle::parse);
    reg.register_handler("intercept", intercept::parse);
    reg.register_handler("invoke", invoke::parse);
    reg.register_handler("log_append", log_append::parse);
    reg.register_handler("log_name", log_name::parse);
    reg.register_handler("log_skip", log_skip::parse);
    reg.register_handler("map", map::parse);
    reg.register_handler("method", method::parse);
    reg.register_handler("metrics", metrics::parse);
    reg.register_handler("push", push::parse);
    reg.register_handler("redir", redir::parse);
    reg.register_handler("request_body", request_body::parse);
    reg.register_handler("timeouts", timeouts::parse);
    reg.register_handler("respond", respond::parse);
    reg.register_handler("reverse_proxy", reverse_proxy::parse);
    reg.register("rewrite", rewrite::parse);
    reg.register("root", root::parse);
    reg.register_handler("route", route::parse);
    reg.register("tls", tls::parse);
    reg.register("try_files", try_files::parse);
    reg.register_handler("skip_log", log_skip::parse);
    reg.register_handler("templates", templates::parse);
    reg.register_handler("tracing", tracing::parse);
    reg.register_handler("uri", uri::parse);
    reg.register_handler("vars", vars::parse);
}
