//! The TLS app (automation policies from `tls` directives and global
//! options, certificate loaders) and the PKI app (`pki` option, `acme_server`
//! CAs). Grows with the TLS-related directives and options.

use super::super::helper::{Env, State};
use super::super::site::Site;
use super::super::value::class;
use super::listeners::Pairing;
use crate::error::Result;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The `tls` app, if anything configures it.
pub fn build(
    pairings: &[Pairing],
    sites: &[Site],
    _env: &Env,
    _state: &mut State,
) -> Result<Option<Value>> {
    let mut certificates: BTreeMap<String, Value> = BTreeMap::new();
    for p in pairings {
        for r in &p.sites {
            for v in sites[r.site].values(class::TLS_CERTIFICATE_LOADER) {
                if let Some(Value::Object(m)) = v.as_json() {
                    for (k, val) in m {
                        merge_loader(&mut certificates, k, val);
                    }
                }
            }
        }
    }
    if certificates.is_empty() {
        return Ok(None);
    }
    let certs: Map<String, Value> = certificates.into_iter().collect();
    let mut app = Map::new();
    app.insert("certificates".into(), Value::Object(certs));
    Ok(Some(Value::Object(app)))
}

/// Certificate loaders of one module are concatenated (`load_files` of
/// several sites become one list).
fn merge_loader(certs: &mut BTreeMap<String, Value>, module: &str, val: &Value) {
    match (certs.get_mut(module), val) {
        (Some(Value::Array(existing)), Value::Array(more)) => existing.extend(more.iter().cloned()),
        (Some(_), _) => {}
        (None, _) => {
            certs.insert(module.to_string(), val.clone());
        }
    }
}

/// The `pki` app, if anything configures it.
pub fn pki_app(_pairings: &[Pairing], _sites: &[Site], env: &Env) -> Option<Value> {
    env.options.get("pki").cloned()
}
