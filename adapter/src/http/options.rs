//! Global options: the first block without keys. Each option is parsed by
//! a function in the closed table [`lookup`] (one file per option or small
//! group under `options/`) that records its result in [`Options`].

pub mod acme;
mod auto_https;
mod listener_wrappers;
mod order;
mod pki;
mod ports;
mod server_options;
pub mod servers;
mod simple;
mod storage_redis;

use super::order::default_order;
use super::registry::Directives;
use super::value::NamedLog;
use crate::error::{Error, Result};
use crate::syntax::{Dispenser, ServerBlock};
use serde_json::Value;
use std::collections::HashMap;

/// The evaluated global options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Options by name (Caddy's `options map[string]any`).
    pub values: HashMap<String, Value>,
    /// The directive order in effect (the default, edited by `order`).
    pub directive_order: Vec<String>,
    /// `log` options (folded: several may be given).
    pub logs: Vec<NamedLog>,
    /// `servers` options (folded), sorted by listener address length.
    pub servers: Vec<ServerOptions>,
    /// `default_bind` values (folded): each a list of addresses and the
    /// protocols to serve them with.
    pub default_bind: Vec<Bind>,
}

/// One `servers [<listener>]` option block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerOptions {
    pub listener_address: String,
    pub name: String,
    /// Server fields to set, in `caddyhttp.Server` field order.
    pub fields: serde_json::Map<String, Value>,
    /// `log_credentials`.
    pub log_credentials: bool,
}

/// Listener addresses plus protocols (`bind` and `default_bind`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bind {
    pub addresses: Vec<String>,
    pub protocols: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            values: HashMap::new(),
            directive_order: default_order(),
            logs: Vec::new(),
            servers: Vec::new(),
            default_bind: Vec::new(),
        }
    }
}

impl Options {
    /// An option's value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Whether an option was set.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A string option ("" if unset).
    pub fn str(&self, name: &str) -> &str {
        self.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// The HTTP port (`http_port`, default 80).
    pub fn http_port(&self) -> String {
        self.get("http_port")
            .and_then(Value::as_i64)
            .map_or_else(|| "80".to_string(), |p| p.to_string())
    }

    /// The HTTPS port (`https_port`, default 443).
    pub fn https_port(&self) -> String {
        self.get("https_port")
            .and_then(Value::as_i64)
            .map_or_else(|| "443".to_string(), |p| p.to_string())
    }

    /// The `auto_https` values.
    pub fn auto_https(&self) -> Vec<&str> {
        match self.get("auto_https") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// A global option's parse function: `d` is over the option's segment,
/// positioned before its name.
pub type OptionFn = fn(&mut Dispenser, &mut Options, &Directives) -> Result<()>;

/// The standard global options.
pub fn lookup(name: &str) -> Option<OptionFn> {
    Some(match name {
        "http_port" | "https_port" => ports::parse,
        "order" => order::parse,
        "auto_https" => auto_https::parse,
        "email" | "acme_ca" | "acme_ca_root" => acme::parse_string,
        "acme_eab" => acme::parse_eab,
        "acme_dns" | "dns" => acme::parse_dns,
        "tls_resolvers" => acme::parse_resolvers,
        "preferred_chains" => acme::parse_preferred_chains,
        "cert_lifetime" | "grace_period" | "shutdown_delay" | "renew_interval"
        | "ocsp_interval" => simple::parse_duration_opt,
        "debug" => simple::parse_debug,
        "local_certs" | "skip_install_trust" => simple::parse_flag,
        "default_sni" | "fallback_sni" | "key_type" | "persist_config" | "storage_check" => {
            simple::parse_string
        }
        "storage_clean_interval" => simple::parse_clean_interval,
        "ocsp_stapling" => simple::parse_ocsp,
        "renewal_window_ratio" => simple::parse_ratio,
        "admin" => simple::parse_admin,
        "storage" => simple::parse_storage,
        "on_demand_tls" => simple::parse_on_demand,
        "metrics" => simple::parse_metrics,
        "servers" => server_options::parse,
        "default_bind" => parse_default_bind,
        "log" => parse_log,
        "pki" => pki::parse_pki,
        "cert_issuer" => pki::parse_cert_issuer,
        "ech" => pki::parse_ech,
        "filesystem" => pki::parse_filesystem,
        "events" => pki::parse_events,
        _ => return None,
    })
}

/// Evaluates the global options block, if the first block is one, and
/// returns the options and the remaining blocks.
pub fn evaluate(
    mut blocks: Vec<ServerBlock>,
    directives: &Directives,
) -> Result<(Options, Vec<ServerBlock>)> {
    let mut opts = Options::default();
    if blocks.first().is_none_or(|b| !b.keys.is_empty()) {
        return Ok((opts, blocks));
    }
    let global = blocks.remove(0);
    for seg in global.segments {
        let Some(first) = seg.first().cloned() else {
            continue;
        };
        let Some(f) = lookup(&first.text) else {
            let mut err = Error::plain(format!(
                "{}:{}: unrecognized global option: {}",
                first.file.name, first.line, first.text
            ));
            err.attach(&first, "unknown option");
            return Err(err);
        };
        let mut d = Dispenser::new(seg);
        f(&mut d, &mut opts, directives).map_err(|mut e| {
            e.message = format!(
                "parsing caddyfile tokens for '{}': {}",
                first.text, e.message
            );
            e
        })?;
    }
    finish_servers(&mut opts)?;
    if opts.get("acme_dns") == Some(&Value::Null) && !opts.has("dns") {
        return Err(Error::plain(
            "acme_dns specified without DNS provider config, but no provider specified with 'dns' global option",
        ));
    }
    Ok((opts, blocks))
}

/// Sorts `servers` options by listener address length (longest first)
/// and rejects duplicates.
fn finish_servers(opts: &mut Options) -> Result<()> {
    opts.servers
        .sort_by_key(|s| std::cmp::Reverse(s.listener_address.len()));
    let mut seen = std::collections::HashSet::new();
    for s in &opts.servers {
        if !seen.insert(s.listener_address.clone()) {
            return Err(Error::plain(format!(
                "cannot have 'servers' global options with duplicate listener addresses: {}",
                s.listener_address
            )));
        }
    }
    Ok(())
}

/// Top-level config fields from options: `admin`, `storage`,
/// `persist_config`.
pub fn top_level(
    cfg: &mut serde_json::Map<String, Value>,
    _apps: &mut serde_json::Map<String, Value>,
    env: &super::helper::Env,
) {
    let o = &env.options;
    let mut admin = o.get("admin").cloned();
    if o.str("persist_config") == "off" {
        let a = admin.get_or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(m) = a {
            let config = m
                .entry("config")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(c) = config {
                c.insert("persist".into(), Value::Bool(false));
            }
        }
    }
    if let Some(a) = admin {
        cfg.insert("admin".into(), a);
    }
    if let Some(s) = o.get("storage") {
        cfg.insert("storage".into(), s.clone());
    }
}

/// Apps configured wholly by options (`filesystem`, `events`).
pub fn extra_apps(apps: &mut serde_json::Map<String, Value>, env: &super::helper::Env) {
    for (opt, app) in [("filesystem", "caddy.filesystems"), ("events", "events")] {
        if let Some(v) = env.options.get(opt) {
            apps.insert(app.into(), v.clone());
        }
    }
}

/// `default_bind <hosts...> { protocols … }`: the bind of sites without
/// `bind` (folded: several may be given).
fn parse_default_bind(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    let v = super::directives::bind::parse_bind(d)?;
    opts.default_bind
        .push(super::assemble::listeners::bind_from_json(&v));
    Ok(())
}

/// `log [<name>] { … }`: a named logger (folded: several may be given,
/// each name once).
fn parse_log(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    let mut names: std::collections::HashSet<String> =
        opts.logs.iter().map(|l| l.name.clone()).collect();
    let log = super::directives::log::parse_log(d, Some(&mut names), &mut 0)?;
    opts.logs.push(log);
    Ok(())
}
