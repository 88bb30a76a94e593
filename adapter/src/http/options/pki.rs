//! Global options that configure whole apps or TLS app parts:
//!
//! ```text
//! pki {
//!     ca [<id>] {
//!         name <name>                      root_cn <name>
//!         intermediate_cn <name>           intermediate_lifetime <duration>
//!         maintenance_interval <duration>  renewal_window_ratio <ratio>
//!         root { cert <path>  key <path>  format <format> }
//!         intermediate { cert <path>  key <path>  format <format> }
//!     }
//! }
//! cert_issuer <module_name> [...]          (folded: several allowed)
//! ech <public_names...> { dns <provider> [...] }
//! filesystem <name> <module> [...]         (folded)
//! events { on <event> <handler_module> [<args...>] }
//! ```

use super::Options;
use crate::error::Result;
use crate::http::directives::tls::issuers::{self, generic_module};
use crate::http::duration::parse_duration;
use crate::http::obj::strings;
use crate::http::registry::Directives;
use crate::syntax::Dispenser;
use serde_json::{Map, Value};

/// `pki { ca … }`: stored as the PKI app's JSON.
pub fn parse_pki(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    if d.next_arg() {
        return Err(d.arg_err());
    }
    let mut cas = match opts.values.remove("pki") {
        Some(Value::Object(mut m)) => match m.remove("certificate_authorities") {
            Some(Value::Object(c)) => c,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    while d.next_block(0) {
        if d.val() != "ca" {
            return Err(d.err(format!("unrecognized pki option '{}'", d.val())));
        }
        let id = d.next_arg_value().unwrap_or_else(|| "local".into());
        if d.next_arg() {
            return Err(d.arg_err());
        }
        let ca = parse_ca(d)?;
        cas.insert(id, ca);
    }
    let sorted: std::collections::BTreeMap<String, Value> = cas.into_iter().collect();
    let mut app = Map::new();
    app.insert(
        "certificate_authorities".into(),
        Value::Object(sorted.into_iter().collect()),
    );
    opts.values.insert("pki".into(), Value::Object(app));
    Ok(())
}

/// One CA block (Caddy's `caddypki.CA`, fields in Go order).
fn parse_ca(d: &mut Dispenser) -> Result<Value> {
    let mut f: Vec<(&str, Value)> = Vec::new();
    let nesting = d.nesting();
    while d.next_block(nesting) {
        let sub = d.val().to_string();
        let key = match sub.as_str() {
            "name" => "name",
            "root_cn" => "root_common_name",
            "intermediate_cn" => "intermediate_common_name",
            "intermediate_lifetime" => "intermediate_lifetime",
            "maintenance_interval" => "maintenance_interval",
            "renewal_window_ratio" => "renewal_window_ratio",
            "root" | "intermediate" => {
                let kp = key_pair(d)?;
                f.push((
                    if sub == "root" {
                        "root"
                    } else {
                        "intermediate"
                    },
                    kp,
                ));
                continue;
            }
            _ => return Err(d.err(format!("unrecognized pki ca option '{sub}'"))),
        };
        let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
        if d.next_arg() {
            return Err(d.arg_err());
        }
        let value = match key {
            "intermediate_lifetime" | "maintenance_interval" => {
                Value::from(parse_duration(&v).map_err(|e| d.err(e))?)
            }
            "renewal_window_ratio" => {
                let r: f64 = v
                    .parse()
                    .map_err(|e| d.err(format!("parsing renewal_window_ratio: {e}")))?;
                serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number)
            }
            _ => Value::from(v),
        };
        f.push((key, value));
    }
    const ORDER: &[&str] = &[
        "name",
        "root_common_name",
        "intermediate_common_name",
        "intermediate_lifetime",
        "maintenance_interval",
        "renewal_window_ratio",
        "root",
        "intermediate",
    ];
    let mut m = Map::new();
    for k in ORDER {
        if let Some((_, v)) = f.iter().rev().find(|(key, _)| key == k) {
            m.insert((*k).to_string(), v.clone());
        }
    }
    Ok(Value::Object(m))
}

/// `root|intermediate { cert <path>  key <path>  format <format> }`.
fn key_pair(d: &mut Dispenser) -> Result<Value> {
    let mut m = Map::new();
    let nesting = d.nesting();
    while d.next_block(nesting) {
        let key = match d.val() {
            "cert" => "certificate",
            "key" => "private_key",
            "format" => "format",
            other => return Err(d.err(format!("unrecognized pki ca option '{other}'"))),
        };
        let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
        m.insert(key.into(), v.into());
    }
    let mut out = Map::new();
    for k in ["certificate", "private_key", "format"] {
        if let Some(v) = m.remove(k) {
            out.insert(k.into(), v);
        }
    }
    Ok(Value::Object(out))
}

/// `cert_issuer <module> …`: appended to the global issuers.
pub fn parse_cert_issuer(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    let iss = issuers::parse_issuer(d)?;
    let list = opts
        .values
        .entry("cert_issuer".into())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(a) = list {
        a.push(iss);
    }
    Ok(())
}

/// `ech <public_names...> { dns <provider> … }`: the TLS app's
/// `encrypted_client_hello`.
pub fn parse_ech(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let names = d.remaining_args();
    if names.is_empty() {
        return Err(d.arg_err());
    }
    let configs: Vec<Value> = names
        .iter()
        .map(|n| serde_json::json!({ "public_name": n }))
        .collect();
    let mut publication = Vec::new();
    while d.next_block(0) {
        if d.val() != "dns" {
            return Err(d.err(format!("ech: unrecognized subdirective '{}'", d.val())));
        }
        let provider = issuers::dns_provider(d)?;
        publication.push(serde_json::json!({
            "configs": names,
            "publishers": { "dns": { "provider": provider } },
        }));
    }
    let mut ech = Map::new();
    ech.insert("configs".into(), Value::Array(configs));
    if !publication.is_empty() {
        ech.insert("publication".into(), Value::Array(publication));
    }
    opts.values.insert("ech".into(), Value::Object(ech));
    Ok(())
}

/// `filesystem <name> <module> …`: one more file system of the
/// `caddy.filesystems` app.
pub fn parse_filesystem(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let name = d.next_arg_value().ok_or_else(|| d.arg_err())?;
    let module = d.next_arg_value().ok_or_else(|| d.arg_err())?;
    let mut seg = d.new_from_next_segment();
    seg.next();
    let fs = generic_module(&mut seg, "backend", &module);
    let app = opts
        .values
        .entry("filesystem".into())
        .or_insert_with(|| serde_json::json!({ "filesystems": [] }));
    if let Some(Value::Array(list)) = app.get_mut("filesystems") {
        list.push(serde_json::json!({ "name": name, "file_system": fs }));
    }
    Ok(())
}

/// `events { on <event> <handler> [<args...>] }`: subscriptions of the
/// `events` app; an `exec` handler takes a command and its arguments.
pub fn parse_events(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    if d.next_arg() {
        return Err(d.arg_err());
    }
    let mut subs = Vec::new();
    while d.next_block(0) {
        if d.val() != "on" {
            return Err(d.err(format!("unrecognized events option '{}'", d.val())));
        }
        let event = d.next_arg_value().ok_or_else(|| d.arg_err())?;
        let handler = d.next_arg_value().ok_or_else(|| d.arg_err())?;
        let h = if handler == "exec" {
            let args = d.remaining_args();
            let Some((cmd, rest)) = args.split_first() else {
                return Err(d.arg_err());
            };
            let mut m = Map::new();
            m.insert("handler".into(), "exec".into());
            m.insert("command".into(), cmd.as_str().into());
            if !rest.is_empty() {
                m.insert("args".into(), strings(rest));
            }
            Value::Object(m)
        } else {
            let mut seg = d.new_from_next_segment();
            seg.next();
            generic_module(&mut seg, "handler", &handler)
        };
        subs.push(serde_json::json!({ "events": [event], "handlers": [h] }));
    }
    opts.values.insert(
        "events".into(),
        serde_json::json!({ "subscriptions": subs }),
    );
    Ok(())
}
