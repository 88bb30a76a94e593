//! Caddy's one-line commands: `respond`, `file-server` and
//! `reverse-proxy` build a config from their flags (as Caddy builds it:
//! the same servers, routes and handlers) and serve it as `run` serves a
//! file, with the admin API off and no autosave, until interrupted.

pub mod file_server;
pub mod respond;
pub mod reverse_proxy;

use anyhow::{bail, Result};
use serde_json::{json, Map, Value};

/// Go's `http.CanonicalHeaderKey`: `x-forwarded-for` → `X-Forwarded-For`.
pub fn canonical_header(key: &str) -> String {
    if key
        .bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || b == b'-'))
    {
        return key.to_string();
    }
    key.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// `"Field: value"` flags as a header map (`{"Field": ["value"]}`; a later
/// field replaces an earlier one, as `Header.Set`); `flag` names them in
/// errors (`header 0: invalid format …`).
pub fn headers(list: &[String], flag: &str) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (i, h) in list.iter().enumerate() {
        let (k, v) = h.split_once(':').unwrap_or((h, ""));
        let (k, v) = (k.trim(), v.trim());
        if !h.contains(':') || k.is_empty() || v.is_empty() {
            bail!("{flag} {i}: invalid format \"{h}\" (expecting \"Field: value\")");
        }
        out.insert(canonical_header(k), json!([v]));
    }
    Ok(out)
}

/// A server on `listen` with one route, with the limits Caddy's `respond`
/// and `file-server` give theirs (10 s to read a head, 30 s idle, 10 KiB
/// of head) and, with `access_log`, the access log on.
pub fn server(listen: &str, route: Value, access_log: bool) -> Value {
    let mut s = json!({
        "listen": [listen],
        "read_header_timeout": 10_000_000_000u64,
        "idle_timeout": 30_000_000_000u64,
        "max_header_bytes": 10240,
        "routes": [route],
    });
    if access_log {
        s["logs"] = json!({});
    }
    s
}

/// The whole config around `apps`: the admin API off and never saved,
/// and with `debug` the default logger at DEBUG.
pub fn config(apps: Value, debug: bool) -> Vec<u8> {
    let mut c = json!({
        "admin": {"disabled": true, "config": {"persist": false}},
        "apps": apps,
    });
    if debug {
        c["logging"] = json!({"logs": {"default": {"level": "DEBUG"}}});
    }
    c.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_canonical_and_checked() {
        let h = headers(
            &["x-custom-thing: a b".into(), "Server:bellhop".into()],
            "header",
        )
        .unwrap();
        assert_eq!(
            Value::Object(h),
            json!({"X-Custom-Thing": ["a b"], "Server": ["bellhop"]})
        );
        let e = headers(&["ok: 1".into(), "nocolon".into()], "header-up").unwrap_err();
        assert_eq!(
            e.to_string(),
            "header-up 1: invalid format \"nocolon\" (expecting \"Field: value\")"
        );
        assert!(headers(&["Empty:".into()], "header").is_err());
    }
}
