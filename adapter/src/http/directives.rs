//! The standard directives, one file each under `directives/`, and
//! [`register_standard`], the explicit table that maps their names to
//! their parse functions.

mod acme_server;
pub(crate) mod bind;
mod handle;
mod handle_errors;
mod handle_path;
pub(crate) mod log;
mod respond;
mod reverse_proxy;
mod route;
pub(crate) mod tls;

use super::registry::Directives;

/// Registers every standard directive (Caddy's distribution) in `reg`.
pub fn register_standard(reg: &mut Directives) {
    reg.register("acme_server", acme_server::parse);
    reg.register("bind", bind::parse);
    reg.register_handler("handle", handle::parse);
    reg.register("handle_errors", handle_errors::parse);
    reg.register("handle_path", handle_path::parse);
    reg.register("log", log::parse);
    reg.register_handler("respond", respond::parse);
    reg.register_handler("reverse_proxy", reverse_proxy::parse);
    reg.register_handler("route", route::parse);
    reg.register("tls", tls::parse);
}
