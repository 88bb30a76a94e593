//! Assembly: from parsed sites to the whole config. Pair sites with
//! listeners (`listeners`), build one server per pairing (`server`,
//! `autohttps`, `logging`), apply the `servers` options, then the HTTP
//! app, the TLS and PKI apps (`tls_app`), logging, storage and admin.

pub mod autohttps;
pub mod listeners;
pub mod logging;
pub mod server;
pub mod tls_app;

use super::helper::{Env, State};
use super::site::Site;
use super::value::{routes_into_json, Route};
use crate::error::Result;
use crate::http::obj::{strings, Obj};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Caddy's `caddyhttp.AutoHTTPSConfig`.
#[derive(Debug, Clone, Default)]
pub struct AutoHttps {
    pub disabled: bool,
    pub disable_redir: bool,
    pub disable_certs: bool,
    pub skip: Vec<String>,
    pub skip_certs: Vec<String>,
    pub ignore_loaded_certs: bool,
    pub prefer_wildcard: bool,
}

impl AutoHttps {
    fn to_json(&self) -> Value {
        Obj::new()
            .opt("disable", self.disabled)
            .opt("disable_redirects", self.disable_redir)
            .opt("disable_certificates", self.disable_certs)
            .opt("skip", strings(&self.skip))
            .opt("skip_certificates", strings(&self.skip_certs))
            .opt("ignore_loaded_certificates", self.ignore_loaded_certs)
            .opt("prefer_wildcard", self.prefer_wildcard)
            .build()
    }
}

/// Caddy's `caddyhttp.Server`, the parts the Caddyfile sets.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub listen: Vec<String>,
    pub listener_wrappers: Vec<Value>,
    pub routes: Vec<Route>,
    pub errors: Option<Vec<Route>>,
    pub named_routes: BTreeMap<String, Value>,
    pub tls_connection_policies: Vec<Map<String, Value>>,
    pub auto_https: Option<AutoHttps>,
    pub logs: Option<logging::ServerLogs>,
    pub listen_protocols: Vec<Option<Vec<String>>>,
    /// Fields from the `servers` option, merged in field order on output.
    pub options: Map<String, Value>,
    pub metrics: Option<Value>,
}

/// `caddyhttp.Server` JSON field order (the keys this adapter may set).
const SERVER_FIELDS: &[&str] = &[
    "listen",
    "listener_wrappers",
    "packet_conn_wrappers",
    "read_timeout",
    "read_header_timeout",
    "read_idle_timeout",
    "read_min_rate",
    "write_timeout",
    "write_idle_timeout",
    "write_min_rate",
    "max_write_chunk",
    "idle_timeout",
    "keepalive_interval",
    "keepalive_idle",
    "keepalive_count",
    "max_header_bytes",
    "enable_full_duplex",
    "expected_underscore_headers",
    "expected_dot_headers",
    "routes",
    "errors",
    "named_routes",
    "tls_connection_policies",
    "automatic_https",
    "strict_sni_host",
    "trusted_proxies",
    "client_ip_headers",
    "trusted_proxies_strict",
    "trusted_proxies_unix",
    "logs",
    "protocols",
    "listen_protocols",
    "allow_0rtt",
    "metrics",
    "trace",
];

impl Server {
    /// The server as JSON, in Go field order (consuming it, so route
    /// handlers are moved rather than copied).
    pub fn into_json(mut self) -> Value {
        let routes = std::mem::take(&mut self.routes);
        let errors = self.errors.take();
        let mut fields = std::mem::take(&mut self.options);
        fn put(fields: &mut Map<String, Value>, k: &str, v: Value) {
            if !crate::http::obj::is_empty(&v) {
                fields.insert(k.to_string(), v);
            }
        }
        put(&mut fields, "listen", strings(&self.listen));
        if !self.listener_wrappers.is_empty() {
            put(
                &mut fields,
                "listener_wrappers",
                Value::Array(self.listener_wrappers.clone()),
            );
        }
        put(&mut fields, "routes", routes_into_json(routes));
        if let Some(errs) = errors {
            fields.insert(
                "errors".into(),
                Obj::new().opt("routes", routes_into_json(errs)).build(),
            );
        }
        let named: Map<String, Value> = self.named_routes.clone().into_iter().collect();
        put(&mut fields, "named_routes", Value::Object(named));
        let cps = self
            .tls_connection_policies
            .iter()
            .cloned()
            .map(Value::Object)
            .collect();
        put(&mut fields, "tls_connection_policies", Value::Array(cps));
        if let Some(ah) = &self.auto_https {
            fields.insert("automatic_https".into(), ah.to_json());
        }
        if let Some(l) = &self.logs {
            fields.insert("logs".into(), l.to_json());
        }
        if !self.listen_protocols.is_empty() {
            let lp = self
                .listen_protocols
                .iter()
                .map(|p| p.as_ref().map_or(Value::Null, |v| strings(v)))
                .collect();
            fields.insert("listen_protocols".into(), Value::Array(lp));
        }
        if let Some(m) = &self.metrics {
            fields.insert("metrics".into(), m.clone());
        }
        order_keys(fields, SERVER_FIELDS)
    }
}

/// Re-inserts `fields` with the known keys in `order` first, others after.
pub fn order_keys(mut fields: Map<String, Value>, order: &[&str]) -> Value {
    let mut out = Map::new();
    for k in order {
        if let Some(v) = fields.remove(*k) {
            out.insert((*k).to_string(), v);
        }
    }
    out.extend(fields);
    Value::Object(out)
}

/// Length minus wildcards and placeholders (Caddy's `specificity`).
pub fn specificity(s: &str) -> usize {
    let mut l = s.len() - s.matches('*').count();
    let mut rest = s;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            return l;
        };
        let end = start + end + 1;
        l = l.saturating_sub(end - start);
        rest = &rest[end..];
    }
    l
}

/// Builds the whole config.
pub fn build(
    mut sites: Vec<Site>,
    env: &Env,
    named_routes: &BTreeMap<String, Value>,
    state: &mut State,
) -> Result<Value> {
    let mut pairings = listeners::pairings(&sites, &env.options)?;
    let mut piles = server::RoutePiles::take(&mut sites, &pairings);
    let mut servers: Vec<(String, Server)> = Vec::with_capacity(pairings.len());
    for (i, p) in pairings.iter_mut().enumerate() {
        let srv = server::build(i, p, &sites, env, named_routes, state, &mut piles)?;
        servers.push((format!("srv{i}"), srv));
    }
    let mut servers = super::options::servers::apply(servers, &env.options)?;
    let metrics = hoist_metrics(&mut servers, env);
    let site_order: Vec<usize> = pairings
        .iter()
        .flat_map(|p| p.sites.iter().map(|r| r.site))
        .collect();
    let mut apps = Map::new();
    let http = http_app(servers, metrics, env);
    let tls = tls_app::build(&pairings, &sites, env, state)?;
    let mut cfg = Map::new();
    super::options::top_level(&mut cfg, &mut apps, env);
    if let Some(h) = http {
        apps.insert("http".into(), h);
    }
    if let Some(t) = tls {
        apps.insert("tls".into(), t);
    }
    if let Some(pki) = tls_app::pki_app(&pairings, &sites, env) {
        apps.insert("pki".into(), pki);
    }
    super::options::extra_apps(&mut apps, env);
    if let Some(l) = logging::logging_config(&sites, &site_order, env) {
        cfg.insert("logging".into(), l);
    }
    if !apps.is_empty() {
        let sorted: BTreeMap<String, Value> = apps.into_iter().collect();
        cfg.insert("apps".into(), Value::Object(sorted.into_iter().collect()));
    }
    Ok(order_keys(cfg, &["admin", "logging", "storage", "apps"]))
}

/// Per-server `metrics` move to the HTTP app (`per_host` if any asked).
fn hoist_metrics(servers: &mut [(String, Value)], env: &Env) -> Option<Value> {
    let mut metrics = env.options.get("metrics").cloned();
    for (_, srv) in servers.iter_mut() {
        let Some(m) = srv.as_object_mut().and_then(|o| o.remove("metrics")) else {
            continue;
        };
        let per_host = |v: &Option<Value>| {
            v.as_ref()
                .and_then(|v| v.get("per_host"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let ph = per_host(&metrics) || per_host(&Some(m));
        metrics = Some(Obj::new().opt("per_host", ph).build());
    }
    metrics
}

fn http_app(mut servers: Vec<(String, Value)>, metrics: Option<Value>, env: &Env) -> Option<Value> {
    if servers.is_empty() {
        return None;
    }
    servers.sort_by(|a, b| a.0.cmp(&b.0));
    let map: Map<String, Value> = servers.into_iter().collect();
    let o = &env.options;
    Some(
        Obj::new()
            .opt(
                "http_port",
                o.get("http_port").cloned().unwrap_or(Value::Null),
            )
            .opt(
                "https_port",
                o.get("https_port").cloned().unwrap_or(Value::Null),
            )
            .opt(
                "grace_period",
                o.get("grace_period").cloned().unwrap_or(Value::Null),
            )
            .opt(
                "shutdown_delay",
                o.get("shutdown_delay").cloned().unwrap_or(Value::Null),
            )
            .set("servers", Value::Object(map))
            .some("metrics", metrics)
            .build(),
    )
}
