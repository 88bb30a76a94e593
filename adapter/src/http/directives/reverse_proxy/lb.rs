//! Load balancing and health checks of `reverse_proxy`:
//!
//! ```text
//! lb_policy       <name> [<options...>]
//! lb_retries      <retries>
//! lb_try_duration <duration>
//! lb_try_interval <interval>
//! lb_retry_match  <request-matcher>
//!
//! health_uri | health_path | health_upstream | health_port | health_headers
//! health_method | health_request_body | health_interval | health_timeout
//! health_status | health_body | health_follow_redirects
//! health_passes | health_fails
//!
//! fail_duration | max_fails | unhealthy_status | unhealthy_latency
//! unhealthy_request_count
//! ```
//!
//! Policies: `random`, `random_choose <n>`, `least_conn`, `round_robin`,
//! `weighted_round_robin <weights...>`, `first`, `ip_hash`,
//! `client_ip_hash`, `uri_hash`, `query <key>`, `header <field>`,
//! `cookie [<name> [<secret>]]` (the last three with a `fallback <policy>`
//! block option; `cookie` also with `max_age`).

use super::units::{atoi, duration_arg, duration_arg_unquoted, int_arg, one_arg, status_code};
use crate::error::Result;
use crate::http::matchers::parse_set_body;
use crate::http::obj::{sorted_map, strings, Obj};
use crate::http::value::matcher_set_json;
use crate::syntax::Dispenser;
use serde_json::{Map, Value};

/// Handles a load-balancing subdirective; false if `key` is none.
pub fn lb_option(
    d: &mut Dispenser,
    lb: &mut Option<Map<String, Value>>,
    key: &str,
) -> Result<bool> {
    match key {
        "lb_policy" => {
            if !d.next_arg() {
                return Err(d.arg_err());
            }
            if lb
                .as_ref()
                .is_some_and(|m| m.contains_key("selection_policy"))
            {
                return Err(d.err("load balancing selection policy already specified"));
            }
            let policy = parse_policy(d)?;
            lb.get_or_insert_default()
                .insert("selection_policy".into(), policy);
        }
        "lb_retries" => {
            let v = one_arg(d)?;
            let n = atoi(&v).map_err(|e| d.err(format!("bad lb_retries number '{v}': {e}")))?;
            set_opt(lb.get_or_insert_default(), "retries", n.into());
        }
        "lb_try_duration" => {
            let v = duration_arg_unquoted(d, "duration")?;
            set_opt(lb.get_or_insert_default(), "try_duration", v.into());
        }
        "lb_try_interval" => {
            let v = duration_arg(d, "interval")?;
            set_opt(lb.get_or_insert_default(), "try_interval", v.into());
        }
        "lb_retry_match" => {
            let set = parse_set_body(d, "")
                .map_err(|e| d.err(format!("failed to parse lb_retry_match: {}", e.message)))?;
            let m = lb.get_or_insert_default();
            let list = m
                .entry("retry_match")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = list {
                a.push(matcher_set_json(&set));
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn set_opt(m: &mut Map<String, Value>, key: &str, v: Value) {
    if crate::http::obj::is_empty(&v) {
        m.remove(key);
    } else {
        m.insert(key.into(), v);
    }
}

/// Parses a selection policy (cursor on its name) into its module JSON.
pub fn parse_policy(d: &mut Dispenser) -> Result<Value> {
    let name = d.val().to_string();
    let mut sub = d.new_from_next_segment();
    sub.next();
    let o = Obj::module("policy", &name);
    let o = match name.as_str() {
        "random" | "least_conn" | "round_robin" | "first" | "ip_hash" | "client_ip_hash"
        | "uri_hash" => {
            if sub.next_arg() {
                return Err(sub.arg_err());
            }
            o
        }
        "random_choose" => {
            let v = one_arg(&mut sub)?;
            let n = atoi(&v).map_err(|e| sub.err(format!("invalid choice value '{v}': {e}")))?;
            o.opt("choose", n)
        }
        "weighted_round_robin" => o.set("weights", weights(&mut sub)?),
        "query" | "header" => {
            let key = if name == "query" { "key" } else { "field" };
            let v = one_arg(&mut sub)?;
            let o = o.opt(key, v);
            fallback_block(&mut sub, o, false)?
        }
        "cookie" => {
            let args = sub.remaining_args();
            let o = match args.as_slice() {
                [] => o,
                [n] => o.opt("name", n.as_str()),
                [n, s] => o.opt("name", n.as_str()).opt("secret", s.as_str()),
                _ => return Err(sub.arg_err()),
            };
            fallback_block(&mut sub, o, true)?
        }
        other => {
            return Err(d.err(format!("getting module named 'http.reverse_proxy.selection_policies.{other}': module not registered: http.reverse_proxy.selection_policies.{other}")))
        }
    };
    Ok(o.build())
}

fn weights(d: &mut Dispenser) -> Result<Value> {
    let args = d.remaining_args();
    if args.is_empty() {
        return Err(d.arg_err());
    }
    let mut out = Vec::new();
    for w in args {
        let n = atoi(&w).map_err(|e| d.err(format!("invalid weight value '{w}': {e}")))?;
        if n < 0 {
            return Err(d.err(format!(
                "invalid weight value '{w}': weight should be non-negative"
            )));
        }
        out.push(Value::from(n));
    }
    Ok(Value::Array(out))
}

/// The block of the hashing policies: `fallback <policy>` (and `max_age`
/// for `cookie`).
fn fallback_block(d: &mut Dispenser, mut o: Obj, cookie: bool) -> Result<Obj> {
    while d.next_block(0) {
        match d.val() {
            "fallback" => {
                if !d.next_arg() {
                    return Err(d.arg_err());
                }
                if o.0.contains_key("fallback") {
                    return Err(d.err("fallback selection policy already specified"));
                }
                let p = parse_policy(d)?;
                o.put("fallback", p);
            }
            "max_age" if cookie => {
                let v = one_arg(d)?;
                if o.0.contains_key("max_age") {
                    return Err(d.err("cookie max_age already specified"));
                }
                let dur = crate::http::duration::parse_duration(&v)
                    .map_err(|_| d.err(format!("invalid duration: {v}")))?;
                if dur <= 0 {
                    return Err(d.err(format!(
                        "invalid duration: {v}, max_age should be non-zero and positive"
                    )));
                }
                if d.next_arg() {
                    return Err(d.arg_err());
                }
                o.put("max_age", dur);
            }
            other => return Err(d.err(format!("unrecognized option '{other}'"))),
        }
    }
    Ok(o)
}

/// Handles an active or passive health check subdirective; false if `key`
/// is none.
pub fn health_option(
    d: &mut Dispenser,
    active: &mut Option<Map<String, Value>>,
    passive: &mut Option<Map<String, Value>>,
    key: &str,
) -> Result<bool> {
    if key.starts_with("health_") {
        return active_option(d, active, key);
    }
    let (k, v): (&str, Value) = match key {
        "max_fails" => (
            "max_fails",
            int_arg(d, "invalid maximum fail count")?.into(),
        ),
        "fail_duration" => ("fail_duration", duration_arg(d, "duration")?.into()),
        "unhealthy_request_count" => (
            "unhealthy_request_count",
            int_arg(d, "invalid maximum connection count")?.into(),
        ),
        "unhealthy_latency" => ("unhealthy_latency", duration_arg(d, "duration")?.into()),
        "unhealthy_status" => {
            let args = d.remaining_args();
            if args.is_empty() {
                return Err(d.arg_err());
            }
            let p = passive.get_or_insert_default();
            let list = p
                .entry("unhealthy_status")
                .or_insert_with(|| Value::Array(Vec::new()));
            for a in args {
                let n = status_code(&a)
                    .map_err(|e| d.err(format!("bad status value '{}': {e}", d.val())))?;
                if let Value::Array(l) = list {
                    l.push(n.into());
                }
            }
            return Ok(true);
        }
        _ => return Ok(false),
    };
    set_opt(passive.get_or_insert_default(), k, v);
    Ok(true)
}

fn active_option(
    d: &mut Dispenser,
    active: &mut Option<Map<String, Value>>,
    key: &str,
) -> Result<bool> {
    let (k, v): (&str, Value) = match key {
        "health_uri" => ("uri", one_arg(d)?.into()),
        "health_path" => ("path", one_arg(d)?.into()),
        "health_method" => ("method", one_arg(d)?.into()),
        "health_request_body" => ("body", one_arg(d)?.into()),
        "health_body" => ("expect_body", one_arg(d)?.into()),
        "health_upstream" => {
            let v = one_arg(d)?;
            let port = v.rsplit_once(':').map(|(_, p)| p).ok_or_else(|| {
                d.err(format!(
                    "health_upstream is malformed '{v}': address {v}: missing port in address"
                ))
            })?;
            atoi(port).map_err(|e| d.err(format!("bad port number '{v}': {e}")))?;
            ("upstream", v.into())
        }
        "health_port" => {
            let has_upstream = active.as_ref().is_some_and(|a| a.contains_key("upstream"));
            if !d.next_arg() {
                return Err(d.arg_err());
            }
            if has_upstream {
                return Err(d.err(
                    "the 'health_port' subdirective is ignored if 'health_upstream' is used!",
                ));
            }
            d.prev();
            ("port", int_arg(d, "bad port number")?.into())
        }
        "health_headers" => ("headers", health_headers(d)),
        "health_interval" => ("interval", duration_arg_unquoted(d, "interval")?.into()),
        "health_timeout" => ("timeout", duration_arg_unquoted(d, "timeout")?.into()),
        "health_status" => {
            let v = one_arg(d)?;
            let n = status_code(&v).map_err(|e| d.err(format!("bad status value '{v}': {e}")))?;
            ("expect_status", n.into())
        }
        "health_follow_redirects" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            ("follow_redirects", true.into())
        }
        "health_passes" => ("passes", int_arg(d, "invalid passes count")?.into()),
        "health_fails" => ("fails", int_arg(d, "invalid fails count")?.into()),
        _ => return Ok(false),
    };
    set_opt(active.get_or_insert_default(), k, v);
    Ok(true)
}

fn health_headers(d: &mut Dispenser) -> Value {
    let mut fields: Vec<(String, Vec<String>)> = Vec::new();
    let nesting = d.nesting();
    while d.next_block(nesting) {
        let key = d.val().to_string();
        let mut values = d.remaining_args();
        if values.is_empty() {
            values.push(String::new());
        }
        match fields.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.extend(values),
            None => fields.push((key, values)),
        }
    }
    sorted_map(fields.into_iter().map(|(k, v)| (k, strings(&v))).collect())
}
