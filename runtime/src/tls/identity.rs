//! This instance's identity (`admin.identity`, Caddy's `IdentityConfig`):
//! certificates for its `identifiers`, obtained and renewed by the `tls`
//! app with the identity's `issuers` (default: ACME, as Caddy's), so that
//! the remote admin endpoint (`admin/remote.rs`) can present them. The
//! identity's policy comes before the app's own for those names. Unlike
//! Caddy, which keeps the identity in a cache and storage of its own, the
//! certificates live in the config's cache and storage.

use super::config::AutomationPolicy;
use super::issuer::AutoPolicy;
use crate::config::AdminConfig;
use crate::error::Error;
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IdentityJson {
    #[serde(default)]
    identifiers: Vec<String>,
    issuers: Option<Vec<Map<String, Value>>>,
}

fn parse(admin: Option<&AdminConfig>) -> Result<Option<IdentityJson>, Error> {
    match admin.and_then(|a| a.identity.as_ref()) {
        None => Ok(None),
        Some(m) => crate::config::decode(&Value::Object(m.clone()), "admin.identity").map(Some),
    }
}

/// The identity's identifiers (none when there is no identity).
pub fn identifiers(admin: Option<&AdminConfig>) -> Vec<String> {
    parse(admin)
        .ok()
        .flatten()
        .map(|i| i.identifiers)
        .unwrap_or_default()
}

/// The automation policy managing the identity's certificates, if any.
pub fn policy(admin: Option<&AdminConfig>) -> Result<Option<AutoPolicy>, Error> {
    let Some(id) = parse(admin)? else {
        return Ok(None);
    };
    if id.identifiers.is_empty() {
        return Ok(None);
    }
    let issuers = id.issuers.unwrap_or_else(|| {
        let Value::Object(acme) = json!({"module": "acme"}) else {
            unreachable!()
        };
        vec![acme]
    });
    let p = AutomationPolicy {
        subjects: id.identifiers.iter().map(|n| n.to_lowercase()).collect(),
        issuers,
        ..Default::default()
    };
    AutoPolicy::provision(&p, "admin.identity").map(Some)
}
