//! `http.matchers.url_pattern`: matches the request URL against a URL
//! Pattern (the WHATWG standard, as Caddy 2.11 does).
//!
//! JSON: `{"pattern": "/books/:id", "base_url": "https://example.com",
//! "ignore_case": true}`. A relative pattern without `base_url` matches the
//! path (and query, when it has one) on any scheme, host and port; an
//! absolute pattern (`https://example.com/users/:name`) or a `base_url`
//! also constrains the scheme, host and port (an absent port means the
//! scheme's default). Components a pattern leaves out match anything.
//!
//! The request URL is the scheme, the `Host` header and the request URI
//! with its path decoded, cleaned (`..` resolved, doubled slashes merged
//! unless the pattern's path has `//`) and escaped again, as Caddy's: the
//! matcher sees the path handlers resolve, so `/public/*` cannot be
//! reached by `/public/../admin` or `..%2f`. On a match, each component's
//! groups become placeholders: `:id` in the pathname is
//! `{http.url_pattern.pathname.id}`, an unnamed group `{…pathname.0}`.
//!
//! Supported pattern syntax: see `component`; `{…}` groups hold fixed
//! text only.

mod component;

use crate::error::{Error, HttpError};
use crate::http::context::split_host;
use crate::http::{Cx, Matcher};
use crate::registry::Provision;
use crate::util::{clean_path, go_escape_path};
use component::{Component, Kind};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    pattern: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    ignore_case: bool,
}

const NAMES: [&str; 6] = ["protocol", "hostname", "port", "pathname", "search", "hash"];

/// The pattern text of each component, in [`NAMES`] order.
type Texts = [String; 6];

struct MatchUrlPattern {
    components: Vec<(&'static str, Component)>,
    /// Merge doubled slashes of the request path (the pattern's path has
    /// none).
    merge_slashes: bool,
}

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let c: Config = p.decode(v, path)?;
    let texts = split(&c.pattern, &c.base_url).map_err(|e| Error::config(path, e))?;
    let mut components = Vec::new();
    for (name, text) in NAMES.iter().zip(texts.iter()) {
        if text == "*" {
            continue;
        }
        let kind = match *name {
            "pathname" => Kind::Pathname,
            "hostname" => Kind::Hostname,
            _ => Kind::Other,
        };
        let ignore = c.ignore_case || *name == "protocol" || *name == "hostname";
        let compiled = component::compile(text, kind, ignore)
            .map_err(|e| Error::config(format!("{path}.pattern"), format!("{name}: {e}")))?;
        components.push((*name, compiled));
    }
    let pattern_path = match c.pattern.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => &c.pattern,
    };
    let merge_slashes = !pattern_path.contains("//");
    Ok(Box::new(MatchUrlPattern {
        components,
        merge_slashes,
    }))
}

/// Splits a pattern (and base URL) into component patterns.
fn split(pattern: &str, base: &str) -> Result<Texts, String> {
    let mut t: Texts = Default::default();
    let any = |t: &mut Texts| t.iter_mut().for_each(|c| *c = "*".into());
    any(&mut t);
    let rest = match pattern.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, rest) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
            t[0] = scheme.into();
            if authority.starts_with('[') && !authority.contains(']') {
                return Err(format!("invalid IPv6 hostname in {authority:?}"));
            }
            set_authority(&mut t, authority);
            if rest.is_empty() {
                t[3] = "/".into();
            }
            rest
        }
        None if !base.is_empty() => {
            let (scheme, b) = base
                .split_once("://")
                .ok_or_else(|| format!("base_url {base:?} is not an absolute URL"))?;
            let authority = &b[..b.find(['/', '?', '#']).unwrap_or(b.len())];
            t[0] = escape(scheme);
            set_authority(&mut t, authority);
            t[1] = escape(&t[1]);
            pattern
        }
        None => pattern,
    };
    let (path, hash) = match rest.split_once('#') {
        Some((p, h)) => (p, Some(h)),
        None => (rest, None),
    };
    let (path, search) = split_search(path);
    if !path.is_empty() {
        t[3] = path.into();
    }
    if let Some(s) = search {
        t[4] = s.into();
    }
    if let Some(h) = hash {
        t[5] = h.into();
    }
    Ok(t)
}

/// `host[:port]` of an absolute pattern; an absent port is the default.
fn set_authority(t: &mut Texts, authority: &str) {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let after_v6 = host_port.rfind(']').map_or(0, |i| i + 1);
    match host_port[after_v6..].rfind(':') {
        Some(i) => {
            t[1] = host_port[..after_v6 + i].into();
            t[2] = host_port[after_v6 + i + 1..].into();
        }
        None => {
            t[1] = host_port.into();
            t[2] = String::new();
        }
    }
}

/// Splits off the search at a `?` that is not a group modifier.
fn split_search(path: &str) -> (&str, Option<&str>) {
    let b = path.as_bytes();
    let mut depth = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'?' if depth == 0 => {
                let prev = if i > 0 { b[i - 1] } else { b'/' };
                let modifies = matches!(prev, b')' | b'*' | b'}')
                    || (prev.is_ascii_alphanumeric() || prev == b'_') && after_name(b, i);
                if !modifies {
                    return (&path[..i], Some(&path[i + 1..]));
                }
            }
            _ => {}
        }
    }
    (path, None)
}

/// Whether the word ending just before `i` is a `:name` group.
fn after_name(b: &[u8], i: usize) -> bool {
    let mut j = i;
    while j > 0 && (b[j - 1].is_ascii_alphanumeric() || b[j - 1] == b'_') {
        j -= 1;
    }
    j > 0 && b[j - 1] == b':'
}

/// Escapes pattern syntax in text taken from a base URL.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '+' | '*' | '?' | ':' | '{' | '}' | '(' | ')' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl MatchUrlPattern {
    /// The request URL's components, in [`NAMES`] order.
    fn input<'c>(&self, cx: &'c Cx<'_>, path: &'c str) -> [&'c str; 6] {
        let scheme = cx.conn.scheme();
        let (host, port) = split_host(cx.hostport());
        let default = if scheme == "https" { "443" } else { "80" };
        let port = if port == default { "" } else { port };
        [scheme, host, port, path, cx.query(), ""]
    }
}

impl Matcher for MatchUrlPattern {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        let path = go_escape_path(&clean_path(cx.path(), self.merge_slashes));
        let input = self.input(cx, &path);
        let mut groups = Vec::new();
        for (name, c) in &self.components {
            let i = NAMES.iter().position(|n| n == name).unwrap_or(0);
            let value = if *name == "hostname" {
                input[i].to_ascii_lowercase()
            } else {
                input[i].to_string()
            };
            let Some(caps) = c.re.captures(&value) else {
                return Ok(false);
            };
            for (g, group) in c.names.iter().zip(caps.iter().skip(1)) {
                let v = group.map_or("", |m| m.as_str()).to_string();
                groups.push((format!("http.url_pattern.{name}.{g}").into_boxed_str(), v));
            }
        }
        cx.repl_vars.extend(groups);
        Ok(true)
    }
}

#[cfg(test)]
#[path = "url_pattern_tests.rs"]
mod tests;
