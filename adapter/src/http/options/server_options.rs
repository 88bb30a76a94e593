//! `servers [<listener_address>] { … }` parsing (Caddy's
//! serveroptions.go):
//!
//! ```text
//! servers [<listener_address>] {
//!     name <name>
//!     listener_wrappers { <listener_wrappers...> }
//!     timeouts { read_body <d>  read_header <d>  write <d>  idle <d> }
//!     keepalive_interval <d>
//!     max_header_size <size>
//!     enable_full_duplex
//!     log_credentials
//!     protocols [h1|h2|h2c|h3] [...]
//!     strict_sni_host [on|insecure_off]
//!     trusted_proxies <module> ...
//!     client_ip_headers <headers...>
//!     trusted_proxies_strict
//!     metrics
//!     trace
//! }
//! ```

use super::{Options, ServerOptions};
use crate::error::Result;
use crate::http::duration::parse_duration;
use crate::http::obj::strings;
use crate::http::registry::Directives;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let mut so = ServerOptions::default();
    if let Some(addr) = d.next_arg_value() {
        so.listener_address = addr;
    }
    if d.next_arg() {
        return Err(d.arg_err());
    }
    while d.next_block(0) {
        subdirective(d, &mut so)?;
    }
    opts.servers.push(so);
    Ok(())
}

fn duration(d: &mut Dispenser) -> Result<Value> {
    let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
    let ns = parse_duration(&v).map_err(|e| d.err(format!("parsing duration: {e}")))?;
    Ok(ns.into())
}

fn subdirective(d: &mut Dispenser, so: &mut ServerOptions) -> Result<()> {
    let key = d.val().to_string();
    let f = &mut so.fields;
    match key.as_str() {
        "name" => so.name = d.next_arg_value().ok_or_else(|| d.arg_err())?,
        "timeouts" => {
            let nesting = d.nesting();
            while d.next_block(nesting) {
                let field = match d.val() {
                    "read_body" => "read_timeout",
                    "read_header" => "read_header_timeout",
                    "write" => "write_timeout",
                    "idle" => "idle_timeout",
                    other => return Err(d.err(format!("unrecognized timeouts option '{other}'"))),
                };
                let v = duration(d)?;
                f.insert(field.into(), v);
            }
        }
        "keepalive_interval" => {
            let v = duration(d)?;
            f.insert("keepalive_interval".into(), v);
        }
        "max_header_size" => {
            let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
            let n = parse_size(&v).ok_or_else(|| d.err(format!("parsing max_header_size: {v}")))?;
            f.insert("max_header_bytes".into(), n.into());
        }
        "enable_full_duplex" => {
            f.insert("enable_full_duplex".into(), true.into());
        }
        "log_credentials" => so.log_credentials = true,
        "protocols" => {
            let ps = d.remaining_args();
            if ps.is_empty() {
                return Err(d.err("protocols requires one or more arguments"));
            }
            f.insert("protocols".into(), strings(&ps));
        }
        "strict_sni_host" => {
            let v = d.next_arg_value();
            let on = match v.as_deref() {
                None | Some("on") => true,
                Some("insecure_off") => false,
                Some(o) => {
                    return Err(d.err(format!(
                        "strict_sni_host only supports 'on' or 'insecure_off', got '{o}'"
                    )))
                }
            };
            f.insert("strict_sni_host".into(), on.into());
        }
        "trusted_proxies" => {
            let v = trusted_proxies(d)?;
            f.insert("trusted_proxies".into(), v);
        }
        "client_ip_headers" => {
            let hs = d.remaining_args();
            if hs.is_empty() {
                return Err(d.arg_err());
            }
            f.insert("client_ip_headers".into(), strings(&hs));
        }
        "trusted_proxies_strict" => {
            f.insert("trusted_proxies_strict".into(), 1.into());
        }
        "trusted_proxies_unix" => {
            f.insert("trusted_proxies_unix".into(), true.into());
        }
        "metrics" => {
            let mut m = serde_json::Map::new();
            let nesting = d.nesting();
            while d.next_block(nesting) {
                match d.val() {
                    "per_host" => {
                        m.insert("per_host".into(), true.into());
                    }
                    other => return Err(d.err(format!("unrecognized metrics option '{other}'"))),
                }
            }
            f.insert("metrics".into(), Value::Object(m));
        }
        "trace" => {
            f.insert("trace".into(), true.into());
        }
        "listener_wrappers" => {
            let nesting = d.nesting();
            let mut ws = Vec::new();
            while d.next_block(nesting) {
                let name = d.val().to_string();
                ws.push(crate::http::obj::Obj::module("wrapper", &name).build());
                let inner = d.nesting();
                while d.next_block(inner) {}
            }
            f.insert("listener_wrappers".into(), Value::Array(ws));
        }
        other => return Err(d.err(format!("unrecognized servers option '{other}'"))),
    }
    Ok(())
}

/// `trusted_proxies static <ranges...>` (`private_ranges` expanded).
fn trusted_proxies(d: &mut Dispenser) -> Result<Value> {
    let module = d
        .next_arg_value()
        .ok_or_else(|| d.err("trusted_proxies requires a module"))?;
    let mut ranges = Vec::new();
    for a in d.remaining_args() {
        if a == "private_ranges" {
            ranges.extend(
                [
                    "192.168.0.0/16",
                    "172.16.0.0/12",
                    "10.0.0.0/8",
                    "127.0.0.1/8",
                    "fd00::/8",
                    "::1",
                ]
                .iter()
                .map(|s| s.to_string()),
            );
        } else {
            ranges.push(a);
        }
    }
    let nesting = d.nesting();
    while d.next_block(nesting) {
        if d.val() == "ranges" {
            ranges.extend(d.remaining_args());
        }
    }
    Ok(crate::http::obj::Obj::module("source", &module)
        .opt("ranges", strings(&ranges))
        .build())
}

/// A size like `1MB`, `10KiB` or bytes (go-humanize's ParseBytes).
pub fn parse_size(s: &str) -> Option<i64> {
    let s = s.trim();
    let idx = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let num: f64 = s[..idx].parse().ok()?;
    let mult: f64 = match s[idx..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1048576.0,
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1073741824.0,
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1099511627776.0,
        _ => return None,
    };
    Some((num * mult) as i64)
}
