//! End-to-end tests of the admin API: the admin listener on 127.0.0.1:0
//! (or a unix socket), real hyper clients, real reloads.

#[path = "admin/support.rs"]
mod support;

#[path = "admin/endpoints.rs"]
mod endpoints;
#[path = "admin/loader.rs"]
mod loader;
#[path = "admin/metrics.rs"]
mod metrics;
#[path = "admin/protections.rs"]
mod protections;
#[path = "admin/reload.rs"]
mod reload;
#[path = "admin/remote.rs"]
mod remote;
