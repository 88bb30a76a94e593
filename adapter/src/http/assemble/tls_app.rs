//! The TLS app (Caddy's `buildTLSApp`): one automation policy per HTTPS
//! site block (issuers, managers, key type, on-demand from the `tls`
//! directive; global defaults from options), the `automate` loader for
//! hosts sharing a block with a hostless key, certificate loaders, global
//! ACME defaults filled into ACME issuers, and consolidation. Also the PKI
//! app.

mod pki;
mod policy;

pub use pki::pki_app;

use super::super::helper::{Env, State};
use super::super::site::Site;
use super::super::value::{class, Payload};
use super::autohttps::{hosts_from_keys, listeners_use_other_port};
use super::listeners::{Pairing, SiteRef};
use crate::error::{Error, Result};
use crate::http::obj::strings;
pub use policy::match_wildcard;
use policy::Policy;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The `tls` app, if anything configures it.
pub fn build(
    pairings: &[Pairing],
    sites: &[Site],
    env: &Env,
    _state: &mut State,
) -> Result<Option<Value>> {
    let opts = &env.options;
    let http_port = opts.http_port();
    let auto = opts.auto_https();
    let shared = hosts_shared_with_hostless(pairings, sites, &http_port, &auto);
    let plain = |m: String| Error::plain(m);
    let mut policies = PolicyList::default();
    let mut catch_all: Option<usize> = None;
    if let Some(ap) = policy::base_policy(opts, false).map_err(plain)? {
        catch_all = Some(policies.push(ap));
    }
    let mut forced: BTreeSet<String> = BTreeSet::new();
    let wildcards = wildcard_hosts(pairings, sites, &http_port);
    let mut loaders: BTreeMap<String, Value> = BTreeMap::new();
    for p in pairings {
        let addrs: Vec<String> = p.addresses.iter().map(|(a, _)| a.clone()).collect();
        if !listeners_use_other_port(&addrs, &http_port) {
            continue;
        }
        for r in &p.sites {
            let site = &sites[r.site];
            if r.keys.iter().all(|&k| site.parsed_keys[k].scheme == "http") {
                continue;
            }
            site_policy(
                site,
                r,
                env,
                &mut policies,
                &mut catch_all,
                &mut forced,
                &wildcards,
            )?;
            for v in site.values(class::TLS_CERT_LOADER) {
                if let Some(Value::Object(m)) = v.as_json() {
                    for (k, val) in m {
                        merge_loader(&mut loaders, k, val);
                    }
                }
            }
        }
    }
    let mut app = Map::new();
    let automate = automate_loader(&shared, &forced, &auto, &mut policies);
    if !automate.is_empty() {
        loaders.insert("automate".into(), strings(&automate));
    }
    if !loaders.is_empty() {
        app.insert(
            "certificates".into(),
            Value::Object(loaders.into_iter().collect()),
        );
    }
    let has_automation = !policies.refs.is_empty() || automation_options_set(env);
    if has_automation {
        policies.resolve_shared();
        for ap in &mut policies.arena {
            ap.shared_issuers = false;
        }
        apply_global_defaults(&mut policies.arena, env);
        let policies = policy::consolidate(policies.listed());
        check_overlap(&policies)?;
        let automation = automation_json(&policies, env);
        if !automation.as_object().is_some_and(Map::is_empty) {
            app.insert("automation".into(), automation);
        }
    }
    app_flags(&mut app, env);
    Ok((!app.is_empty()).then_some(Value::Object(app)))
}

/// Hosts (HTTPS) that share a site block with a hostless key.
fn hosts_shared_with_hostless(
    pairings: &[Pairing],
    sites: &[Site],
    http_port: &str,
    auto: &[&str],
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if auto.contains(&"off") {
        return out;
    }
    for p in pairings {
        for r in &p.sites {
            let keys: Vec<_> = r
                .keys
                .iter()
                .map(|&k| &sites[r.site].parsed_keys[k])
                .collect();
            let Some(hostless) = keys.iter().find(|a| a.host.is_empty()) else {
                continue;
            };
            for a in &keys {
                if a.original != hostless.original
                    && !a.host.is_empty()
                    && a.scheme != "http"
                    && a.port != http_port
                {
                    out.insert(a.host.clone());
                }
            }
        }
    }
    out
}

/// The automation policies as Caddy builds them: a list of pointers, where
/// a site block whose key has no host shares (and changes) the catch-all
/// policy and lists it again. `arena` holds each policy once, `refs` the
/// list; consolidation sees the list.
#[derive(Default)]
struct PolicyList {
    arena: Vec<Policy>,
    refs: Vec<usize>,
    /// The global issuers as the sites left them (see
    /// [`Policy::shared_issuers`]).
    shared: Option<Vec<Value>>,
}

impl PolicyList {
    fn push(&mut self, ap: Policy) -> usize {
        self.arena.push(ap);
        self.refs.push(self.arena.len() - 1);
        self.arena.len() - 1
    }

    /// Gives every policy on the shared global issuers their final state.
    fn resolve_shared(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        for ap in self.arena.iter_mut().filter(|ap| ap.shared_issuers) {
            ap.issuers = shared.clone();
        }
    }

    fn listed(&self) -> Vec<Policy> {
        self.refs.iter().map(|&i| self.arena[i].clone()).collect()
    }
}

fn site_policy(
    site: &Site,
    r: &SiteRef,
    env: &Env,
    policies: &mut PolicyList,
    catch_all: &mut Option<usize>,
    forced: &mut BTreeSet<String>,
    wildcards: &[String],
) -> Result<()> {
    let plain = |m: String| Error::plain(m);
    let base = policy::base_policy(&env.options, true)
        .map_err(plain)?
        .unwrap_or_default();
    let hosts = hosts_from_keys(site, r);
    let is_catch_all = hosts.is_empty() && catch_all.is_some();
    let alias = (*catch_all).filter(|_| is_catch_all);
    let mut ap = match alias {
        Some(i) => policies.arena[i].clone(),
        None => base.clone(),
    };
    if let Some(shared) = policies.shared.as_ref().filter(|_| ap.shared_issuers) {
        ap.issuers = shared.clone();
    }
    if site.has(class::TLS_ON_DEMAND) {
        ap.on_demand = true;
    }
    if site.has(class::TLS_FORCE_AUTOMATE) {
        forced.extend(hosts.iter().cloned());
    }
    if site.has(class::TLS_REUSE_PRIVATE_KEYS) {
        ap.reuse_private_keys = true;
    }
    if let Some(k) = site
        .values(class::TLS_KEY_TYPE)
        .first()
        .and_then(|v| v.as_json())
        .and_then(Value::as_str)
    {
        ap.key_type = k.to_string();
    }
    if let Some(v) = site
        .values(class::TLS_RENEWAL_WINDOW_RATIO)
        .first()
        .and_then(|v| v.as_json())
    {
        ap.renewal_window_ratio = Some(v.clone());
    }
    let issuers: Vec<Value> = site
        .values(class::TLS_CERT_ISSUER)
        .iter()
        .filter_map(|v| v.as_json().cloned())
        .collect();
    if !issuers.is_empty() {
        if is_catch_all && ap.issuers != issuers {
            return Err(Error::plain(format!("automation policy from site block is also default/catch-all policy because of key without hostname, and the two are in conflict: {:?} != {:?}", ap.issuers, issuers)));
        }
        ap.issuers = issuers;
        ap.shared_issuers = false;
    }
    for m in site.values(class::TLS_CERT_MANAGER) {
        if let Some(v) = m.as_json() {
            ap.managers.push(v.clone());
        }
    }
    set_bind_host(site, &mut ap);
    if ap.shared_issuers {
        policies.shared = Some(ap.issuers.clone());
    }
    let mut subjects: Vec<String> = hosts_not_http(site, r, &env.options.http_port());
    subjects.sort();
    if env.options.auto_https().contains(&"prefer_wildcard")
        && covered_by_wildcard(&subjects, wildcards)
        && ap == base
    {
        return Ok(());
    }
    ap.subjects = subjects;
    let ap2 = split_internal(&mut ap)?;
    let index = match alias {
        Some(i) => {
            policies.arena[i] = ap;
            policies.refs.push(i);
            i
        }
        None => policies.push(ap),
    };
    if hosts.is_empty() && catch_all.is_none() {
        *catch_all = Some(index);
    }
    if let Some(ap2) = ap2 {
        policies.push(ap2);
    }
    Ok(())
}

/// Sets the ACME challenges' bind host from the site's `bind`.
fn set_bind_host(site: &Site, ap: &mut Policy) {
    let Some(first) = site.values(class::BIND).first() else {
        return;
    };
    let host = match &first.value {
        Payload::Json(v) => v["addresses"][0].as_str().unwrap_or("").to_string(),
        _ => String::new(),
    };
    for iss in &mut ap.issuers {
        if iss.get("module").and_then(Value::as_str) != Some("acme") {
            continue;
        }
        let Some(m) = iss.as_object_mut() else {
            continue;
        };
        let c = m
            .entry("challenges")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(c) = c.as_object_mut() {
            if c.get("bind_host")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                c.insert("bind_host".into(), host.clone().into());
            }
        }
    }
}

fn wildcard_hosts(pairings: &[Pairing], sites: &[Site], http_port: &str) -> Vec<String> {
    let mut out = Vec::new();
    for p in pairings {
        let addrs: Vec<String> = p.addresses.iter().map(|(a, _)| a.clone()).collect();
        if !listeners_use_other_port(&addrs, http_port) {
            continue;
        }
        for r in &p.sites {
            for &k in &r.keys {
                if let Some(w) = sites[r.site].parsed_keys[k].host.strip_prefix("*.") {
                    out.push(w.to_string());
                }
            }
        }
    }
    out
}

fn covered_by_wildcard(hosts: &[String], wildcards: &[String]) -> bool {
    hosts.iter().any(|h| {
        !h.starts_with("*.")
            && wildcards
                .iter()
                .any(|w| policy::match_wildcard(h, &format!("*.{w}")))
    })
}

fn hosts_not_http(site: &Site, r: &SiteRef, http_port: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for &k in &r.keys {
        let a = &site.parsed_keys[k];
        if !a.host.is_empty() && a.scheme != "http" && a.port != http_port && !out.contains(&a.host)
        {
            out.push(a.host.clone());
        }
    }
    out
}

/// Splits internal names off into a policy with the internal issuer when
/// no issuer was configured and public names are mixed with internal ones.
fn split_internal(ap: &mut Policy) -> Result<Option<Policy>> {
    if !ap.issuers.is_empty() {
        return Ok(None);
    }
    let (mut internal, mut external) = (Vec::new(), Vec::new());
    for s in &ap.subjects {
        if s.to_ascii_lowercase().ends_with(".ts.net") {
            continue;
        }
        if !policy::subject_qualifies_for_cert(s) {
            return Err(Error::plain(format!(
                "subject does not qualify for certificate: '{s}'"
            )));
        }
        if policy::qualifies_for_public(ap.on_demand, s) {
            external.push(s.clone());
        } else {
            internal.push(s.clone());
        }
    }
    if external.is_empty() || internal.is_empty() {
        return Ok(None);
    }
    ap.subjects = external;
    let mut ap2 = ap.clone();
    ap2.subjects = internal;
    ap2.issuers = vec![policy::internal_issuer()];
    ap2.raw_issuers_only = true;
    Ok(Some(ap2))
}

fn automate_loader(
    shared: &BTreeSet<String>,
    forced: &BTreeSet<String>,
    auto: &[&str],
    policies: &mut PolicyList,
) -> Vec<String> {
    let mut al: Vec<String> = Vec::new();
    let mut internal = Policy {
        issuers: vec![policy::internal_issuer()],
        raw_issuers_only: true,
        ..Policy::default()
    };
    if !auto.contains(&"off") && !auto.contains(&"disable_certs") {
        for h in shared {
            al.push(h.clone());
            if !policy::qualifies_for_public_cert(h) {
                internal.subjects.push(h.clone());
            }
        }
    }
    let mut in_al: HashSet<String> = al.iter().cloned().collect();
    for n in forced {
        if in_al.insert(n.clone()) {
            al.push(n.clone());
        }
    }
    al.sort();
    if !internal.subjects.is_empty() {
        policies.push(internal);
    }
    al
}

fn merge_loader(certs: &mut BTreeMap<String, Value>, module: &str, val: &Value) {
    match (certs.get_mut(module), val) {
        (Some(Value::Array(existing)), Value::Array(more)) => existing.extend(more.iter().cloned()),
        (Some(_), _) => {}
        (None, _) => {
            certs.insert(module.to_string(), val.clone());
        }
    }
}

fn automation_options_set(env: &Env) -> bool {
    let o = &env.options;
    ["on_demand_tls", "renew_interval", "ocsp_interval"]
        .iter()
        .any(|k| o.has(k))
        || o.get("storage_clean_interval")
            .is_some_and(|v| !v.is_boolean())
}

/// Global ACME options become default issuers of policies without any,
/// and fill in every ACME issuer's unset fields.
fn apply_global_defaults(policies: &mut [Policy], env: &Env) {
    let o = &env.options;
    let keys = [
        "email",
        "acme_ca",
        "acme_ca_root",
        "acme_dns",
        "acme_eab",
        "preferred_chains",
    ];
    if keys.iter().any(|k| o.has(k)) {
        for ap in policies.iter_mut() {
            if ap.issuers.is_empty() && policy::has_all_public_names(ap) {
                ap.issuers = if o.has("acme_ca") {
                    vec![serde_json::json!({"module": "acme"})]
                } else {
                    default_issuers(o.str("email"))
                };
            }
        }
    }
    for ap in policies.iter_mut() {
        for iss in &mut ap.issuers {
            super::super::options::acme::fill_in_defaults(iss, o);
        }
    }
}

/// Caddy's `DefaultIssuers`: ACME (Let's Encrypt), plus ZeroSSL's ACME
/// endpoint when an email is known.
pub fn default_issuers(email: &str) -> Vec<Value> {
    let mut v = vec![serde_json::json!({"module": "acme"})];
    if !email.trim().is_empty() {
        v.push(serde_json::json!({"ca": "https://acme.zerossl.com/v2/DV90", "module": "acme"}));
    }
    v
}

fn check_overlap(policies: &[Policy]) -> Result<()> {
    let mut seen = BTreeSet::new();
    for ap in policies {
        for s in &ap.subjects {
            if !seen.insert(s) {
                return Err(Error::plain(format!("hostname appears in more than one automation policy, making certificate management ambiguous: {s}")));
            }
        }
    }
    Ok(())
}

fn automation_json(policies: &[Policy], env: &Env) -> Value {
    let o = &env.options;
    let mut m = Map::new();
    if !policies.is_empty() {
        m.insert(
            "policies".into(),
            Value::Array(policies.iter().map(Policy::to_json).collect()),
        );
    }
    if let Some(v) = o.get("on_demand_tls") {
        m.insert("on_demand".into(), v.clone());
    }
    for (opt, key) in [
        ("ocsp_interval", "ocsp_interval"),
        ("renew_interval", "renew_interval"),
    ] {
        if let Some(v) = o.get(opt) {
            m.insert(key.into(), v.clone());
        }
    }
    if let Some(v) = o.get("storage_clean_interval").filter(|v| !v.is_boolean()) {
        m.insert("storage_clean_interval".into(), v.clone());
    }
    Value::Object(m)
}

fn app_flags(app: &mut Map<String, Value>, env: &Env) {
    let o = &env.options;
    if let Some(v) = o.get("tls_resolvers") {
        app.insert("resolvers".into(), v.clone());
    }
    if let Some(v) = o.get("dns") {
        app.insert("dns".into(), v.clone());
    }
    if let Some(v) = o.get("ech") {
        app.insert("encrypted_client_hello".into(), v.clone());
    }
    if o.get("ocsp_stapling")
        .and_then(|v| v.get("disable_stapling"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        app.insert("disable_ocsp_stapling".into(), true.into());
    }
    if o.str("storage_check") == "off" {
        app.insert("disable_storage_check".into(), true.into());
    }
    if o.get("storage_clean_interval") == Some(&Value::Bool(false)) {
        app.insert("disable_storage_clean".into(), true.into());
    }
}
