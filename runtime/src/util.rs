//! Small helpers shared across the runtime: Go-compatible path cleaning and
//! glob matching (Caddy's path rules are defined in terms of Go's `path`
//! package), Caddy's duration syntax, a cheap non-cryptographic PRNG, and
//! the text a panic carries; `background` runs reconfiguration work on
//! low-priority threads; `http_post` makes one-off HTTP/1.1 POSTs;
//! `expand_env` fills `{env.*}` into a config value.

pub mod background;
pub mod glob;
pub use glob::glob_match;
pub mod goregex;
pub mod http_post;
pub mod ipnet;
pub mod localtime;
pub mod otlp;

pub use ipnet::IpNet;

use std::cell::Cell;
use std::time::Duration;

/// `{env.NAME}` placeholders replaced by the variable (empty when unset),
/// as Caddy's global replacer expands a config value at provision time.
pub fn expand_env(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{env.") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&std::env::var(&rest[start + 5..start + len]).unwrap_or_default());
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// Lexically cleans a slash-separated path as Go's `path.Clean` does:
/// merges slashes, removes `.` segments, resolves `..` without leaving the
/// root. An empty path becomes `.`.
pub fn go_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `url.URL.EscapedPath` of a decoded path: everything but letters,
/// digits, `-_.~` and `$&+,/:;=@` percent-encoded.
pub fn go_escape_path(p: &str) -> String {
    const KEEP: &[u8] = b"-_.~$&+,/:;=@";
    let mut out = String::with_capacity(p.len());
    for &b in p.as_bytes() {
        if b.is_ascii_alphanumeric() || KEEP.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Caddy's `CleanPath`: Go's clean that keeps a trailing slash; when
/// `merge_slashes` is false, runs of slashes are preserved.
pub fn clean_path(p: &str, merge_slashes: bool) -> String {
    if merge_slashes {
        return clean_keep_trailing(p);
    }
    // Expand empty segments with a marker that cannot occur in a path,
    // clean, then drop the markers again.
    const MARK: char = '\u{fffe}';
    let mut expanded = String::with_capacity(p.len() + 4);
    let mut prev_slash = false;
    for c in p.chars() {
        if c == '/' && prev_slash {
            expanded.push(MARK);
        }
        prev_slash = c == '/';
        expanded.push(c);
    }
    clean_keep_trailing(&expanded).replace(MARK, "")
}

fn clean_keep_trailing(p: &str) -> String {
    let mut cleaned = go_clean(p);
    if cleaned != "/" && p.ends_with('/') {
        cleaned.push('/');
    }
    cleaned
}

/// Joins a request path onto `root` so the result never leaves it:
/// the path is cleaned as if rooted first (Caddy's `SanitizedPathJoin`).
/// A trailing slash is kept.
pub fn sanitized_join(root: &str, req_path: &str) -> String {
    let root = if root.is_empty() { "." } else { root };
    let cleaned = go_clean(&format!("/{req_path}"));
    let mut out = format!("{}{}", root.trim_end_matches('/'), cleaned);
    if root == "/" {
        out = cleaned.clone();
    }
    if req_path.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// Parses Caddy's duration syntax: Go's `time.ParseDuration` units plus
/// `d` for days (`"1m30s"`, `"1.5h"`, `"2d"`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?}");
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            _ => return Err(bad()),
        };
        total += value * nanos_per;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_nanos(total as u64))
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish() | 1
}

/// Locks a mutex, ignoring poisoning: every critical section in the
/// runtime either completes or leaves its data consistent.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fast, non-cryptographic random number (xorshift64*), per thread.
pub fn random_u64() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// The message a panic carries: `panic!("…")` gives a `&str` or a
/// `String`; `None` for any other payload (`panic_any`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_placeholders_expand_and_unset_ones_vanish() {
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(expand_env("x{env.PATH}y"), format!("x{path}y"));
        assert_eq!(expand_env("a{env.BELLHOP_SURELY_UNSET_VAR}b"), "ab");
        assert_eq!(expand_env("{env.unterminated"), "{env.unterminated");
    }

    #[test]
    fn panic_messages_of_every_kind() {
        let s = std::panic::catch_unwind(|| panic!("static text")).unwrap_err();
        assert_eq!(panic_message(s.as_ref()), Some("static text"));
        let n = 7;
        let f = std::panic::catch_unwind(move || panic!("formatted {n}")).unwrap_err();
        assert_eq!(panic_message(f.as_ref()), Some("formatted 7"));
        let other = std::panic::catch_unwind(|| std::panic::panic_any(42u8)).unwrap_err();
        assert_eq!(panic_message(other.as_ref()), None);
    }

    #[test]
    fn cleans_like_go() {
        assert_eq!(go_clean("/a/../../b//c/./"), "/b/c");
        assert_eq!(go_clean(""), ".");
        assert_eq!(clean_path("/a//b/", true), "/a/b/");
        assert_eq!(clean_path("/a//b/../c", false), "/a//c");
        assert_eq!(
            sanitized_join("/srv", "/../../etc/passwd"),
            "/srv/etc/passwd"
        );
        assert_eq!(sanitized_join("/srv/", "a/"), "/srv/a/");
        assert_eq!(sanitized_join(".", "/x"), "./x");
    }

    #[test]
    fn globs_like_go() {
        assert!(glob_match("/foo/*.txt", "/foo/a.txt"));
        assert!(!glob_match("/foo/*.txt", "/foo/x/a.txt"));
        assert!(glob_match("/f?o/[a-c]", "/fxo/b"));
        assert!(!glob_match("/[^a]", "/a"));
        assert!(glob_match("/exact", "/exact"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5x").is_err());
    }
}
