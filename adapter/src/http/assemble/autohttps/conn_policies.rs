//! Consolidation of a server's TLS connection policies (Caddy's
//! `consolidateConnPolicies`): duplicates dropped, policies with equal
//! matchers merged (conflicts are errors, certificate tags combined),
//! SNI-only policies with equal settings joined; and the policies that
//! keep hosts under a client-auth wildcard from inheriting it.

use crate::http::gosort::stable_sort;
use serde_json::{Map, Value};

/// The SNI names of a policy's matcher.
fn sni_of(cp: &Map<String, Value>) -> Vec<&str> {
    cp.get("match")
        .and_then(|m| m.get("sni"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Hosts whose sites set no TLS connection settings of their own (one list
/// per such site, as Caddy's `emptyConnPolicies`) would inherit the client
/// authentication of a wildcard policy covering them, since policies are
/// first-match. Each host is given to the first client-auth policy whose
/// wildcard covers it, and each such policy gets a copy of itself without
/// `client_authentication`, matching only those hosts, placed right before
/// it (Caddy #7860).
pub(super) fn shield_wildcard_client_auth(
    cps: &mut Vec<Map<String, Value>>,
    unsettled: &[Vec<String>],
) {
    let wildcards: Vec<Vec<&str>> = cps
        .iter()
        .map(|cp| {
            if !cp.contains_key("client_authentication") {
                return Vec::new();
            }
            sni_of(cp).into_iter().filter(|n| n.contains('*')).collect()
        })
        .collect();
    let mut shielded: Vec<Vec<String>> = vec![Vec::new(); cps.len()];
    for host in unsettled.iter().flatten() {
        let covering = wildcards.iter().position(|names| {
            names
                .iter()
                .any(|w| super::super::tls_app::match_wildcard(host, w))
        });
        if let Some(i) = covering {
            shielded[i].push(host.clone());
        }
    }
    for (i, mut hosts) in shielded.into_iter().enumerate().rev() {
        if hosts.is_empty() {
            continue;
        }
        hosts.sort();
        hosts.dedup();
        let mut shield = Map::new();
        for (k, v) in &cps[i] {
            match k.as_str() {
                "match" => {
                    shield.insert(k.clone(), serde_json::json!({ "sni": hosts }));
                }
                "client_authentication" => {}
                _ => {
                    shield.insert(k.clone(), v.clone());
                }
            }
        }
        cps.insert(i, shield);
    }
}

/// Whether two policies match only by SNI and agree on everything else.
fn sni_mergeable(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    let sni_only = |m: &Map<String, Value>| {
        m.get("match")
            .and_then(Value::as_object)
            .is_some_and(|o| o.len() == 1 && o.contains_key("sni"))
    };
    sni_only(a)
        && sni_only(b)
        && a.len() == b.len()
        && a.iter().all(|(k, v)| k == "match" || b.get(k) == Some(v))
}

/// Sorts catch-all policies last, drops duplicates and merges policies
/// with equal matchers where their settings do not conflict.
pub(super) fn consolidate_policies(
    mut cps: Vec<Map<String, Value>>,
) -> Result<Vec<Map<String, Value>>, String> {
    stable_sort(&mut cps, |i, j| {
        !j.contains_key("match") && i.contains_key("match")
    });
    let mut i = 0;
    while i < cps.len() {
        let mut again = false;
        for j in 0..cps.len() {
            if j == i {
                continue;
            }
            if cps[i] == cps[j] {
                cps.remove(j);
                again = true;
                break;
            }
            if sni_mergeable(&cps[i], &cps[j]) {
                let extra: Vec<Value> = sni_of(&cps[j])
                    .into_iter()
                    .filter(|s| !sni_of(&cps[i]).contains(s))
                    .map(Value::from)
                    .collect();
                if let Some(Value::Array(a)) =
                    cps[i].get_mut("match").and_then(|m| m.get_mut("sni"))
                {
                    a.extend(extra);
                }
                cps.remove(j);
                again = true;
                break;
            }
            if cps[i].get("match") == cps[j].get("match") {
                let other = cps[j].clone();
                merge_policy(&mut cps[i], other)?;
                cps.remove(j);
                again = true;
                break;
            }
        }
        if !again {
            i += 1;
        }
    }
    Ok(cps)
}

fn merge_policy(a: &mut Map<String, Value>, b: Map<String, Value>) -> Result<(), String> {
    const CONFLICTS: &[(&str, &str)] = &[
        ("alpn", "ALPN"),
        ("cipher_suites", "cipher suites"),
        ("curves", "curves"),
        ("default_sni", "default SNI"),
        ("protocol_min", "min protocol"),
        ("protocol_max", "max protocol"),
    ];
    for (k, what) in CONFLICTS {
        if let (Some(x), Some(y)) = (a.get(*k), b.get(*k)) {
            if x != y {
                return Err(format!(
                    "two policies with same match criteria have conflicting {what}: {x} vs. {y}"
                ));
            }
        }
    }
    if !a.contains_key("client_authentication") && b.contains_key("client_authentication") {
        return Err(format!(
            "two policies with same match criteria have conflicting client auth configuration: {:?} vs. {:?}",
            a.get("client_authentication"),
            b.get("client_authentication")
        ));
    }
    for (k, v) in b {
        if k == "certificate_selection" {
            merge_any_tags(a, &v);
        }
        a.entry(k).or_insert(v);
    }
    Ok(())
}

/// Both policies select certificates by tag: the tags are combined.
fn merge_any_tags(a: &mut Map<String, Value>, b_sel: &Value) {
    let Some(more) = b_sel.get("any_tag").and_then(Value::as_array) else {
        return;
    };
    let Some(Value::Array(tags)) = a
        .get_mut("certificate_selection")
        .and_then(|s| s.get_mut("any_tag"))
    else {
        return;
    };
    for t in more {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
}
