//! `storage redis [cluster|failover] { … }`: the Caddyfile of
//! pberkel/caddy-storage-redis, adapted to the JSON that plugin's
//! `caddy adapt` writes: every field of its module, keys sorted (Caddy
//! marshals the module through a map), defaults where unset.
//!
//! ```text
//! storage redis {
//!     host 127.0.0.1          port 6379         address host:port
//!     db 0    timeout 5       username …        password …
//!     key_prefix caddy        encryption_key <32 chars>
//!     compression false|true|flate|zlib
//!     tls_enabled false       tls_insecure false
//!     tls_server_certs_pem …  tls_server_certs_path …
//!     route_by_latency false  route_randomly false
//!     master_name …           sentinel_password …
//! }
//! ```
//!
//! A key's value is its one argument, or every token of a block after it
//! (`address { a:1 b:2 }`).

use crate::error::Result;
use crate::syntax::Dispenser;
use serde_json::{json, Map, Value};

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The module's fields before any key is read (the plugin's `New()`).
fn defaults() -> Map<String, Value> {
    let v = json!({
        "address": null, "client_type": "simple", "compression": "", "db": "0",
        "encryption_key": "", "host": ["127.0.0.1"], "key_prefix": "caddy",
        "master_name": "", "module": "redis", "password": "", "port": ["6379"],
        "route_by_latency": false, "route_randomly": false, "sentinel_password": "",
        "timeout": "", "tls_enabled": false, "tls_insecure": false,
        "tls_server_certs_path": "", "tls_server_certs_pem": "", "username": ""
    });
    v.as_object().cloned().unwrap_or_default()
}

/// Parses the module's arguments and block; `d` is on `redis`.
pub fn parse(d: &mut Dispenser) -> Result<Value> {
    let mut m = defaults();
    if d.next_arg() {
        match d.val() {
            "cluster" | "failover" => {
                m.insert("client_type".into(), d.val().into());
            }
            _ => return Err(d.arg_err()),
        }
    }
    let nesting = d.nesting();
    while d.next_block(nesting) {
        let key = d.val().to_string();
        let mut vals = Vec::new();
        if d.next_arg() {
            vals.push(d.val().to_string());
        } else {
            let inner = d.nesting();
            while d.next_block(inner) {
                vals.push(d.val().to_string());
            }
        }
        let Some(first) = vals.first().cloned() else {
            return Err(d.err(format!("no value supplied for configuraton key '{key}'")));
        };
        let boolean = |d: &Dispenser| {
            parse_bool(&first)
                .ok_or_else(|| d.err(format!("invalid boolean value for '{key}': {first}")))
        };
        let value: Value = match key.as_str() {
            "address" | "host" | "port" => vals.into(),
            "db" | "timeout" | "encryption_key" => first.into(),
            "aes_key" => {
                m.insert("encryption_key".into(), first.into());
                continue;
            }
            "username" | "password" | "sentinel_password" | "master_name" | "key_prefix"
            | "tls_server_certs_pem" | "tls_server_certs_path" => {
                if first.is_empty() {
                    continue;
                }
                first.into()
            }
            "compression" => match (parse_bool(&first), first.as_str()) {
                (Some(true), _) => "flate".into(),
                (Some(false), _) => "".into(),
                (None, "flate" | "zlib") => first.into(),
                _ => {
                    return Err(d.err(format!("invalid value for 'compression': {first} (expected 'true', 'flate', 'zlib', or 'false')")))
                }
            },
            "tls_enabled" | "tls_insecure" | "route_by_latency" | "route_randomly" => {
                boolean(d)?.into()
            }
            _ => return Err(d.err(format!("unknown configuration key: {key}"))),
        };
        m.insert(key, value);
    }
    Ok(Value::Object(m))
}
