//! `transport http` (`http.reverse_proxy.transport.http`):
//!
//! ```text
//! transport http {
//!     read_buffer | write_buffer | max_response_header <size>
//!     read_timeout | write_timeout <duration>
//!     proxy_protocol v1|v2
//!     forward_proxy_url <url>
//!     network_proxy url <url> | none
//!     dial_timeout | dial_fallback_delay <duration>
//!     response_header_timeout | expect_continue_timeout <duration>
//!     resolvers <resolvers...>
//!     tls
//!     tls_client_auth <automate_name> | <cert_file> <key_file>
//!     tls_insecure_skip_verify
//!     tls_curves <curves...>
//!     tls_timeout <duration>
//!     tls_trusted_ca_certs <pem_files...>
//!     tls_trust_pool <module> [...]
//!     tls_server_name <sni>
//!     tls_renegotiation never|once|freely
//!     tls_except_ports <ports...>
//!     keepalive off|<duration>
//!     keepalive_interval <interval>
//!     keepalive_idle_conns | keepalive_idle_conns_per_host <count>
//!     versions <versions...>
//!     compression off
//!     max_conns_per_host <count>
//!     local_address <address>
//! }
//! ```
//!
//! The `fastcgi` transport lives in [`super::fastcgi`].

use super::units::{duration_arg, int_arg, one_arg, size_arg};
use crate::error::Result;
use crate::http::obj::{strings, Obj};
use crate::syntax::Dispenser;
use serde_json::{Map, Value};

/// Parses the block of `transport http` (a dispenser over that segment,
/// cursor on `http`) into the
/// transport's fields (without `protocol`).
pub fn parse_http(d: &mut Dispenser) -> Result<Map<String, Value>> {
    let mut t = Map::new();
    while d.next_block(0) {
        let key = d.val().to_string();
        if !simple_option(d, &mut t, &key)? && !tls_option(d, &mut t, &key)? {
            keepalive_or_other(d, &mut t, &key)?;
        }
    }
    Ok(t)
}

fn put(t: &mut Map<String, Value>, key: &str, v: impl Into<Value>) {
    let v = v.into();
    if crate::http::obj::is_empty(&v) {
        t.remove(key);
    } else {
        t.insert(key.into(), v);
    }
}

fn simple_option(d: &mut Dispenser, t: &mut Map<String, Value>, key: &str) -> Result<bool> {
    match key {
        "read_buffer" => put(t, "read_buffer_size", size_arg(d, "read buffer size")?),
        "write_buffer" => put(t, "write_buffer_size", size_arg(d, "write buffer size")?),
        "max_response_header" => put(
            t,
            "max_response_header_size",
            size_arg(d, "max response header size")?,
        ),
        "read_timeout" => put(t, "read_timeout", timeout(d, "read")?),
        "write_timeout" => put(t, "write_timeout", timeout(d, "write")?),
        "proxy_protocol" => {
            let v = one_arg(d)?;
            if v != "v1" && v != "v2" {
                return Err(d.err(format!("invalid proxy protocol version '{v}'")));
            }
            put(t, "proxy_protocol", v);
        }
        "forward_proxy_url" => {
            let url = one_arg(d)?;
            t.insert(
                "network_proxy".into(),
                Obj::module("from", "url").set("url", url).build(),
            );
        }
        "network_proxy" => {
            let name = one_arg(d)?;
            let proxy = match name.as_str() {
                "url" => Obj::module("from", "url").set("url", d.next_arg_value().unwrap_or_default()),
                "none" => Obj::module("from", "none"),
                other => return Err(d.err(format!("getting module named 'caddy.network_proxy.source.{other}': module not registered: caddy.network_proxy.source.{other}"))),
            };
            t.insert("network_proxy".into(), proxy.build());
        }
        "dial_timeout" => put(t, "dial_timeout", duration_arg(d, "timeout")?),
        "dial_fallback_delay" => put(t, "dial_fallback_delay", duration_arg(d, "fallback delay")?),
        "response_header_timeout" => put(t, "response_header_timeout", duration_arg(d, "timeout")?),
        "expect_continue_timeout" => put(t, "expect_continue_timeout", duration_arg(d, "timeout")?),
        "resolvers" => {
            let addrs = d.remaining_args();
            if addrs.is_empty() {
                return Err(d.err("must specify at least one resolver address"));
            }
            t.insert(
                "resolver".into(),
                Obj::new().set("addresses", strings(&addrs)).build(),
            );
        }
        "versions" => {
            let v = d.remaining_args();
            if v.is_empty() {
                return Err(d.arg_err());
            }
            t.insert("versions".into(), strings(&v));
        }
        "compression" => {
            if d.next_arg() && d.val() == "off" {
                t.insert("compression".into(), false.into());
            }
        }
        "max_conns_per_host" => put(t, "max_conns_per_host", int_arg(d, "bad integer value")?),
        "local_address" => put(t, "local_address", one_arg(d)?),
        _ => return Ok(false),
    }
    Ok(true)
}

fn timeout(d: &mut Dispenser, which: &str) -> Result<i64> {
    let v = one_arg(d)?;
    crate::http::duration::parse_duration(&v)
        .map_err(|e| d.err(format!("invalid {which} timeout duration '{v}': {e}")))
}

fn tls_obj(t: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let v = t.entry("tls").or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut()
        .unwrap_or_else(|| unreachable!("just made an object"))
}

fn tls_option(d: &mut Dispenser, t: &mut Map<String, Value>, key: &str) -> Result<bool> {
    match key {
        "tls" => {
            tls_obj(t);
        }
        "tls_client_auth" => {
            let args = d.remaining_args();
            let tls = tls_obj(t);
            match args.as_slice() {
                [name] => {
                    tls.insert("client_certificate_automate".into(), name.as_str().into());
                }
                [cert, key] => {
                    tls.insert("client_certificate_file".into(), cert.as_str().into());
                    tls.insert("client_certificate_key_file".into(), key.as_str().into());
                }
                _ => return Err(d.arg_err()),
            }
        }
        "tls_insecure_skip_verify" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            tls_obj(t).insert("insecure_skip_verify".into(), true.into());
        }
        "tls_curves" => {
            let args = d.remaining_args();
            if args.is_empty() {
                return Err(d.arg_err());
            }
            tls_obj(t).insert("curves".into(), strings(&args));
        }
        "tls_timeout" => {
            let v = duration_arg(d, "timeout")?;
            let tls = tls_obj(t);
            put(tls, "handshake_timeout", v);
        }
        "tls_trusted_ca_certs" | "tls_trust_pool" => ca_option(d, t, key)?,
        "tls_server_name" => {
            let v = one_arg(d)?;
            put(tls_obj(t), "server_name", v);
        }
        "tls_renegotiation" => {
            tls_obj(t);
            let v = one_arg(d)?;
            if !matches!(v.as_str(), "never" | "once" | "freely") {
                return Err(d.arg_err());
            }
            tls_obj(t).insert("renegotiation".into(), v.into());
        }
        "tls_except_ports" => {
            let ports = d.remaining_args();
            if ports.is_empty() {
                return Err(d.arg_err());
            }
            tls_obj(t).insert("except_ports".into(), strings(&ports));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// `tls_trusted_ca_certs` and `tls_trust_pool` (exclusive of each other).
fn ca_option(d: &mut Dispenser, t: &mut Map<String, Value>, key: &str) -> Result<()> {
    match key {
        "tls_trusted_ca_certs" => {
            let args = d.remaining_args();
            if args.is_empty() {
                return Err(d.arg_err());
            }
            let tls = tls_obj(t);
            if tls.contains_key("ca") {
                return Err(d.err("cannot specify both 'tls_trust_pool' and 'tls_trusted_ca_certs"));
            }
            tls.insert("root_ca_pem_files".into(), strings(&args));
        }
        "tls_trust_pool" => {
            let pool = trust_pool(d)?;
            let tls = tls_obj(t);
            if tls.contains_key("root_ca_pem_files") {
                return Err(
                    d.err("cannot specify both 'tls_trust_pool' and 'tls_trusted_ca_certs'")
                );
            }
            if tls.contains_key("ca") {
                return Err(d.err("cannot specify \"tls_trust_pool\" twice in caddyfile"));
            }
            tls.insert("ca".into(), pool);
        }
        _ => {}
    }
    Ok(())
}

/// `tls_trust_pool file [<pem_files...>] { pem_file … }` or
/// `tls_trust_pool inline [<base64_der...>] { trust_der … }`.
fn trust_pool(d: &mut Dispenser) -> Result<Value> {
    let name = one_arg(d)?;
    let (field, sub) = match name.as_str() {
        "file" => ("pem_files", "pem_file"),
        "inline" => ("trusted_ca_certs", "trust_der"),
        other => return Err(d.err(format!("getting module named 'tls.ca_pool.source.{other}': module not registered: tls.ca_pool.source.{other}"))),
    };
    let mut items = d.remaining_args();
    let nesting = d.nesting();
    while d.next_block(nesting) {
        if d.val() != sub {
            return Err(d.err(format!("unknown subdirective: {}", d.val())));
        }
        let more = d.remaining_args();
        if more.is_empty() {
            return Err(d.arg_err());
        }
        items.extend(more);
    }
    Ok(Obj::module("provider", &name)
        .opt(field, strings(&items))
        .build())
}

fn keepalive_or_other(d: &mut Dispenser, t: &mut Map<String, Value>, key: &str) -> Result<()> {
    let (k, v): (&str, Value) = match key {
        "keepalive" => {
            let v = one_arg(d)?;
            if v == "off" {
                ("enabled", false.into())
            } else {
                let dur = crate::http::duration::parse_duration(&v)
                    .map_err(|e| d.err(format!("bad duration value '{v}': {e}")))?;
                ("idle_timeout", dur.into())
            }
        }
        "keepalive_interval" => ("probe_interval", duration_arg(d, "interval")?.into()),
        "keepalive_idle_conns" => ("max_idle_conns", int_arg(d, "bad integer value")?.into()),
        "keepalive_idle_conns_per_host" => (
            "max_idle_conns_per_host",
            int_arg(d, "bad integer value")?.into(),
        ),
        other => return Err(d.err(format!("unrecognized subdirective {other}"))),
    };
    let ka = t
        .entry("keep_alive")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = ka {
        if k == "enabled" {
            m.insert(k.into(), v);
        } else {
            put(m, k, v);
        }
    }
    Ok(())
}
