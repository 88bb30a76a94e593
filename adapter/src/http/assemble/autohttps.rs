//! The TLS side of a server: connection policies from `tls` directives
//! (with SNI matchers for the site's hosts, `default_sni`/`fallback_sni`),
//! the auto-HTTPS skip list for `http://` keys, the catch-all policy Caddy
//! adds when a server qualifies for TLS, policy consolidation, and the
//! HTTP-vs-HTTPS conflict check.

use super::super::address::Address;
use super::super::helper::Env;
use super::super::site::Site;
use super::super::value::class;
use super::listeners::{Pairing, SiteRef};
use super::Server;
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};

mod conn_policies;
use conn_policies::{consolidate_policies, shield_wildcard_client_auth};

/// What the TLS decisions of one server accumulate over its sites.
pub struct TlsState {
    default_sni: String,
    fallback_sni: String,
    http_port: String,
    https_port: String,
    wildcard_hosts: HashSet<String>,
    /// Per site without TLS settings of its own, its hosts (Caddy's
    /// `emptyConnPolicies`), for [`shield_wildcard_client_auth`].
    unsettled: Vec<Vec<String>>,
    /// The hosts in the server's `automatic_https.skip` list.
    skip_set: HashSet<String>,
    has_catch_all: bool,
    qualifies: bool,
    will_add_policy: bool,
}

impl TlsState {
    pub fn new(srv: &Server, p: &Pairing, sites: &[Site], env: &Env) -> Self {
        let wildcard_hosts = p
            .sites
            .iter()
            .flat_map(|r| r.keys.iter().map(move |&k| &sites[r.site].parsed_keys[k]))
            .filter_map(|a| a.host.strip_prefix("*.").map(String::from))
            .collect();
        Self {
            default_sni: env.options.str("default_sni").to_string(),
            fallback_sni: env.options.str("fallback_sni").to_string(),
            http_port: env.options.http_port(),
            https_port: env.options.https_port(),
            wildcard_hosts,
            unsettled: Vec::new(),
            skip_set: HashSet::new(),
            has_catch_all: false,
            qualifies: false,
            will_add_policy: srv.auto_https.as_ref().is_none_or(|a| !a.disabled),
        }
    }

    /// Applies one site's TLS settings to the server.
    pub fn site(&mut self, srv: &mut Server, site: &Site, r: &SiteRef, _env: &Env) {
        let mut hosts = hosts_from_keys(site, r);
        let forced: BTreeSet<String> = if site.has(class::TLS_FORCE_AUTOMATE) {
            hosts.iter().cloned().collect()
        } else {
            BTreeSet::new()
        };
        for cp in site.values(class::TLS_CONNECTION_POLICY) {
            let Some(Value::Object(cp)) = cp.as_json() else {
                continue;
            };
            let cp = self.policy_for_hosts(cp.clone(), &mut hosts);
            if !settings_empty(&cp) || hosts.iter().any(|h| forced.contains(h)) {
                srv.tls_connection_policies.push(cp);
                self.has_catch_all = hosts.is_empty();
            } else if !hosts.is_empty() {
                self.unsettled.push(hosts.clone());
            }
        }
        let has_policies = site.has(class::TLS_CONNECTION_POLICY);
        if !has_policies {
            let mut specific: Vec<String> = hosts
                .into_iter()
                .filter(|h| !h.is_empty() && !h.contains('*'))
                .collect();
            if !specific.is_empty() {
                specific.sort();
                self.unsettled.push(specific);
            }
        }
        for &k in &r.keys {
            self.key(srv, &site.parsed_keys[k], has_policies);
        }
    }

    fn policy_for_hosts(
        &self,
        mut cp: Map<String, Value>,
        hosts: &mut Vec<String>,
    ) -> Map<String, Value> {
        let snapshot = hosts.clone();
        for h in &snapshot {
            if *h == self.default_sni {
                hosts.push(String::new());
                cp.insert("default_sni".into(), self.default_sni.clone().into());
                break;
            }
            if *h == self.fallback_sni {
                hosts.push(String::new());
                cp.insert("fallback_sni".into(), self.fallback_sni.clone().into());
                break;
            }
        }
        if hosts.is_empty() {
            if !self.default_sni.is_empty() {
                cp.insert("default_sni".into(), self.default_sni.clone().into());
            }
            if !self.fallback_sni.is_empty() {
                cp.insert("fallback_sni".into(), self.fallback_sni.clone().into());
            }
            return cp;
        }
        hosts.sort();
        let mut m = Map::new();
        m.insert("sni".into(), hosts.clone().into());
        let mut out = Map::new();
        out.insert("match".into(), Value::Object(m));
        out.extend(cp.into_iter().filter(|(k, _)| k != "match"));
        out
    }

    fn key(&mut self, srv: &mut Server, addr: &Address, has_policies: bool) {
        if listeners_use_other_port(&srv.listen, &self.http_port)
            && addr.scheme == "http"
            && !addr.host.is_empty()
        {
            let ah = srv.auto_https.get_or_insert_with(Default::default);
            if self.skip_set.insert(addr.host.clone()) {
                ah.skip.push(addr.host.clone());
            }
        }
        let tls_enabled = has_policies
            || (!addr.host.is_empty()
                && srv
                    .auto_https
                    .as_ref()
                    .is_none_or(|a| !a.skip.contains(&addr.host)));
        if addr.scheme == "https"
            || (addr.scheme != "http" && addr.port != self.http_port && tls_enabled)
        {
            self.qualifies = true;
        }
        if self.qualifies {
            if let Some(ah) = srv.auto_https.as_mut().filter(|a| a.prefer_wildcard) {
                let base = addr
                    .host
                    .split_once('.')
                    .map_or(addr.host.as_str(), |(_, b)| b);
                if !addr.host.starts_with("*.") && self.wildcard_hosts.contains(base) {
                    ah.skip_certs.push(addr.host.clone());
                }
            }
        }
        self.will_add_policy = self.will_add_policy
            && (addr.port == self.https_port
                || (addr.port != self.http_port && !addr.host.is_empty()));
    }

    /// Adds the catch-all policy if needed and consolidates.
    pub fn finish(&self, srv: &mut Server, index: usize) -> Result<()> {
        shield_wildcard_client_auth(&mut srv.tls_connection_policies, &self.unsettled);
        let any_sni = !self.default_sni.is_empty() || !self.fallback_sni.is_empty();
        if self.qualifies
            && !self.has_catch_all
            && (!srv.tls_connection_policies.is_empty() || !self.will_add_policy || any_sni)
        {
            let mut cp = Map::new();
            if !self.default_sni.is_empty() {
                cp.insert("default_sni".into(), self.default_sni.clone().into());
            }
            if !self.fallback_sni.is_empty() {
                cp.insert("fallback_sni".into(), self.fallback_sni.clone().into());
            }
            srv.tls_connection_policies.push(cp);
        }
        let cps = std::mem::take(&mut srv.tls_connection_policies);
        srv.tls_connection_policies = consolidate_policies(cps).map_err(|e| {
            Error::plain(format!(
                "consolidating TLS connection policies for server {index}: {e}"
            ))
        })?;
        Ok(())
    }
}

/// The site's distinct hosts for these keys; empty if any key has no host.
pub fn hosts_from_keys(site: &Site, r: &SiteRef) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for &k in &r.keys {
        let a = &site.parsed_keys[k];
        if a.host.is_empty() {
            return Vec::new();
        }
        if !out.contains(&a.host) {
            out.push(a.host.clone());
        }
    }
    out
}

fn settings_empty(cp: &Map<String, Value>) -> bool {
    cp.iter()
        .all(|(k, v)| k == "match" || super::super::obj::is_empty(v))
}

/// Whether any listener's port differs from `port`.
pub fn listeners_use_other_port(listen: &[String], port: &str) -> bool {
    let Ok(port) = port.parse::<u32>() else {
        return false;
    };
    listen.iter().any(|ln| match listener_port_range(ln) {
        Some((lo, hi)) => port < lo || port > hi,
        None => false,
    })
}

fn listener_port_range(ln: &str) -> Option<(u32, u32)> {
    let rest = match ln.split_once('/') {
        // Caddy parses unix and fd listeners with port 0.
        Some((n, _)) if super::listeners::is_unix_or_fd(n) => return Some((0, 0)),
        Some((_, r)) => r,
        None => ln,
    };
    let port = rest.rsplit_once(':')?.1;
    let (lo, hi) = port.split_once('-').unwrap_or((port, port));
    Some((lo.parse().ok()?, hi.parse().ok()?))
}

/// A server cannot serve HTTP and HTTPS at once (Caddy's
/// `detectConflictingSchemes`).
pub fn detect_conflicting_schemes(
    srv: &Server,
    p: &Pairing,
    sites: &[Site],
    env: &Env,
) -> Result<()> {
    let (http_port, https_port) = (env.options.http_port(), env.options.https_port());
    let mut mode = "";
    let has_policies = !srv.tls_connection_policies.is_empty();
    for r in &p.sites {
        for &k in &r.keys {
            let a = &sites[r.site].parsed_keys[k];
            let want = if a.scheme == "http" || a.port == http_port {
                "HTTP"
            } else if a.scheme == "https" || a.port == https_port || has_policies {
                "HTTPS"
            } else if a.host.is_empty() {
                "HTTP"
            } else {
                continue;
            };
            if want == "HTTP" && mode == "HTTPS" {
                let mut msg = format!(
                    "server listening on {:?} is configured for HTTPS and cannot natively multiplex HTTP and HTTPS: {}",
                    srv.listen, a.original
                );
                if a.scheme.is_empty() && a.host.is_empty() {
                    msg.push_str(" (try specifying https:// in the address)");
                }
                return Err(Error::plain(msg));
            }
            if want == "HTTP" && has_policies {
                return Err(Error::plain(format!(
                    "server listening on {:?} is HTTP, but attempts to configure TLS connection policies",
                    srv.listen
                )));
            }
            if want == "HTTPS" && mode == "HTTP" {
                return Err(Error::plain(format!(
                    "server listening on {:?} is configured for HTTP and cannot natively multiplex HTTP and HTTPS: {}",
                    srv.listen, a.original
                )));
            }
            mode = want;
        }
    }
    Ok(())
}
