//! Access-log wiring of a server (`logs`: which logger each host uses,
//! hosts to skip) and the top-level `logging.logs` map built from the
//! `log` directives and the `log` global option (with the default log's
//! `exclude` list and `debug` level).

use super::super::helper::Env;
use super::super::site::Site;
use super::super::value::{class, NamedLog, Payload};
use super::listeners::SiteRef;
use super::Server;
use crate::http::obj::{strings, Obj};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Caddy's `caddyhttp.ServerLogConfig`.
#[derive(Debug, Clone, Default)]
pub struct ServerLogs {
    pub default_logger_name: String,
    pub logger_names: BTreeMap<String, Vec<String>>,
    pub skip_hosts: Vec<String>,
    pub skip_unmapped_hosts: bool,
    pub should_log_credentials: bool,
    pub trace: bool,
}

impl ServerLogs {
    pub fn to_json(&self) -> Value {
        let names: Map<String, Value> = self
            .logger_names
            .iter()
            .map(|(k, v)| (k.clone(), strings(v)))
            .collect();
        Obj::new()
            .opt("default_logger_name", self.default_logger_name.as_str())
            .opt("logger_names", Value::Object(names))
            .opt("skip_hosts", strings(&self.skip_hosts))
            .opt("skip_unmapped_hosts", self.skip_unmapped_hosts)
            .opt("should_log_credentials", self.should_log_credentials)
            .opt("trace", self.trace)
            .build()
    }
}

fn site_logs_of(site: &Site) -> impl Iterator<Item = &NamedLog> {
    site.values(class::CUSTOM_LOG)
        .iter()
        .filter_map(|v| match &v.value {
            Payload::Log(l) => Some(l),
            _ => None,
        })
}

/// Associates a site's hosts with its loggers (or marks them skipped).
pub fn site_logs(srv: &mut Server, site: &Site, r: &SiteRef) {
    let Some(logs) = srv.logs.as_mut() else {
        return;
    };
    let log_hosts = hosts_for_logs(site, r);
    let catch_all = r.keys.iter().any(|&k| site.parsed_keys[k].host.is_empty());
    let mut any = false;
    for ncl in site_logs_of(site) {
        any = true;
        if ncl.no_hostname {
            continue;
        }
        if catch_all && ncl.hostnames.is_empty() {
            logs.default_logger_name = ncl.name.clone();
        } else if !ncl.hostnames.is_empty() {
            for h in &ncl.hostnames {
                logs.logger_names
                    .entry(h.clone())
                    .or_default()
                    .push(ncl.name.clone());
            }
        } else {
            for h in &log_hosts {
                let host = strip_port(h);
                logs.logger_names
                    .entry(host)
                    .or_default()
                    .push(ncl.name.clone());
            }
        }
    }
    if !any {
        if catch_all {
            logs.skip_unmapped_hosts = true;
        }
        logs.skip_hosts.extend(log_hosts);
    }
}

/// Hosts of the keys, with non-standard ports joined (Caddy's
/// `hostsFromKeys(true)`).
fn hosts_for_logs(site: &Site, r: &SiteRef) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for &k in &r.keys {
        let a = &site.parsed_keys[k];
        if a.host.is_empty() {
            continue;
        }
        let h = if !a.port.is_empty() && a.port != "80" && a.port != "443" {
            if a.host.contains(':') {
                format!("[{}]:{}", a.host, a.port)
            } else {
                format!("{}:{}", a.host, a.port)
            }
        } else {
            a.host.clone()
        };
        if !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

fn strip_port(h: &str) -> String {
    match crate::http::address::split_host_port(h) {
        Ok((host, _)) => host,
        Err(_) => h.to_string(),
    }
}

/// The `logging` object of the config, if any logs are configured.
pub fn logging_config(sites: &[Site], order: &[usize], env: &Env) -> Option<Value> {
    let debug = env.options.has("debug");
    let mut custom: Vec<NamedLog> = Vec::new();
    let mut has_default = false;
    let mut add = |mut l: NamedLog, custom: &mut Vec<NamedLog>| {
        if l.name.is_empty() {
            return;
        }
        if l.name == "default" {
            has_default = true;
        }
        if let Some(log) = l.log.as_mut().filter(|_| debug) {
            if log.get("level").is_none_or(|v| v.as_str() == Some("")) {
                log.insert("level".into(), "DEBUG".into());
            }
        }
        custom.push(l);
    };
    for l in &env.options.logs {
        add(l.clone(), &mut custom);
    }
    let has_default_now = custom.iter().any(|l| l.name == "default");
    if !has_default_now && debug {
        let mut m = Map::new();
        m.insert("level".into(), "DEBUG".into());
        custom.push(NamedLog {
            name: "default".into(),
            log: Some(m),
            ..NamedLog::default()
        });
    }
    for &i in order {
        for l in site_logs_of(&sites[i]) {
            add(l.clone(), &mut custom);
        }
    }
    build_logs(custom)
}

fn build_logs(custom: Vec<NamedLog>) -> Option<Value> {
    if custom.is_empty() {
        return None;
    }
    let mut logs: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    if let Some(d) = custom
        .iter()
        .find(|l| l.name == "default" && l.log.is_some())
    {
        logs.insert("default".into(), d.log.clone().unwrap_or_default());
    }
    for l in &custom {
        let Some(log) = &l.log else { continue };
        if l.name == "default" {
            continue;
        }
        logs.insert(l.name.clone(), log.clone());
        let include = log
            .get("include")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if include.is_empty() {
            continue;
        }
        let d = logs.entry("default".into()).or_default();
        let mut ex: Vec<String> = d
            .get("exclude")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        ex.extend(include.iter().filter_map(|s| s.as_str().map(String::from)));
        ex.sort();
        ex.dedup();
        d.insert("exclude".into(), strings(&ex));
    }
    if logs.is_empty() {
        return None;
    }
    let map: Map<String, Value> = logs
        .into_iter()
        .map(|(k, v)| (k, Value::Object(v)))
        .collect();
    Some(Obj::new().set("logs", Value::Object(map)).build())
}
