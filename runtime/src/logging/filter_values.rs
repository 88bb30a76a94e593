//! What the string filters of [`super`] do to one value: IP masking,
//! query parameters and cookies, each as Caddy's `filters.go` does it
//! with Go's `net`, `net/url` and `net/http`.

use super::{hash, masked, Action, ActionKind};
use crate::http::handlers::rewrite::uri::{encode_query, parse_query};
use serde_json::Value;
use std::net::IpAddr;

/// `ip_mask` on a comma-separated list of addresses, each with or without
/// a port; what is not an address stays as it is.
pub fn mask_ips(s: &str, v4: Option<u8>, v6: Option<u8>) -> String {
    let parts: Vec<String> = s
        .split(',')
        .map(|value| {
            let value = value.trim();
            let (host, port) = split_host_port(value).unwrap_or((value, ""));
            let Ok(ip) = host.parse::<IpAddr>() else {
                return value.to_string();
            };
            let m = masked(ip, v4, v6);
            match port {
                "" => m,
                p if m.contains(':') => format!("[{m}]:{p}"),
                p => format!("{m}:{p}"),
            }
        })
        .collect();
    parts.join(", ")
}

/// Go's `net.SplitHostPort`, for `host:port` and `[v6]:port`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')?));
    }
    let (host, port) = s.rsplit_once(':')?;
    (!host.contains(':')).then_some((host, port))
}

/// `query` on a URI: its query parameters parsed as Go's `url.Values`,
/// the actions applied, and encoded again sorted.
pub fn filter_query(s: &str, actions: &[Action]) -> String {
    let (before_fragment, fragment) = match s.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (s, None),
    };
    let (path, query) = before_fragment
        .split_once('?')
        .unwrap_or((before_fragment, ""));
    let mut values = parse_query(query);
    for a in actions {
        match a.kind {
            ActionKind::Replace => values
                .get_mut(&a.name)
                .into_iter()
                .flatten()
                .for_each(|v| *v = a.value.clone()),
            ActionKind::Hash => values
                .get_mut(&a.name)
                .into_iter()
                .flatten()
                .for_each(|v| *v = hash(v)),
            ActionKind::Delete => {
                values.remove(&a.name);
            }
        }
    }
    let mut out = path.to_string();
    let encoded = encode_query(&values);
    if !encoded.is_empty() {
        out.push('?');
        out.push_str(&encoded);
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// `cookie` on a request's `Cookie` lines: the cookies Go's
/// `Request.Cookies` reads, each kept, replaced, hashed or deleted, then
/// written back as one `Cookie` line (`AddCookie`).
pub fn filter_cookies(lines: &[Value], actions: &[Action]) -> Value {
    let mut out: Vec<String> = Vec::new();
    for line in lines.iter().filter_map(Value::as_str) {
        for part in line.split(';') {
            let Some((name, value)) = part.trim().split_once('=') else {
                continue;
            };
            let (value, quoted) = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) => (inner, true),
                None => (value, false),
            };
            if !valid_name(name) || !value.bytes().all(valid_value_byte) {
                continue;
            }
            let value = match actions.iter().find(|a| a.name == name) {
                Some(a) if a.kind == ActionKind::Delete => continue,
                Some(a) if a.kind == ActionKind::Replace => a.value.clone(),
                Some(_) => hash(value),
                None => value.to_string(),
            };
            out.push(cookie_pair(name, &value, quoted));
        }
    }
    if out.is_empty() {
        return Value::Array(Vec::new());
    }
    Value::Array(vec![Value::String(out.join("; "))])
}

/// `set_cookie` on one `Set-Cookie` line: `None` when it is deleted.
pub fn filter_set_cookie(line: &str, actions: &[Action]) -> Option<String> {
    let head_end = line.find(';').unwrap_or(line.len());
    let head = &line[..head_end];
    let Some(eq) = head.find('=') else {
        return Some(line.to_string());
    };
    let name = head[..eq].trim();
    if !valid_name(name) {
        return Some(line.to_string());
    }
    let raw = &head[eq + 1..];
    let trimmed = raw.trim();
    let quoted = trimmed.len() >= 2 && trimmed.starts_with('"') && trimmed.ends_with('"');
    let value = if quoted {
        &trimmed[1..trimmed.len() - 1]
    } else {
        trimmed
    };
    let new = match actions.iter().find(|a| a.name == name) {
        None => return Some(line.to_string()),
        Some(a) if a.kind == ActionKind::Delete => return None,
        Some(a) if a.kind == ActionKind::Replace => a.value.clone(),
        Some(_) => hash(value),
    };
    let lead = raw.len() - raw.trim_start().len();
    let trail = raw.len() - raw.trim_end().len();
    let new = if quoted { format!("\"{new}\"") } else { new };
    Some(format!(
        "{}{}{new}{}{}",
        &line[..eq + 1],
        &raw[..lead],
        &raw[raw.len() - trail..],
        &line[head_end..]
    ))
}

/// Go's `AddCookie` pair: a value with a space or comma (or one that was
/// quoted) is quoted.
fn cookie_pair(name: &str, value: &str, quoted: bool) -> String {
    let value: String = value
        .bytes()
        .filter(|b| valid_value_byte(*b))
        .map(char::from)
        .collect();
    if quoted || value.contains([' ', ',']) {
        format!("{name}=\"{value}\"")
    } else {
        format!("{name}={value}")
    }
}

/// A cookie name: a token (RFC 7230 tchar).
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Go's `validCookieValueByte` (space and comma allowed, quoted on output).
fn valid_value_byte(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b';' && b != b'\\'
}
