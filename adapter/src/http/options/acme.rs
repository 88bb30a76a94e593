//! ACME-related global options and how they fill in ACME issuers:
//!
//! ```text
//! email <email>
//! acme_ca <directory_url>
//! acme_ca_root <pem_file>
//! acme_eab { key_id <id>  mac_key <key> }
//! acme_dns [<provider> [<args...>]]
//! dns <provider> [<args...>]
//! tls_resolvers <resolvers...>
//! preferred_chains smallest | { root_common_name <names...>  any_common_name <names...> }
//! cert_lifetime <duration>
//! ```

use super::Options;
use crate::error::Result;
use crate::http::duration::parse_duration;
use crate::http::obj::{strings, Obj};
use crate::http::registry::Directives;
use crate::syntax::Dispenser;
use serde_json::{Map, Value};

/// `email`, `acme_ca`, `acme_ca_root`: one string argument.
pub fn parse_string(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let name = d.val().to_string();
    let Some(v) = d.next_arg_value() else {
        return Err(d.arg_err());
    };
    if d.next() {
        return Err(d.arg_err());
    }
    opts.values.insert(name, v.into());
    Ok(())
}

/// `acme_eab { key_id … mac_key … }`.
pub fn parse_eab(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    if d.next_arg() {
        return Err(d.arg_err());
    }
    let mut eab = Obj::new();
    while d.next_block(0) {
        match d.val() {
            "key_id" => eab.put("key_id", d.next_arg_value().ok_or_else(|| d.arg_err())?),
            "mac_key" => eab.put("mac_key", d.next_arg_value().ok_or_else(|| d.arg_err())?),
            other => return Err(d.err(format!("unrecognized parameter '{other}'"))),
        }
    }
    opts.values.insert("acme_eab".into(), eab.build());
    Ok(())
}

/// A DNS provider module written through as Caddy does for providers it
/// has no special knowledge of: `{"argument": …, "name": …}` (keys sorted,
/// as Caddy's `JSONModuleObject` writes a module).
pub fn provider(name: &str, args: &[String]) -> Value {
    let mut pairs = vec![("name".to_string(), Value::from(name))];
    if let Some(a) = args.first() {
        pairs.push(("argument".into(), a.as_str().into()));
    }
    crate::http::obj::sorted_map(pairs)
}

/// `acme_dns [<provider> …]` and `dns <provider> …`.
pub fn parse_dns(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let name = d.val().to_string();
    let args = d.remaining_args();
    let value = match args.split_first() {
        Some((p, rest)) => provider(p, rest),
        None if name == "acme_dns" => Value::Null,
        None => return Err(d.arg_err()),
    };
    while d.next_block(0) {}
    opts.values.insert(name, value);
    Ok(())
}

/// `tls_resolvers <resolvers...>`.
pub fn parse_resolvers(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let args = d.remaining_args();
    if args.is_empty() {
        return Err(d.arg_err());
    }
    opts.values.insert("tls_resolvers".into(), strings(&args));
    Ok(())
}

/// `preferred_chains smallest | { root_common_name … any_common_name … }`.
pub fn parse_preferred_chains(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let v = preferred_chains(d)?;
    opts.values.insert("preferred_chains".into(), v);
    Ok(())
}

/// Caddy's `ParseCaddyfilePreferredChainsOptions`, after the name token.
fn preferred_chains(d: &mut Dispenser) -> Result<Value> {
    let mut o = Obj::new();
    if let Some(a) = d.next_arg_value() {
        if a != "smallest" {
            return Err(d.err(format!("Invalid argument '{a}'")));
        }
        o.put("smallest", true);
        if d.next_arg() {
            return Err(d.arg_err());
        }
        if d.next_block(d.nesting()) {
            return Err(d.err("No more options are accepted when using the 'smallest' option"));
        }
    }
    while d.next_block(0) {
        let key = d.val().to_string();
        let other = match key.as_str() {
            "root_common_name" => "any_common_name",
            "any_common_name" => "root_common_name",
            _ => return Err(d.err(format!("Received unrecognized parameter '{key}'"))),
        };
        let vals = d.remaining_args();
        if vals.is_empty() {
            return Err(d.arg_err());
        }
        if o.0.contains_key(other) {
            return Err(d.err(format!("Can't set {key} when {other} is already set")));
        }
        o.put(&key, strings(&vals));
    }
    if o.is_empty() {
        return Err(d.err("No options for preferred_chains received"));
    }
    Ok(o.build())
}

/// `cert_lifetime <duration>` (and other single-duration options).
pub fn parse_duration_opt(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let name = d.val().to_string();
    let Some(v) = d.next_arg_value() else {
        return Err(d.arg_err());
    };
    let ns = parse_duration(&v).map_err(|e| d.err(e))?;
    opts.values.insert(name, ns.into());
    Ok(())
}

fn challenges(iss: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let c = iss
        .entry("challenges")
        .or_insert_with(|| Value::Object(Map::new()));
    if !c.is_object() {
        *c = Value::Object(Map::new());
    }
    c.as_object_mut().expect("object")
}

fn sub<'a>(m: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let c = m.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !c.is_object() {
        *c = Value::Object(Map::new());
    }
    c.as_object_mut().expect("object")
}

/// Fills an ACME issuer's unset fields from the global options (Caddy's
/// `fillInGlobalACMEDefaults`).
pub fn fill_in_defaults(issuer: &mut Value, o: &Options) {
    let Some(iss) = issuer.as_object_mut() else {
        return;
    };
    if iss.get("module").and_then(Value::as_str) != Some("acme") {
        return;
    }
    for (opt, key) in [("email", "email"), ("acme_ca", "ca")] {
        if let Some(v) = o.get(opt) {
            if iss
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                iss.insert(key.into(), v.clone());
            }
        }
    }
    if let Some(root) = o.get("acme_ca_root") {
        let roots = iss
            .entry("trusted_roots_pem_files")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = roots {
            if !a.contains(root) {
                a.push(root.clone());
            }
        }
    }
    let has_dns =
        |iss: &Map<String, Value>| iss.get("challenges").and_then(|c| c.get("dns")).is_some();
    let dns_provider = |iss: &Map<String, Value>| {
        iss.get("challenges")
            .and_then(|c| c.get("dns"))
            .and_then(|d| d.get("provider"))
            .is_some()
    };
    if o.has("acme_dns") && !dns_provider(iss) {
        let dns = sub(challenges(iss), "dns");
        if let Some(p) = o.get("acme_dns").filter(|v| !v.is_null()) {
            dns.entry("provider").or_insert_with(|| p.clone());
        }
    }
    for (opt, key) in [
        ("acme_eab", "external_account"),
        ("preferred_chains", "preferred_chains"),
    ] {
        if let Some(v) = o.get(opt) {
            iss.entry(key).or_insert_with(|| v.clone());
        }
    }
    // alternate ports only when the DNS challenge (exclusive of the
    // others) is not enabled
    for (opt, ch) in [("http_port", "http"), ("https_port", "tls-alpn")] {
        if let Some(p) = o.get(opt).filter(|_| !has_dns(iss)) {
            let c = sub(challenges(iss), ch);
            if c.get("alternate_port").and_then(Value::as_i64).unwrap_or(0) == 0 {
                c.insert("alternate_port".into(), p.clone());
            }
        }
    }
    // the challenge listeners bind where the servers do by default
    let bind_host_unset = iss
        .get("challenges")
        .and_then(|c| c.get("bind_host"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty();
    if !has_dns(iss) && bind_host_unset {
        if let Some(addr) = o.default_bind.first().and_then(|b| b.addresses.first()) {
            challenges(iss).insert("bind_host".into(), addr.clone().into());
        }
    }
    if let Some(l) = o.get("cert_lifetime") {
        iss.entry("certificate_lifetime")
            .or_insert_with(|| l.clone());
    }
    // DNS resolvers for a configured DNS challenge, unless it has its own
    if let Some(r) = o.get("tls_resolvers") {
        let configured = o.has("acme_dns") || dns_provider(iss);
        if let Some(dns) = iss
            .get_mut("challenges")
            .and_then(|c| c.get_mut("dns"))
            .and_then(Value::as_object_mut)
            .filter(|_| configured)
        {
            let empty = dns
                .get("resolvers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if empty {
                dns.insert("resolvers".into(), r.clone());
            }
        }
    }
}
