//! The `http` app of the config model: servers, routes, error routes,
//! automatic HTTPS settings and server access-log settings.

use super::{CaddyDuration, HandlerConfig, StringList};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `apps.http`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpApp {
    pub(crate) http_port: Option<u16>,
    pub(crate) https_port: Option<u16>,
    pub(crate) grace_period: Option<CaddyDuration>,
    pub(crate) shutdown_delay: Option<CaddyDuration>,
    #[serde(default)]
    pub(crate) servers: BTreeMap<String, ServerConfig>,
    pub(crate) metrics: Option<MetricsConfig>,
}

/// `apps.http.metrics` (Caddy's `Metrics`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// A `host` label on every series.
    #[serde(default)]
    pub(crate) per_host: bool,
    /// Every host gets its own label, not only those the routes name.
    #[serde(default)]
    pub(crate) observe_catchall_hosts: bool,
    #[serde(default)]
    pub(crate) otlp: bool,
}

/// `apps.http.servers.NAME`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default)]
    pub(crate) listen: Vec<String>,
    #[serde(default)]
    pub(crate) listener_wrappers: Vec<Map<String, Value>>,
    pub(crate) read_timeout: Option<CaddyDuration>,
    pub(crate) read_header_timeout: Option<CaddyDuration>,
    pub(crate) write_timeout: Option<CaddyDuration>,
    /// A stall longer than this reading a request body aborts it
    /// (default 1 minute).
    pub(crate) read_idle_timeout: Option<CaddyDuration>,
    /// With `read_idle_timeout`: bytes per second a body must average.
    #[serde(default)]
    pub(crate) read_min_rate: i64,
    /// A write to the client stalled longer than this fails (default 1
    /// minute).
    pub(crate) write_idle_timeout: Option<CaddyDuration>,
    /// Refused when set: see `http::server::settings`.
    #[serde(default)]
    pub(crate) write_min_rate: i64,
    /// The most bytes one socket write to the client covers (unset: no
    /// bound; the stall limit resets on every partial write anyway).
    #[serde(default)]
    pub(crate) max_write_chunk: i64,
    pub(crate) idle_timeout: Option<CaddyDuration>,
    /// TCP keep-alive of accepted connections (Go's defaults: 15 s, 15 s,
    /// 9 probes), set on the listener when the config goes live.
    pub(crate) keepalive_interval: Option<CaddyDuration>,
    pub(crate) keepalive_idle: Option<CaddyDuration>,
    pub(crate) keepalive_count: Option<u32>,
    pub(crate) max_header_bytes: Option<usize>,
    #[serde(default)]
    pub(crate) enable_full_duplex: bool,
    #[serde(default)]
    pub(crate) routes: Vec<RouteConfig>,
    pub(crate) errors: Option<ErrorsConfig>,
    #[serde(default)]
    pub(crate) named_routes: BTreeMap<String, RouteConfig>,
    #[serde(default)]
    pub(crate) tls_connection_policies: Vec<Map<String, Value>>,
    pub(crate) automatic_https: Option<AutoHttpsConfig>,
    pub(crate) strict_sni_host: Option<bool>,
    /// A `http.ip_sources` module (`{"source": "static", "ranges": [...]}`).
    pub(crate) trusted_proxies: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) client_ip_headers: Vec<String>,
    #[serde(default)]
    pub(crate) trusted_proxies_strict: i64,
    #[serde(default)]
    pub(crate) trusted_proxies_unix: bool,
    pub(crate) logs: Option<ServerLogs>,
    pub(crate) protocols: Option<Vec<String>>,
    /// Per `listen` entry (`null`: the server's `protocols`).
    pub(crate) listen_protocols: Option<Vec<Option<Vec<String>>>>,
    pub(crate) metrics: Option<Map<String, Value>>,
    /// `false` only: bellhop never accepts 0-RTT early data (TLS over TCP
    /// or QUIC), so `true` is refused at load.
    pub(crate) allow_0rtt: Option<bool>,
    /// Request header names with `_` kept (else dropped).
    #[serde(default)]
    pub(crate) expected_underscore_headers: Vec<String>,
    /// Request header names with `.` kept (else dropped).
    #[serde(default)]
    pub(crate) expected_dot_headers: Vec<String>,
}

/// One route: matcher sets (OR of ANDs), a handler chain, grouping and
/// termination.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub(crate) group: Option<String>,
    #[serde(default, rename = "match")]
    pub(crate) matchers: Vec<Map<String, Value>>,
    #[serde(default)]
    pub(crate) handle: Vec<HandlerConfig>,
    #[serde(default)]
    pub(crate) terminal: bool,
}

/// `errors`: routes run when the primary chain fails.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorsConfig {
    #[serde(default)]
    pub(crate) routes: Vec<RouteConfig>,
}

/// `automatic_https`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoHttpsConfig {
    #[serde(default)]
    pub(crate) disable: bool,
    #[serde(default)]
    pub(crate) disable_redirects: bool,
    #[serde(default)]
    pub(crate) disable_certificates: bool,
    #[serde(default)]
    pub(crate) skip: Vec<String>,
    #[serde(default)]
    pub(crate) skip_certificates: Vec<String>,
    #[serde(default)]
    pub(crate) ignore_loaded_certificates: bool,
    #[serde(default)]
    pub(crate) prefer_wildcard: bool,
}

/// A server's `logs`: enables access logs and routes them to loggers.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerLogs {
    pub(crate) default_logger_name: Option<String>,
    #[serde(default)]
    pub(crate) logger_names: BTreeMap<String, StringList>,
    #[serde(default)]
    pub(crate) skip_hosts: Vec<String>,
    #[serde(default)]
    pub(crate) skip_unmapped_hosts: bool,
    #[serde(default)]
    pub(crate) should_log_credentials: bool,
    #[serde(default)]
    pub(crate) trace: bool,
}
