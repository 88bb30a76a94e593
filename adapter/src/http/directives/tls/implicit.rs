//! The issuers behind the `tls` directive's ACME shortcuts (`ca`,
//! `ca_root`, `dns`, `resolvers`, `eab`, an email argument …), as Caddy's
//! `implicitACMEIssuers`: each global `cert_issuer` that is ACME becomes a
//! template the shortcuts override; without one, Caddy's default issuers
//! (only one when a CA is named) take the shortcuts' settings.

use serde_json::{Map, Value};

/// The issuers for a `tls` block whose shortcuts built `acme`.
pub(super) fn implicit_acme_issuers(
    globals: Option<&Value>,
    acme: &Map<String, Value>,
) -> Vec<Value> {
    let templates: Vec<&Map<String, Value>> = globals
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(|iss| iss.get("module").and_then(Value::as_str) == Some("acme"))
        .collect();
    if !templates.is_empty() {
        return templates
            .into_iter()
            .map(|base| Value::Object(merge_issuer(base, acme)))
            .collect();
    }
    if acme.contains_key("ca") {
        return vec![Value::Object(merge_issuer(&module_acme(), acme))];
    }
    let email = acme.get("email").and_then(Value::as_str).unwrap_or("");
    crate::http::assemble::tls_app::default_issuers(email)
        .iter()
        .filter_map(Value::as_object)
        .map(|def| Value::Object(merge_issuer(def, acme)))
        .collect()
}

fn module_acme() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("module".into(), "acme".into());
    m
}

/// Caddy's `mergeACMEIssuers`: `base` with every field `overrides` sets;
/// trusted roots are added to, challenges merged field by field.
fn merge_issuer(base: &Map<String, Value>, overrides: &Map<String, Value>) -> Map<String, Value> {
    let mut merged = base.clone();
    for (k, v) in overrides {
        match k.as_str() {
            "module" => {}
            "trusted_roots_pem_files" => {
                let roots = merged
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let (Value::Array(have), Value::Array(more)) = (roots, v) {
                    for r in more {
                        if !have.contains(r) {
                            have.push(r.clone());
                        }
                    }
                }
            }
            "challenges" => {
                let merged_ch = merge_challenges(merged.get(k), v);
                merged.insert(k.clone(), merged_ch);
            }
            _ => {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    merged
}

/// Caddy's `mergeChallengesConfig`: HTTP and TLS-ALPN by `disabled` and
/// `alternate_port`, DNS by each field set, then bind host and
/// distribution.
fn merge_challenges(base: Option<&Value>, overrides: &Value) -> Value {
    let mut merged = base.and_then(Value::as_object).cloned().unwrap_or_default();
    let Some(over) = overrides.as_object() else {
        return Value::Object(merged);
    };
    for (k, v) in over {
        match (k.as_str(), v.as_object()) {
            ("http" | "tls-alpn" | "dns", Some(fields)) => {
                let sub = merged
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(sub) = sub.as_object_mut() {
                    for (f, fv) in fields {
                        let set =
                            !(fv.is_null() || fv == &Value::Bool(false) || fv == &Value::from(0));
                        if set {
                            sub.insert(f.clone(), fv.clone());
                        }
                    }
                }
            }
            _ => {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_global_acme_issuer_is_the_template() {
        let globals = json!([
            {"module": "zerossl", "api_key": "K"},
            {"module": "acme", "ca": "https://g/dir", "trusted_roots_pem_files": ["/a.pem"],
             "challenges": {"http": {"alternate_port": 81}, "dns": {"ttl": 5}}}
        ]);
        let acme = obj(
            json!({"email": "e@x", "trusted_roots_pem_files": ["/b.pem", "/a.pem"],
            "challenges": {"dns": {"resolvers": ["1.1.1.1"]}}}),
        );
        let got = implicit_acme_issuers(Some(&globals), &acme);
        assert_eq!(
            got,
            vec![
                json!({"module": "acme", "ca": "https://g/dir", "email": "e@x",
                "trusted_roots_pem_files": ["/a.pem", "/b.pem"],
                "challenges": {"http": {"alternate_port": 81}, "dns": {"ttl": 5, "resolvers": ["1.1.1.1"]}}})
            ]
        );
    }

    #[test]
    fn without_templates_a_named_ca_is_the_only_issuer() {
        let acme = obj(json!({"ca": "https://c/dir", "email": "e@x"}));
        assert_eq!(
            implicit_acme_issuers(None, &acme),
            vec![json!({"module": "acme", "ca": "https://c/dir", "email": "e@x"})]
        );
    }

    #[test]
    fn without_templates_the_default_issuers_keep_their_ca() {
        let acme = obj(json!({"email": "e@x"}));
        let got = implicit_acme_issuers(None, &acme);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1]["ca"], "https://acme.zerossl.com/v2/DV90");
        assert_eq!(got[1]["email"], "e@x");
        assert!(got[0].get("ca").is_none());
    }
}
