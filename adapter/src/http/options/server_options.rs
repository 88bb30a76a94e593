//! `servers [<listener_address>] { … }` parsing (Caddy's
//! serveroptions.go):
//!
//! ```text
//! servers [<listener_address>] {
//!     name <name>
//!     listener_wrappers { <listener_wrappers...> }
//!     timeouts {
//!         read_body <d>  read_body_idle <d> [<min_rate>]  read_header <d>
//!         write <d>  write_idle <d> [<min_rate>]  write_max_chunk <size>  idle <d>
//!     }
//!     keepalive_interval <d>
//!     keepalive_idle <d>
//!     keepalive_count <n>
//!     max_header_size <size>
//!     enable_full_duplex
//!     expected_underscore_headers <names...>
//!     expected_dot_headers <names...>
//!     log_credentials
//!     protocols [h1|h2|h2c|h3] [...]
//!     strict_sni_host [on|insecure_off]
//!     trusted_proxies <module> ...
//!     client_ip_headers <headers...>
//!     trusted_proxies_strict
//!     metrics
//!     trace
//!     0rtt off
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

fn duration(d: &mut Dispenser, what: &str) -> Result<Value> {
    let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
    let ns = parse_duration(&v).map_err(|e| d.err(format!("parsing {what} duration: {e}")))?;
    Ok(ns.into())
}

fn subdirective(d: &mut Dispenser, so: &mut ServerOptions) -> Result<()> {
    let key = d.val().to_string();
    let f = &mut so.fields;
    match key.as_str() {
        "name" => {
            if so.listener_address.is_empty() {
                return Err(d.err("cannot set a name for a server without a listener address"));
            }
            so.name = d.next_arg_value().ok_or_else(|| d.arg_err())?;
        }
        "timeouts" => timeouts(d, f)?,
        "keepalive_interval" | "keepalive_idle" => {
            let v = duration(d, &key.replace('_', " "))?;
            f.insert(key, v);
        }
        "keepalive_count" => {
            let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
            let n: i64 = v
                .parse()
                .map_err(|_| d.err(format!("parsing keepalive count int: invalid syntax '{v}'")))?;
            f.insert(key, n.into());
        }
        "max_header_size" => {
            let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
            if d.next_arg() {
                return Err(d.arg_err());
            }
            let n = parse_size(&v).ok_or_else(|| d.err(format!("parsing max_header_size: {v}")))?;
            f.insert("max_header_bytes".into(), n.into());
        }
        "enable_full_duplex" | "trusted_proxies_strict" | "log_credentials" | "trace" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            match key.as_str() {
                "log_credentials" => so.log_credentials = true,
                "trusted_proxies_strict" => _ = f.insert(key, 1.into()),
                _ => _ = f.insert(key, true.into()),
            }
        }
        "expected_underscore_headers" | "expected_dot_headers" => {
            let names = d.remaining_args();
            if names.is_empty() {
                return Err(d.arg_err());
            }
            f.insert(key, strings(&names));
        }
        "protocols" => {
            let ps = unique_args(d, "protocol", |p| {
                matches!(p, "h1" | "h2" | "h2c" | "h3")
                    .then_some(())
                    .ok_or_else(|| format!("unknown protocol '{p}': expected h1, h2, h2c, or h3"))
            })?;
            f.insert("protocols".into(), strings(&ps));
        }
        "strict_sni_host" => {
            let on = match d.next_arg_value().as_deref() {
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
            let hs = unique_args(d, "client IP header", |_| Ok(()))?;
            f.insert("client_ip_headers".into(), strings(&hs));
        }
        "trusted_proxies_unix" => {
            f.insert("trusted_proxies_unix".into(), true.into());
        }
        "metrics" => {
            let mut m = serde_json::Map::new();
            let nesting = d.nesting();
            while d.next_block(nesting) {
                if d.val() == "per_host" {
                    m.insert("per_host".into(), true.into());
                }
            }
            f.insert("metrics".into(), Value::Object(m));
        }
        "listener_wrappers" => {
            let ws = super::listener_wrappers::parse(d)?;
            f.insert("listener_wrappers".into(), ws);
        }
        "0rtt" => {
            let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
            if v != "off" {
                return Err(d.err(format!(
                    "unsupported 0rtt argument '{v}' (only 'off' is supported)"
                )));
            }
            f.insert("allow_0rtt".into(), false.into());
        }
        other => return Err(d.err(format!("unrecognized servers option '{other}'"))),
    }
    Ok(())
}

/// `timeouts { … }`: durations, the idle ones with an optional minimum
/// rate in bytes per second, and `write_max_chunk` a size.
fn timeouts(d: &mut Dispenser, f: &mut serde_json::Map<String, Value>) -> Result<()> {
    let nesting = d.nesting();
    while d.next_block(nesting) {
        let sub = d.val().to_string();
        if let Some((field, rate)) = match sub.as_str() {
            "read_body_idle" => Some(("read_idle_timeout", "read_min_rate")),
            "write_idle" => Some(("write_idle_timeout", "write_min_rate")),
            _ => None,
        } {
            let args = d.remaining_args();
            if args.is_empty() || args.len() > 2 {
                return Err(d.arg_err());
            }
            let ns = parse_duration(&args[0])
                .map_err(|e| d.err(format!("parsing {sub} timeout duration: {e}")))?;
            f.insert(field.into(), ns.into());
            if let Some(r) = args.get(1) {
                let n: i64 = r.parse().map_err(|_| {
                    d.err(format!(
                        "parsing {sub} min_rate bytes/second: strconv.ParseInt: parsing \"{r}\": invalid syntax"
                    ))
                })?;
                f.insert(rate.into(), n.into());
            }
            continue;
        }
        if sub == "write_max_chunk" {
            let args = d.remaining_args();
            let [size] = args.as_slice() else {
                return Err(d.arg_err());
            };
            let n = parse_size(size)
                .ok_or_else(|| d.err(format!("parsing write_max_chunk: {size}")))?;
            f.insert("max_write_chunk".into(), n.into());
            continue;
        }
        let field = match sub.as_str() {
            "read_body" => "read_timeout",
            "read_header" => "read_header_timeout",
            "write" => "write_timeout",
            "idle" => "idle_timeout",
            other => return Err(d.err(format!("unrecognized timeouts option '{other}'"))),
        };
        let v = duration(d, &format!("{sub} timeout"))?;
        f.insert(field.into(), v);
    }
    Ok(())
}

/// The line's arguments, each checked and given at most once; no block.
fn unique_args(
    d: &mut Dispenser,
    what: &str,
    check: impl Fn(&str) -> std::result::Result<(), String>,
) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    while d.next_arg() {
        let v = d.val().to_string();
        check(&v).map_err(|e| d.err(e))?;
        if out.contains(&v) {
            return Err(d.err(format!("{what} {v} specified more than once")));
        }
        out.push(v);
    }
    if d.next_block(d.nesting()) {
        return Err(d.arg_err());
    }
    Ok(out)
}

/// `trusted_proxies <module> …`: `static <ranges...>` (`private_ranges`
/// expanded); another module is written through with its arguments as
/// ranges. Keys sorted as Caddy's `JSONModuleObject` writes them.
fn trusted_proxies(d: &mut Dispenser) -> Result<Value> {
    let module = d.next_arg_value().ok_or_else(|| {
        d.err("trusted_proxies expects an IP range source module name as its first argument")
    })?;
    let mut ranges = Vec::new();
    for a in d.remaining_args() {
        if a == "private_ranges" {
            ranges.extend(PRIVATE_RANGES.iter().map(|s| s.to_string()));
        } else {
            ranges.push(a);
        }
    }
    let nesting = d.nesting();
    while d.next_block(nesting) {}
    let mut pairs = vec![("source".to_string(), Value::from(module))];
    if !ranges.is_empty() {
        pairs.push(("ranges".into(), strings(&ranges)));
    }
    Ok(crate::http::obj::sorted_map(pairs))
}

/// Caddy's `private_ranges` shorthand.
const PRIVATE_RANGES: &[&str] = &[
    "192.168.0.0/16",
    "172.16.0.0/12",
    "10.0.0.0/8",
    "127.0.0.1/8",
    "fd00::/8",
    "::1",
];

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
