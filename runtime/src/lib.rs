//! bellhop-runtime: loads Caddy's canonical JSON config, provisions its
//! modules and serves it.
//!
//! Invariant: the runtime never sees Caddyfile text. Where it needs an
//! adapter (admin `POST /load` with `text/caddyfile`), the binary injects one.
//!
//! Code map:
//! - `config`: the strict serde model of Caddy's JSON (errors name the path).
//! - `registry`: module IDs → constructors; the provisioning context.
//! - `instance`: a provisioned, immutable config; `app`: the [`Runtime`]
//!   that swaps instances atomically and drains on stop.
//! - `listeners`: listen-address syntax and the reference-counted socket pool.
//! - `http`: servers, routes, matchers, handlers, placeholders, access logs.
//! - `tls`: the `tls` and `pki` apps (certificates, issuers, storage,
//!   connection policies, the TLS accept path).
//! - `logging`: the `logging` app (loggers, writers, encoders).
//! - `admin`: the admin API (config endpoints, atomic changes, autosave).
//! - `error`: [`Error`] (config/listen) and `HttpError` (per request, with
//!   who is at fault).
//!
//! Use from the binary:
//! ```no_run
//! # async fn f(json: &[u8]) -> Result<(), bellhop_runtime::Error> {
//! let rt = bellhop_runtime::Runtime::new();
//! rt.load(json)?;
//! rt.run_until_shutdown(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod app;
pub mod config;
pub mod error;
pub mod http;
pub mod instance;
pub mod listeners;
pub mod logging;
pub mod registry;
pub mod tls;
pub mod util;

pub use app::{validate, Runtime};
pub use error::{Error, HttpError};
pub use registry::{register_standard, Registry};

/// Every module ID bellhop implements, sorted (`bellhop list-modules`).
pub fn module_ids() -> Vec<&'static str> {
    Registry::standard().ids()
}
