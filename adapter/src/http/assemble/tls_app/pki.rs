//! The `pki` app (Caddy's `buildPKIApp`): the CAs of the `pki` global
//! option plus those the `acme_server` directive refers to, with
//! `skip_install_trust` applied.

use super::super::super::helper::Env;
use super::super::super::site::Site;
use super::super::super::value::class;
use super::super::listeners::Pairing;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The `pki` app (Caddy's `buildPKIApp`): the CAs of the `pki` option,
/// plus those `acme_server` refers to; `skip_install_trust` turns trust
/// installation off for each (and adds the `local` CA if there is none).
pub fn pki_app(pairings: &[Pairing], sites: &[Site], env: &Env) -> Option<Value> {
    let o = &env.options;
    let mut cas: BTreeMap<String, Value> = o
        .get("pki")
        .and_then(|p| p.get("certificate_authorities"))
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    for p in pairings {
        for r in &p.sites {
            for v in sites[r.site].values(class::PKI_CA) {
                if let Some(id) = v.as_json().and_then(Value::as_str) {
                    cas.entry(id.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                }
            }
        }
    }
    let skip_trust = o.has("skip_install_trust");
    if cas.is_empty() && skip_trust {
        cas.insert("local".into(), Value::Object(Map::new()));
    }
    if cas.is_empty() {
        return None;
    }
    if skip_trust {
        for ca in cas.values_mut() {
            if let Some(m) = ca.as_object_mut() {
                let fields = std::mem::take(m);
                *m = with_install_trust_off(fields);
            }
        }
    }
    let mut app = Map::new();
    app.insert(
        "certificate_authorities".into(),
        Value::Object(cas.into_iter().collect()),
    );
    Some(Value::Object(app))
}

/// Inserts `install_trust: false` at its place in `caddypki.CA` field order.
fn with_install_trust_off(fields: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut placed = false;
    for (k, v) in fields {
        if !placed && matches!(k.as_str(), "root" | "intermediate" | "storage") {
            out.insert("install_trust".into(), false.into());
            placed = true;
        }
        out.insert(k, v);
    }
    if !placed {
        out.insert("install_trust".into(), false.into());
    }
    out
}
