//! TLS automation policies (`caddytls.AutomationPolicy`): the base policy
//! from global options, naming rules (public vs internal names, wildcard
//! matching as certmagic does it) and the consolidation of equal policies.

use crate::http::gosort::stable_sort;
use crate::http::options::Options;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::net::IpAddr;

/// One automation policy under construction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    pub subjects: Vec<String>,
    pub issuers: Vec<Value>,
    pub managers: Vec<Value>,
    pub must_staple: bool,
    pub renewal_window_ratio: Option<Value>,
    pub key_type: String,
    pub storage: Option<Value>,
    pub on_demand: bool,
    pub reuse_private_keys: bool,
    pub disable_ocsp_stapling: bool,
    pub ocsp_overrides: Option<Value>,
    /// The issuers were set as raw JSON only (Caddy's split-off internal
    /// policy and the hostless-key one: `IssuersRaw` without `Issuers`),
    /// which consolidation treats as the default internal issuer.
    pub raw_issuers_only: bool,
    /// The issuers are the global `cert_issuer` list, which Caddy shares
    /// by pointer among every policy built from the global options: a
    /// change one site makes to them (its `bind` host) reaches them all.
    pub shared_issuers: bool,
}

/// Which default issuer a policy without issuers would get.
#[derive(PartialEq, Eq)]
enum ImplicitIssuer {
    CatchAll,
    Public,
    Internal,
    Mixed,
}

impl Policy {
    /// The policy as JSON in Go field order (issuers key-sorted, as
    /// module objects).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            if !crate::http::obj::is_empty(&v) {
                m.insert(k.into(), v);
            }
        };
        put("subjects", crate::http::obj::strings(&self.subjects));
        let iss = self
            .issuers
            .iter()
            .map(crate::http::value::module_json)
            .collect();
        put("issuers", Value::Array(iss));
        let mgr = self
            .managers
            .iter()
            .map(crate::http::value::module_json)
            .collect();
        put("get_certificate", Value::Array(mgr));
        put("must_staple", self.must_staple.into());
        put(
            "renewal_window_ratio",
            self.renewal_window_ratio.clone().unwrap_or(Value::Null),
        );
        put("key_type", self.key_type.clone().into());
        put("storage", self.storage.clone().unwrap_or(Value::Null));
        put("on_demand", self.on_demand.into());
        put("reuse_private_keys", self.reuse_private_keys.into());
        put("disable_ocsp_stapling", self.disable_ocsp_stapling.into());
        put(
            "ocsp_overrides",
            self.ocsp_overrides.clone().unwrap_or(Value::Null),
        );
        Value::Object(m)
    }

    /// Everything but the subjects is unset.
    fn is_empty_besides_subjects(&self) -> bool {
        let other = Policy {
            subjects: self.subjects.clone(),
            ..Policy::default()
        };
        *self == other
    }

    /// Everything but the subjects and certificate managers is unset.
    fn is_empty_besides_subjects_and_managers(&self) -> bool {
        let other = Policy {
            subjects: self.subjects.clone(),
            managers: self.managers.clone(),
            ..Policy::default()
        };
        *self == other
    }

    fn implicit_issuer(&self) -> ImplicitIssuer {
        if self.subjects.is_empty() {
            return ImplicitIssuer::CatchAll;
        }
        let public = |s: &String| qualifies_for_public(self.on_demand, s);
        match (
            self.subjects.iter().any(public),
            self.subjects.iter().any(|s| !public(s)),
        ) {
            (true, true) => ImplicitIssuer::Mixed,
            (true, false) => ImplicitIssuer::Public,
            _ => ImplicitIssuer::Internal,
        }
    }

    /// Caddy's `automationPolicyUsesDefaultInternalIssuer`.
    fn uses_default_internal_issuer(&self) -> bool {
        if self.issuers.is_empty() {
            return self.implicit_issuer() == ImplicitIssuer::Internal;
        }
        self.raw_issuers_only && self.issuers.len() == 1 && self.issuers[0] == internal_issuer()
    }

    /// Caddy's `automationPoliciesHaveSameIssuers`: equal issuers (and,
    /// when neither has any, default issuers that would agree), or both on
    /// the default internal issuer.
    fn same_issuers(&self, o: &Policy) -> bool {
        if self.issuers == o.issuers {
            if !self.issuers.is_empty() {
                return true;
            }
            let (a, b) = (self.implicit_issuer(), o.implicit_issuer());
            return a == ImplicitIssuer::CatchAll || b == ImplicitIssuer::CatchAll || a == b;
        }
        self.uses_default_internal_issuer() && o.uses_default_internal_issuer()
    }

    fn same_settings(&self, o: &Policy) -> bool {
        self.same_issuers(o)
            && self.managers == o.managers
            && self.storage == o.storage
            && self.must_staple == o.must_staple
            && self.key_type == o.key_type
            && self.on_demand == o.on_demand
            && self.reuse_private_keys == o.reuse_private_keys
            && self.renewal_window_ratio == o.renewal_window_ratio
    }
}

/// The policy the global options imply (`cert_issuer`, `local_certs`,
/// `key_type`, `ocsp_stapling`); `None` when none is set, unless `always`.
pub fn base_policy(opts: &Options, always: bool) -> Result<Option<Policy>, String> {
    let issuers = opts.get("cert_issuer");
    let local = opts.has("local_certs");
    let key_type = opts.get("key_type");
    let ocsp = opts.get("ocsp_stapling");
    let ratio = opts.get("renewal_window_ratio");
    let acme_defaults = [
        "acme_ca",
        "acme_ca_root",
        "acme_dns",
        "acme_eab",
        "preferred_chains",
    ]
    .iter()
    .any(|k| opts.has(k));
    if issuers.is_none()
        && !local
        && key_type.is_none()
        && ocsp.is_none()
        && ratio.is_none()
        && !acme_defaults
    {
        return Ok(always.then(Policy::default));
    }
    let mut ap = Policy {
        renewal_window_ratio: ratio.cloned(),
        ..Policy::default()
    };
    if let Some(k) = key_type.and_then(Value::as_str) {
        ap.key_type = k.to_string();
    }
    if issuers.is_some() && local {
        return Err("global options are ambiguous: local_certs is confusing when combined with cert_issuer, because local_certs is also a specific kind of issuer".into());
    }
    if let Some(Value::Array(iss)) = issuers {
        ap.issuers = iss.clone();
        ap.shared_issuers = true;
    } else if local {
        ap.issuers = vec![internal_issuer()];
    }
    if acme_defaults {
        for iss in &mut ap.issuers {
            crate::http::options::acme::fill_in_defaults(iss, opts);
        }
    }
    if let Some(o) = ocsp {
        ap.disable_ocsp_stapling = o
            .get("disable_stapling")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        ap.ocsp_overrides = o.get("responder_overrides").cloned();
    }
    Ok(Some(ap))
}

/// `{"module": "internal"}`.
pub fn internal_issuer() -> Value {
    serde_json::json!({"module": "internal"})
}

/// certmagic's `SubjectIsIP`.
pub fn subject_is_ip(s: &str) -> bool {
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
}

/// certmagic's `SubjectIsInternal`.
pub fn subject_is_internal(s: &str) -> bool {
    let s = s.trim_end_matches('.').to_ascii_lowercase();
    let host = crate::http::address::split_host_port(&s).map_or(s.clone(), |(h, _)| h);
    host == "localhost"
        || [".localhost", ".local", ".internal", ".home.arpa"]
            .iter()
            .any(|suf| host.ends_with(suf))
        || is_internal_ip(&host)
}

fn is_internal_ip(s: &str) -> bool {
    match s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

/// certmagic's `SubjectQualifiesForCert`: not blank, no leading or
/// trailing dot, a wildcard only as the whole left-most label (or `*`),
/// none of the special characters certmagic refuses.
pub fn subject_qualifies_for_cert(s: &str) -> bool {
    !s.trim().is_empty()
        && !s.starts_with('.')
        && !s.ends_with('.')
        && (!s.contains('*') || s.starts_with("*.") || s == "*")
        && !s.contains(|c| "()[]{}<> \t\n\"\\!@#$%^&|;'+=".contains(c))
}

/// Caddy's lenient public-name check (multi-level wildcards are fine
/// with on-demand).
pub fn qualifies_for_public(ap_on_demand: bool, s: &str) -> bool {
    !subject_is_ip(s) && !subject_is_internal(s) && (s.matches("*.").count() < 2 || ap_on_demand)
}

/// certmagic's `SubjectQualifiesForPublicCert`.
pub fn qualifies_for_public_cert(s: &str) -> bool {
    subject_qualifies_for_cert(s) && qualifies_for_public(false, s)
}

fn all_public(ap: &Policy) -> bool {
    !ap.subjects.iter().any(|s| {
        !qualifies_for_public(ap.on_demand, s) || s.to_ascii_lowercase().ends_with(".ts.net")
    })
}

/// Whether all names of the policy are public (for global ACME defaults).
pub fn has_all_public_names(ap: &Policy) -> bool {
    all_public(ap)
}

/// certmagic's `MatchWildcard`.
pub fn match_wildcard(subject: &str, wildcard: &str) -> bool {
    if subject == wildcard {
        return true;
    }
    if !wildcard.contains('*') {
        return false;
    }
    let s: Vec<&str> = subject.split('.').collect();
    let w: Vec<&str> = wildcard.split('.').collect();
    s.len() == w.len() && s.iter().zip(&w).all(|(a, b)| *b == "*" || a == b)
}

fn is_subset(a: &Policy, b: &Policy) -> bool {
    if b.subjects.is_empty() {
        return true;
    }
    if a.subjects.is_empty() {
        return false;
    }
    a.subjects
        .iter()
        .all(|x| b.subjects.iter().any(|y| match_wildcard(x, y)))
}

/// Caddy's `consolidateAutomationPolicies`.
pub fn consolidate(mut aps: Vec<Policy>) -> Vec<Policy> {
    stable_sort(&mut aps, |i, j| {
        if is_subset(i, j) {
            return true;
        }
        if is_subset(j, i) {
            return false;
        }
        i.subjects.len() > j.subjects.len()
    });
    let orig = aps.len();
    let mut empty = 0;
    let mut i = 0;
    while i < aps.len() {
        if aps[i].is_empty_besides_subjects() {
            empty += 1;
            // an empty policy may go when auto-HTTPS would pick its names up
            // anyway: it is last, or the policy it shadows is empty too
            // (certificate managers allowed); shadowing a policy with other
            // settings is its purpose, so then it stays
            let shadowed = (i + 1..aps.len()).find(|&j| is_subset(&aps[i], &aps[j]));
            if i == aps.len() - 1
                || shadowed.is_some_and(|j| aps[j].is_empty_besides_subjects_and_managers())
            {
                aps.remove(i);
                continue;
            }
        }
        i += 1;
    }
    if empty == orig {
        return Vec::new();
    }
    merge_duplicates(aps)
}

/// The first policy after `i` whose names cover policy `i`'s.
fn shadows(i: usize, aps: &[Option<Policy>]) -> Option<usize> {
    let a = aps[i].as_ref()?;
    (i + 1..aps.len()).find(|&j| aps[j].as_ref().is_some_and(|b| is_subset(a, b)))
}

/// Drops duplicate policies and merges those with equal settings (Caddy's
/// merge loop); removed policies leave `None` slots, so removal is O(1),
/// and each merge target keeps a set of its subjects.
fn merge_duplicates(aps: Vec<Policy>) -> Vec<Policy> {
    let mut slots: Vec<Option<Policy>> = aps.into_iter().map(Some).collect();
    let n = slots.len();
    for i in 0..n {
        let mut seen: Option<HashSet<String>> = None;
        for j in i + 1..n {
            let (Some(a), Some(b)) = (slots[i].as_ref(), slots[j].as_ref()) else {
                continue;
            };
            if a == b {
                slots[j] = None;
                continue;
            }
            if !a.same_settings(b) {
                continue;
            }
            if !a.subjects.is_empty() && b.subjects.is_empty() {
                if shadows(i, &slots).is_some_and(|s| s >= j) {
                    slots[i] = None;
                    break;
                }
                continue;
            }
            let Some(b) = slots[j].take() else { continue };
            let Some(a) = slots[i].as_mut() else { break };
            let set = seen.get_or_insert_with(|| a.subjects.iter().cloned().collect());
            for subject in b.subjects {
                if set.insert(subject.clone()) {
                    a.subjects.push(subject);
                }
            }
        }
    }
    slots.into_iter().flatten().collect()
}
