//! The standard directives, one file each under `directives/`, and
//! [`register_standard`], the explicit table that maps their names to
//! their parse functions.

pub(crate) mod bind;
mod copy_response;
mod copy_response_headers;
mod forward_auth;
mod handle;
mod handle_errors;
mod handle_path;
mod invoke;
mod log_append;
mod log_name;
mod log_skip;
mod metrics;
mod php_fastcgi;
mod redir;
mod request_body;
mod respond;
mod reverse_proxy;
mod rewrite;
mod root;
mod route;
mod templates;
mod tracing;
mod try_files;
mod uri;
mod vars;

use super::registry::Directives;

/// Registers every standard directive (Caddy's distribution) in `reg`.
pub fn register_standard(reg: &mut Directives) {
    reg.register("bind", bind::parse);
    reg.register_handler("copy_response", copy_response::parse);
    reg.register_handler("copy_response_headers", copy_response_headers::parse);
    reg.register("forward_auth", forward_auth::parse);
    reg.register_handler("handle", handle::parse);
    reg.register("handle_errors", handle_errors::parse);
    reg.register("handle_path", handle_path::parse);
    reg.register_handler("invoke", invoke::parse);
    reg.register_handler("log_append", log_append::parse);
    reg.register_handler("log_name", log_name::parse);
    reg.register_handler("log_skip", log_skip::parse);
    reg.register_handler("metrics", metrics::parse);
    reg.register("php_fastcgi", php_fastcgi::parse);
    reg.register_handler("redir", redir::parse);
    reg.register_handler("request_body", request_body::parse);
    reg.register_handler("respond", respond::parse);
    reg.register_handler("reverse_proxy", reverse_proxy::parse);
    reg.register("rewrite", rewrite::parse);
    reg.register("root", root::parse);
    reg.register_handler("route", route::parse);
    reg.register_handler("skip_log", log_skip::parse);
    reg.register_handler("templates", templates::parse);
    reg.register_handler("tracing", tracing::parse);
    reg.register("try_files", try_files::parse);
    reg.register_handler("uri", uri::parse);
    reg.register_handler("vars", vars::parse);
}
