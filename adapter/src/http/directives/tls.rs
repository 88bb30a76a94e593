//! The `tls` directive: the site's TLS connection policy, certificate
//! loaders and automation settings (Caddy's `parseTLS`).
//!
//! ```text
//! tls [internal|force_automate|<email>] | [<cert_file> <key_file>] {
//!     protocols <min> [<max>]
//!     ciphers   <cipher_suites...>
//!     curves    <curves...>
//!     alpn      <values...>
//!     load      <paths...>
//!     ca        <acme_ca_endpoint>
//!     ca_root   <pem_file>
//!     key_type  ed25519|p256|p384|rsa2048|rsa4096
//!     dns       <provider_name> [...]
//!     propagation_delay <duration>      propagation_timeout <duration>|-1
//!     dns_ttl   <duration>              dns_challenge_override_domain <domain>
//!     resolvers <dns_servers...>
//!     eab       <key_id> <mac_key>
//!     on_demand
//!     reuse_private_keys
//!     force_automate
//!     renewal_window_ratio <ratio>
//!     client_auth { … }                 (see `tls/client_auth.rs`)
//!     issuer    <module_name> [...]     (see `tls/issuers.rs`)
//!     get_certificate <module_name> [...]
//!     insecure_secrets_log <log_file>
//! }
//! ```

mod client_auth;
mod conn_policy;
mod implicit;
pub(crate) mod issuers;

use super::super::helper::Helper;
use super::super::value::{class, ConfigValue};
use crate::error::Result;
use crate::http::obj::strings;
use conn_policy::{connection_policy, ConnPolicy, CIPHERS, CURVES, PROTOCOLS};
use serde_json::{Map, Value};

/// What the directive accumulates before building its values.
#[derive(Default)]
struct Tls {
    /// Connection policy fields (without `match`).
    cp: ConnPolicy,
    file_loader: Vec<Value>,
    folder_loader: Vec<String>,
    any_tag: Vec<String>,
    acme: Option<Map<String, Value>>,
    internal: bool,
    issuers: Vec<Value>,
    managers: Vec<Value>,
    key_type: String,
    on_demand: bool,
    reuse_private_keys: bool,
    force_automate: bool,
    renewal_window_ratio: Option<Value>,
    /// DNS challenge options set without the `dns` subdirective.
    dns_options: Vec<String>,
    dns_provider: bool,
}

/// Parses `tls …`.
pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    h.next();
    let mut t = Tls::default();
    let first_line = h.remaining_args();
    first_line_args(h, &first_line, &mut t)?;
    let mut has_block = false;
    while h.next_block(0) {
        has_block = true;
        let name = h.val().to_string();
        subdirective(h, &name, &mut t)?;
    }
    let global_provider = ["dns", "acme_dns"]
        .iter()
        .any(|k| h.option(k).is_some_and(|v| !v.is_null()));
    if !t.dns_options.is_empty() && !t.dns_provider && !global_provider {
        return Err(h.err(format!("setting DNS challenge options [{}] requires a DNS provider (set with the 'dns' subdirective or 'acme_dns' global option)", t.dns_options.join(", "))));
    }
    if first_line.is_empty() && !has_block {
        return Err(h.arg_err());
    }
    build(h, t)
}

fn first_line_args(h: &mut Helper, args: &[String], t: &mut Tls) -> Result<()> {
    match args {
        [] => {}
        [one] if one == "internal" => t.internal = true,
        [one] if one == "force_automate" => t.force_automate = true,
        [one] if !one.contains('@') => {
            return Err(h.err(
                "single argument must either be 'internal', 'force_automate', or an email address",
            ))
        }
        [email] => {
            t.acme_mut().insert("email".into(), email.as_str().into());
        }
        [cert, key] => {
            let tag = match h.state.tls_cert_tags.get(cert) {
                Some(tag) => tag.clone(),
                None => {
                    let tag = format!("cert{}", h.state.tls_cert_tags.len());
                    let mut pair = Map::new();
                    pair.insert("certificate".into(), cert.as_str().into());
                    pair.insert("key".into(), key.as_str().into());
                    pair.insert("tags".into(), strings(&[tag.as_str()]));
                    t.file_loader.push(Value::Object(pair));
                    h.state.tls_cert_tags.insert(cert.clone(), tag.clone());
                    tag
                }
            };
            t.any_tag.push(tag);
        }
        _ => return Err(h.arg_err()),
    }
    Ok(())
}

impl Tls {
    fn acme_mut(&mut self) -> &mut Map<String, Value> {
        self.acme.get_or_insert_with(|| {
            let mut m = Map::new();
            m.insert("module".into(), "acme".into());
            m
        })
    }
}

fn checked_list(h: &mut Helper, allowed: &[&str], what: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    while h.next_arg() {
        if !allowed.contains(&h.val()) {
            return Err(h.err(format!("{what}: '{}'", h.val())));
        }
        out.push(h.val().to_string());
    }
    Ok(out)
}

fn subdirective(h: &mut Helper, name: &str, t: &mut Tls) -> Result<()> {
    match name {
        "protocols" => {
            let args = h.remaining_args();
            if args.is_empty() {
                return Err(h.err("protocols requires one or two arguments"));
            }
            for a in args.iter().take(2) {
                if !PROTOCOLS.contains(&a.as_str()) {
                    return Err(h.err(format!(
                        "wrong protocol name or protocol not supported: '{a}'"
                    )));
                }
            }
            t.cp.protocol_min = args[0].clone();
            if let Some(max) = args.get(1) {
                t.cp.protocol_max = max.clone();
            }
        }
        "ciphers" => {
            let what = "wrong cipher suite name or cipher suite not supported";
            let v = checked_list(h, CIPHERS, what)?;
            t.cp.cipher_suites.extend(v);
        }
        "curves" => {
            let v = checked_list(h, CURVES, "Wrong curve name or curve not supported")?;
            t.cp.curves.extend(v);
        }
        "client_auth" => {
            let mut d = h.new_from_next_segment();
            t.cp.client_auth = Some(client_auth::parse(&mut d)?);
        }
        "alpn" => {
            let args = h.remaining_args();
            if args.is_empty() {
                return Err(h.arg_err());
            }
            t.cp.alpn = args;
        }
        "load" => {
            let args = h.remaining_args();
            t.folder_loader.extend(args);
        }
        "key_type" => t.key_type = exactly_one(h)?,
        "insecure_secrets_log" => {
            t.cp.insecure_secrets_log = h.next_arg_value().ok_or_else(|| h.arg_err())?;
        }
        "on_demand" | "reuse_private_keys" | "force_automate" => {
            if h.next_arg() {
                return Err(h.arg_err());
            }
            match name {
                "on_demand" => t.on_demand = true,
                "reuse_private_keys" => t.reuse_private_keys = true,
                _ => t.force_automate = true,
            }
        }
        "renewal_window_ratio" => t.renewal_window_ratio = Some(ratio(h)?),
        "issuer" => {
            if !h.next_arg() {
                return Err(h.arg_err());
            }
            let v = issuers::parse_issuer(&mut h.d)?;
            t.issuers.push(v);
        }
        "get_certificate" => {
            if !h.next_arg() {
                return Err(h.arg_err());
            }
            let v = issuers::parse_manager(&mut h.d)?;
            t.managers.push(v);
        }
        _ => acme_subdirective(h, name, t)?,
    }
    Ok(())
}

/// Subdirectives that configure the implicit ACME issuer.
fn acme_subdirective(h: &mut Helper, name: &str, t: &mut Tls) -> Result<()> {
    match name {
        "ca" => {
            let v = exactly_one(h)?;
            t.acme_mut().insert("ca".into(), v.into());
        }
        "ca_root" => {
            let v = exactly_one(h)?;
            let roots = t
                .acme_mut()
                .entry("trusted_roots_pem_files")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = roots {
                a.push(v.into());
            }
        }
        "eab" => {
            let args = h.remaining_args();
            let [key_id, mac_key] = <[String; 2]>::try_from(args).map_err(|_| h.arg_err())?;
            let mut eab = Map::new();
            eab.insert("key_id".into(), key_id.into());
            eab.insert("mac_key".into(), mac_key.into());
            t.acme_mut()
                .insert("external_account".into(), Value::Object(eab));
        }
        _ => {
            let mut dns = Map::new();
            if !issuers::dns_option(&mut h.d, name, &mut dns)? {
                return Err(h.err(format!("unknown subdirective: {name}")));
            }
            if name == "dns" {
                t.dns_provider = true;
            } else {
                t.dns_options.push(name.to_string());
            }
            issuers::obj_at(t.acme_mut(), &["challenges", "dns"]).extend(dns);
        }
    }
    Ok(())
}

fn exactly_one(h: &mut Helper) -> Result<String> {
    let args = h.remaining_args();
    let [one] = <[String; 1]>::try_from(args).map_err(|_| h.arg_err())?;
    Ok(one)
}

fn ratio(h: &mut Helper) -> Result<Value> {
    let v = exactly_one(h)?;
    let r: f64 = v
        .parse()
        .map_err(|e| h.err(format!("parsing renewal_window_ratio: {e}")))?;
    if r <= 0.0 || r >= 1.0 {
        return Err(h.err("renewal_window_ratio must be between 0 and 1 (exclusive)"));
    }
    Ok(serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number))
}

/// The config values, in Caddy's order.
fn build(h: &mut Helper, t: Tls) -> Result<Vec<ConfigValue>> {
    let mut out = Vec::new();
    if !t.file_loader.is_empty() {
        let v = serde_json::json!({ "load_files": t.file_loader });
        out.push(ConfigValue::json(class::TLS_CERT_LOADER, v));
    }
    if !t.folder_loader.is_empty() {
        let v = serde_json::json!({ "load_folders": t.folder_loader });
        out.push(ConfigValue::json(class::TLS_CERT_LOADER, v));
    }
    if !t.issuers.is_empty() && (t.acme.is_some() || t.internal) {
        return Err(h.err("cannot mix issuer subdirective (explicit issuers) with other issuer-specific subdirectives (implicit issuers)"));
    }
    if t.acme.is_some() && t.internal {
        return Err(h.err("cannot create both ACME and internal certificate issuers"));
    }
    for iss in implicit_or_explicit_issuers(&t, h.option("cert_issuer")) {
        out.push(ConfigValue::json(class::TLS_CERT_ISSUER, iss));
    }
    if !t.key_type.is_empty() {
        out.push(ConfigValue::json(class::TLS_KEY_TYPE, t.key_type.into()));
    }
    if t.on_demand {
        out.push(ConfigValue::json(class::TLS_ON_DEMAND, true.into()));
    }
    for m in t.managers {
        out.push(ConfigValue::json(class::TLS_CERT_MANAGER, m));
    }
    if t.reuse_private_keys {
        out.push(ConfigValue::json(
            class::TLS_REUSE_PRIVATE_KEYS,
            true.into(),
        ));
    }
    if t.force_automate {
        out.push(ConfigValue::json(class::TLS_FORCE_AUTOMATE, true.into()));
    }
    if let Some(r) = t.renewal_window_ratio {
        out.push(ConfigValue::json(class::TLS_RENEWAL_WINDOW_RATIO, r));
    }
    let cp = connection_policy(t.cp, &t.any_tag);
    out.push(ConfigValue::json(class::TLS_CONNECTION_POLICY, cp));
    Ok(out)
}

fn implicit_or_explicit_issuers(t: &Tls, globals: Option<&Value>) -> Vec<Value> {
    if !t.issuers.is_empty() {
        return t.issuers.clone();
    }
    if t.internal {
        return vec![serde_json::json!({"module": "internal"})];
    }
    let Some(acme) = &t.acme else {
        return Vec::new();
    };
    implicit::implicit_acme_issuers(globals, acme)
}
