//! Dynamic upstream sources of `reverse_proxy`
//! (`http.reverse_proxy.upstreams.*`):
//!
//! ```text
//! dynamic a [<name> <port>] {
//!     name | port <value>
//!     refresh <interval>
//!     resolvers <ip...>
//!     dial_timeout | dial_fallback_delay <duration>
//!     versions ipv4|ipv6
//! }
//! dynamic srv [<name>] {
//!     service | proto | name <value>
//!     refresh <interval>
//!     resolvers <ip...>
//!     dial_timeout | dial_fallback_delay <duration>
//!     grace_period <duration>
//! }
//! dynamic multi {
//!     <source> [...]
//! }
//! ```

use super::units::{duration_arg, one_arg};
use crate::error::Result;
use crate::http::obj::{strings, Obj};
use crate::syntax::Dispenser;
use serde_json::Value;

/// Parses `dynamic <source> …` (the cursor on the source name) into the
/// `dynamic_upstreams` JSON object.
pub fn parse_dynamic(d: &mut Dispenser) -> Result<Value> {
    let name = d.val().to_string();
    let mut sub = d.new_from_next_segment();
    sub.next();
    match name.as_str() {
        "a" => parse_a(&mut sub),
        "srv" => parse_srv(&mut sub),
        "multi" => parse_multi(&mut sub),
        other => Err(d.err(format!("getting module named 'http.reverse_proxy.upstreams.{other}': module not registered: http.reverse_proxy.upstreams.{other}"))),
    }
}

fn parse_srv(d: &mut Dispenser) -> Result<Value> {
    let args = d.remaining_args();
    if args.len() > 1 {
        return Err(d.arg_err());
    }
    let mut o = Obj::module("source", "srv");
    let (mut service, mut proto, mut name) = (
        String::new(),
        String::new(),
        args.first().cloned().unwrap_or_default(),
    );
    while d.next_block(0) {
        let key = d.val().to_string();
        match key.as_str() {
            "service" | "proto" | "name" => {
                let v = one_arg(d)?;
                let slot = match key.as_str() {
                    "service" => &mut service,
                    "proto" => &mut proto,
                    _ => &mut name,
                };
                if !slot.is_empty() {
                    return Err(d.err(format!("srv {key} has already been specified")));
                }
                *slot = v;
            }
            "grace_period" => o.put("grace_period", duration_arg(d, "grace period")?),
            _ => {
                if !common_dns_option(d, &mut o, &key)? {
                    return Err(d.err(format!("unrecognized srv option '{key}'")));
                }
            }
        }
    }
    Ok(o.opt("service", service)
        .opt("proto", proto)
        .opt("name", name)
        .build())
}

fn parse_a(d: &mut Dispenser) -> Result<Value> {
    let args = d.remaining_args();
    if args.len() > 2 {
        return Err(d.arg_err());
    }
    let mut name = args.first().cloned().unwrap_or_default();
    let mut port = args.get(1).cloned().unwrap_or_default();
    let mut o = Obj::module("source", "a");
    while d.next_block(0) {
        let key = d.val().to_string();
        match key.as_str() {
            "name" | "port" => {
                let v = one_arg(d)?;
                let slot = if key == "name" { &mut name } else { &mut port };
                if !slot.is_empty() {
                    return Err(d.err(format!("a {key} has already been specified")));
                }
                *slot = v;
            }
            "versions" => {
                let vs = d.remaining_args();
                if vs.is_empty() {
                    return Err(d.err("must specify at least one version"));
                }
                let mut versions = Obj::new();
                for v in vs {
                    match v.as_str() {
                        "ipv4" | "ipv6" => versions.put(&v, true),
                        _ => return Err(d.err(format!("unsupported version: '{v}'"))),
                    }
                }
                o.put("versions", versions);
            }
            _ => {
                if !common_dns_option(d, &mut o, &key)? {
                    return Err(d.err(format!("unrecognized a option '{key}'")));
                }
            }
        }
    }
    Ok(o.opt("name", name).opt("port", port).build())
}

/// The options `a` and `srv` share; false if `key` is none of them.
fn common_dns_option(d: &mut Dispenser, o: &mut Obj, key: &str) -> Result<bool> {
    match key {
        "refresh" => {
            let v = one_arg(d)?;
            let dur = crate::http::duration::parse_duration(&v)
                .map_err(|e| d.err(format!("parsing refresh interval duration: {e}")))?;
            o.put_opt("refresh", dur);
        }
        "resolvers" => {
            let addrs = d.remaining_args();
            if addrs.is_empty() {
                return Err(d.err("must specify at least one resolver address"));
            }
            o.put("resolver", Obj::new().set("addresses", strings(&addrs)));
        }
        "dial_timeout" => o.put_opt("dial_timeout", duration_arg(d, "timeout")?),
        "dial_fallback_delay" => o.put_opt("dial_fallback_delay", duration_arg(d, "delay")?),
        _ => return Ok(false),
    }
    Ok(true)
}

fn parse_multi(d: &mut Dispenser) -> Result<Value> {
    if d.next_arg() {
        return Err(d.arg_err());
    }
    let mut sources = Vec::new();
    while d.next_block(0) {
        sources.push(parse_dynamic(d)?);
    }
    Ok(Obj::module("source", "multi")
        .opt("sources", Value::Array(sources))
        .build())
}
