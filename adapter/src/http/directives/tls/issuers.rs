//! Certificate issuer modules as the `tls` directive's `issuer` subdirective
//! and the `cert_issuer` global option write them (`tls.issuance.*`):
//!
//! ```text
//! issuer acme [<directory_url>] {
//!     dir <directory_url>            test_dir <test_directory_url>
//!     email <email>                  profile <profile_name>
//!     timeout <duration>             lifetime <duration>
//!     disable_http_challenge         disable_tlsalpn_challenge
//!     alt_http_port <port>           alt_tlsalpn_port <port>
//!     eab <key_id> <mac_key>         trusted_roots <pem_files...>
//!     dns <provider_name> [...]      propagation_delay <duration>
//!     propagation_timeout <duration> resolvers <dns_servers...>
//!     dns_ttl <duration>             dns_challenge_override_domain <domain>
//!     preferred_chains [smallest] { root_common_name <names...>  any_common_name <names...> }
//! }
//! issuer zerossl <api_key> {
//!     validity_days <days>  alt_http_port <port>  dns <provider_name> [...]
//!     propagation_delay <d> propagation_timeout <d> resolvers <servers...> dns_ttl <d>
//! }
//! issuer internal { ca <name>  lifetime <duration>  sign_with_root }
//! ```
//!
//! Issuers the adapter does not know are written through with
//! [`generic_module`].

use crate::error::Result;
use crate::http::duration::parse_duration;
use crate::http::obj::strings;
use crate::syntax::Dispenser;
use serde_json::{Map, Value};

/// Parses one issuer module; `d` is on the module name.
pub fn parse_issuer(d: &mut Dispenser) -> Result<Value> {
    let name = d.val().to_string();
    let mut sub = d.new_from_next_segment();
    sub.next();
    match name.as_str() {
        "acme" => acme(&mut sub),
        "zerossl" => zerossl(&mut sub),
        "internal" => internal(&mut sub),
        _ => Ok(generic_module(&mut sub, "module", &name)),
    }
}

/// A module the adapter has no special knowledge of: `{key: name}`, the
/// first argument as `"argument"`, block lines as `key: value(s)`. `d` is
/// on the module name of its own segment.
pub fn generic_module(d: &mut Dispenser, key: &str, name: &str) -> Value {
    let mut m = Map::new();
    m.insert(key.into(), name.into());
    let args = d.remaining_args();
    if let Some(a) = args.first() {
        m.insert("argument".into(), a.as_str().into());
    }
    let nesting = d.nesting();
    while d.next_block(nesting) {
        let k = d.val().to_string();
        let vals = d.remaining_args();
        let v = match vals.as_slice() {
            [] => Value::Bool(true),
            [one] => one.as_str().into(),
            _ => strings(&vals),
        };
        m.insert(k, v);
    }
    Value::Object(m)
}

/// A DNS provider module (`dns.providers.NAME`) at the cursor: `{"name": …}`.
pub fn dns_provider(d: &mut Dispenser) -> Result<Value> {
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    let name = d.val().to_string();
    let mut sub = d.new_from_next_segment();
    sub.next();
    Ok(generic_module(&mut sub, "name", &name))
}

/// A duration argument; `what` names it in the error.
pub fn duration_arg(d: &mut Dispenser, what: &str, allow_minus_one: bool) -> Result<i64> {
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    let s = d.val().to_string();
    if allow_minus_one && s == "-1" {
        return Ok(-1);
    }
    parse_duration(&s).map_err(|e| d.err(format!("invalid {what} duration {s}: {e}")))
}

/// The object at `path` inside `m`, created as needed.
pub fn obj_at<'a>(m: &'a mut Map<String, Value>, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = m;
    for key in path {
        let v = cur
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        cur = v.as_object_mut().expect("object");
    }
    cur
}

/// The DNS challenge options shared by the `tls` directive, the ACME issuer
/// and (as `cname_validation`) the ZeroSSL issuer: sets the option at the
/// cursor inside `dns`; false if `name` is not one of them.
pub fn dns_option(d: &mut Dispenser, name: &str, dns: &mut Map<String, Value>) -> Result<bool> {
    match name {
        "dns" => {
            let p = dns_provider(d)?;
            dns.insert("provider".into(), p);
        }
        "propagation_delay" => {
            let v = duration_arg(d, name, false)?;
            dns.insert("propagation_delay".into(), v.into());
        }
        "propagation_timeout" => {
            let v = duration_arg(d, name, true)?;
            dns.insert("propagation_timeout".into(), v.into());
        }
        "dns_ttl" => {
            let v = duration_arg(d, name, false)?;
            dns.insert("ttl".into(), v.into());
        }
        "resolvers" => {
            let args = d.remaining_args();
            if args.is_empty() {
                return Err(d.arg_err());
            }
            dns.insert("resolvers".into(), strings(&args));
        }
        "dns_challenge_override_domain" => {
            let args = d.remaining_args();
            if args.len() != 1 {
                return Err(d.arg_err());
            }
            dns.insert("override_domain".into(), args[0].as_str().into());
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn one_arg(d: &mut Dispenser) -> Result<String> {
    let args = d.remaining_args();
    match <[String; 1]>::try_from(args) {
        Ok([a]) => Ok(a),
        Err(_) => Err(d.arg_err()),
    }
}

fn port_arg(d: &mut Dispenser) -> Result<i64> {
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    let v = d.val().to_string();
    v.parse()
        .map_err(|e| d.err(format!("invalid port {v}: {e}")))
}

fn acme(d: &mut Dispenser) -> Result<Value> {
    let mut m = Map::new();
    m.insert("module".into(), "acme".into());
    if d.next_arg() {
        m.insert("ca".into(), d.val().into());
        if d.next_arg() {
            return Err(d.arg_err());
        }
    }
    while d.next_block(0) {
        let name = d.val().to_string();
        acme_option(d, &name, &mut m)?;
    }
    Ok(Value::Object(m))
}

fn acme_option(d: &mut Dispenser, name: &str, m: &mut Map<String, Value>) -> Result<()> {
    match name {
        "lifetime" => {
            let v = duration_arg(d, "lifetime", false)?;
            if v < 0 {
                return Err(d.err(format!("lifetime must be >= 0: {v}")));
            }
            m.insert("certificate_lifetime".into(), v.into());
        }
        "dir" => {
            if let Some(ca) = m.get("ca").and_then(Value::as_str) {
                return Err(d.err(format!("directory is already specified: {ca}")));
            }
            let v = one_arg(d)?;
            m.insert("ca".into(), v.into());
        }
        "test_dir" | "email" | "profile" => {
            let v = one_arg(d)?;
            let key = if name == "test_dir" { "test_ca" } else { name };
            m.insert(key.into(), v.into());
        }
        "timeout" => {
            let v = duration_arg(d, "timeout", false)?;
            m.insert("acme_timeout".into(), v.into());
        }
        "disable_http_challenge" | "disable_tlsalpn_challenge" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            let ch = if name == "disable_http_challenge" {
                "http"
            } else {
                "tls-alpn"
            };
            obj_at(m, &["challenges", ch]).insert("disabled".into(), true.into());
        }
        "alt_http_port" | "alt_tlsalpn_port" => {
            let port = port_arg(d)?;
            let ch = if name == "alt_http_port" {
                "http"
            } else {
                "tls-alpn"
            };
            obj_at(m, &["challenges", ch]).insert("alternate_port".into(), port.into());
        }
        "eab" => {
            let Some(a) = d.args(2) else {
                return Err(d.arg_err());
            };
            if d.next_arg() {
                return Err(d.arg_err());
            }
            let mut eab = Map::new();
            eab.insert("key_id".into(), a[0].as_str().into());
            eab.insert("mac_key".into(), a[1].as_str().into());
            m.insert("external_account".into(), Value::Object(eab));
        }
        "trusted_roots" => {
            let v = d.remaining_args();
            m.insert("trusted_roots_pem_files".into(), strings(&v));
        }
        "preferred_chains" => {
            let v = preferred_chains(d)?;
            m.insert("preferred_chains".into(), v);
        }
        _ => {
            let mut dns = Map::new();
            if !dns_option(d, name, &mut dns)? {
                return Err(d.err(format!("unrecognized ACME issuer property: {name}")));
            }
            obj_at(m, &["challenges", "dns"]).extend(dns);
        }
    }
    Ok(())
}

/// `preferred_chains [smallest] { root_common_name …  any_common_name … }`.
pub fn preferred_chains(d: &mut Dispenser) -> Result<Value> {
    let mut m = Map::new();
    if d.next_arg() {
        if d.val() != "smallest" {
            return Err(d.err(format!("Invalid argument '{}'", d.val())));
        }
        m.insert("smallest".into(), true.into());
        if d.next_arg() {
            return Err(d.arg_err());
        }
        let nesting = d.nesting();
        if d.next_block(nesting) {
            return Err(d.err("No more options are accepted when using the 'smallest' option"));
        }
    }
    let nesting = d.nesting();
    while d.next_block(nesting) {
        let key = d.val().to_string();
        let (this, other) = match key.as_str() {
            "root_common_name" => ("root_common_name", "any_common_name"),
            "any_common_name" => ("any_common_name", "root_common_name"),
            _ => return Err(d.err(format!("Received unrecognized parameter '{key}'"))),
        };
        let vals = d.remaining_args();
        if vals.is_empty() {
            return Err(d.arg_err());
        }
        if m.contains_key(other) {
            return Err(d.err(format!("Can't set {this} when {other} is already set")));
        }
        m.insert(this.into(), strings(&vals));
    }
    if m.is_empty() {
        return Err(d.err("No options for preferred_chains received"));
    }
    Ok(Value::Object(m))
}

fn zerossl(d: &mut Dispenser) -> Result<Value> {
    let mut m = Map::new();
    m.insert("module".into(), "zerossl".into());
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    m.insert("api_key".into(), d.val().into());
    if d.next_arg() {
        return Err(d.arg_err());
    }
    while d.next_block(0) {
        let name = d.val().to_string();
        match name.as_str() {
            "validity_days" => {
                if m.contains_key("validity_days") {
                    return Err(d.err(format!(
                        "validity days is already specified: {}",
                        m["validity_days"]
                    )));
                }
                let v = one_arg(d)?;
                let days: i64 = v
                    .parse()
                    .map_err(|e| d.err(format!("invalid number of days {v}: {e}")))?;
                m.insert("validity_days".into(), days.into());
            }
            "alt_http_port" => {
                let port = port_arg(d)?;
                m.insert("alternate_http_port".into(), port.into());
            }
            _ => {
                let mut dns = Map::new();
                if name == "dns_challenge_override_domain" || !dns_option(d, &name, &mut dns)? {
                    return Err(d.err(format!("unrecognized zerossl issuer property: {name}")));
                }
                obj_at(&mut m, &["cname_validation"]).extend(dns);
            }
        }
    }
    Ok(Value::Object(m))
}

fn internal(d: &mut Dispenser) -> Result<Value> {
    let mut m = Map::new();
    m.insert("module".into(), "internal".into());
    if d.next_arg() {
        return Err(d.arg_err());
    }
    while d.next_block(0) {
        match d.val() {
            "ca" => {
                let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
                m.insert("ca".into(), v.into());
            }
            "lifetime" => {
                let v = duration_arg(d, "lifetime", false)?;
                m.insert("lifetime".into(), v.into());
            }
            "sign_with_root" => {
                if d.next_arg() {
                    return Err(d.arg_err());
                }
                m.insert("sign_with_root".into(), true.into());
            }
            other => return Err(d.err(format!("unrecognized subdirective '{other}'"))),
        }
    }
    Ok(Value::Object(m))
}

/// A certificate manager module (`tls.get_certificate.*`); `d` is on the
/// module name: `tailscale`, `http <url>`, or any other written through.
pub fn parse_manager(d: &mut Dispenser) -> Result<Value> {
    let name = d.val().to_string();
    let mut sub = d.new_from_next_segment();
    sub.next();
    match name.as_str() {
        "tailscale" => {
            if sub.next_arg() {
                return Err(sub.arg_err());
            }
            Ok(serde_json::json!({"via": "tailscale"}))
        }
        "http" => {
            let url = sub.next_arg_value().ok_or_else(|| sub.arg_err())?;
            if sub.next_arg() {
                return Err(sub.arg_err());
            }
            Ok(serde_json::json!({"url": url, "via": "http"}))
        }
        _ => Ok(generic_module(&mut sub, "via", &name)),
    }
}
