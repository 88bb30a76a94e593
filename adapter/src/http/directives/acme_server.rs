//! The `acme_server` directive: an ACME server handler backed by a CA of
//! the PKI app (Caddy's `acmeserver` Caddyfile support).
//!
//! ```text
//! acme_server [<matcher>] {
//!     ca         <id>
//!     lifetime   <duration>
//!     resolvers  <addresses...>
//!     challenges <challenges...>
//!     allow_wildcard_names
//!     allow { domains <domains...>  ip_ranges <cidrs...> }
//!     deny  { domains <domains...>  ip_ranges <cidrs...> }
//!     sign_with_root
//! }
//! ```
//!
//! A `ca` also yields a `pki.ca` value, so the PKI app has that CA.

use super::super::helper::Helper;
use super::super::value::{class, ConfigValue};
use crate::error::Result;
use crate::http::duration::parse_duration;
use crate::http::obj::{strings, Obj};
use crate::syntax::Dispenser;
use serde_json::{Map, Value};

/// Parses `acme_server …`.
pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    h.next();
    let matcher = h.extract_matcher_set()?;
    h.next();
    if h.next_arg() {
        return Err(h.arg_err());
    }
    let mut o = Obj::handler("acme_server");
    let mut policy = Map::new();
    let mut challenges: Vec<String> = Vec::new();
    let mut ca_id: Option<String> = None;
    while h.next_block(0) {
        let sub = h.val().to_string();
        match sub.as_str() {
            "ca" => {
                let args = h.remaining_args();
                let [id] = <[String; 1]>::try_from(args).map_err(|_| h.arg_err())?;
                o.put("ca", id.as_str());
                ca_id = Some(id);
            }
            "lifetime" => {
                let v = h.next_arg_value().ok_or_else(|| h.arg_err())?;
                let ns = parse_duration(&v).map_err(|e| h.err(e))?;
                o.put("lifetime", ns);
            }
            "resolvers" => {
                let args = h.remaining_args();
                if args.is_empty() {
                    return Err(h.err("must specify at least one resolver address"));
                }
                o.put("resolvers", strings(&args));
            }
            "challenges" => challenges.extend(h.remaining_args()),
            "allow_wildcard_names" => {
                policy.insert("allow_wildcard_names".into(), true.into());
            }
            "allow" | "deny" => {
                let rules = rule_set(&mut h.d, &sub)?;
                policy.insert(sub, rules);
            }
            "sign_with_root" => o.put("sign_with_root", true),
            _ => return Err(h.err(format!("unrecognized ACME server directive: {sub}"))),
        }
    }
    o.put_opt("challenges", strings(&challenges));
    if !policy.is_empty() {
        o.put("policy", Value::Object(policy));
    }
    let mut vals = h.new_route(matcher, o.build());
    if let Some(id) = ca_id {
        vals.push(ConfigValue::json(class::PKI_CA, id.into()));
    }
    Ok(vals)
}

/// `allow|deny { domains …  ip_ranges … }`.
fn rule_set(d: &mut Dispenser, which: &str) -> Result<Value> {
    let mut m = Map::new();
    let nesting = d.nesting();
    while d.next_block(nesting) {
        let key = d.val().to_string();
        if d.count_remaining_args() == 0 {
            return Err(d.arg_err());
        }
        if key != "domains" && key != "ip_ranges" {
            return Err(d.err(format!("unrecognized '{which}' subdirective: {key}")));
        }
        let vals = d.remaining_args();
        let list = m.entry(key).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = list {
            a.extend(vals.into_iter().map(Value::from));
        }
    }
    Ok(Value::Object(m))
}
