//! Small matchers: `query`, `protocol`, `tls`, `vars`, `remote_ip`, `client_ip`
//! and `not`.
//!
//! - `query`: every configured key is present with one of its values (`*`:
//!   any); an empty map matches only an empty query; a malformed query
//!   (bad escape, `;`) matches nothing, as in Go.
//! - `protocol`: `http`, `https`, `grpc`, `http/1.0`, `http/1.1`, `http/2`,
//!   `http/3`, or one of those versions with `+` (at least).
//! - `vars`: any key (a var name or a `{placeholder}`) equals any of its
//!   values (Caddy's OR semantics).
//! - `remote_ip`/`client_ip`: the connection's IP, or the client IP behind
//!   trusted proxies, is in one of `ranges`.
//! - `not`: none of the given matcher sets matches.

use super::regexp::VarKey;
use crate::error::{Error, HttpError};
use crate::http::replacer::{form_decode, Template};
use crate::http::routes::MatcherSets;
use crate::http::{Cx, Matcher};
use crate::registry::Provision;
use crate::util::IpNet;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

struct MatchQuery(Vec<(Template, Vec<Template>)>);

pub fn new_query(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let m: BTreeMap<String, Vec<String>> = p.decode(v, path)?;
    Ok(Box::new(MatchQuery(
        m.iter()
            .map(|(k, vs)| {
                (
                    Template::parse(k),
                    vs.iter().map(|v| Template::parse(v)).collect(),
                )
            })
            .collect(),
    )))
}

/// Go's `url.ParseQuery` strictness: `;` and bad escapes are errors.
fn strict_pairs(q: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in q.split('&').filter(|s| !s.is_empty()) {
        if pair.contains(';') || !valid_escapes(pair) {
            return None;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((form_decode(k).into_owned(), form_decode(v).into_owned()));
    }
    Some(out)
}

fn valid_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !b[i + 1].is_ascii_hexdigit() || !b[i + 2].is_ascii_hexdigit() {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

impl Matcher for MatchQuery {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        let Some(pairs) = strict_pairs(cx.query()) else {
            return Ok(false);
        };
        if self.0.is_empty() {
            return Ok(pairs.is_empty());
        }
        Ok(self.0.iter().all(|(k, vals)| {
            let k = k.render(cx);
            let present: Vec<&str> = pairs
                .iter()
                .filter(|(pk, _)| *pk == k)
                .map(|(_, v)| v.as_str())
                .collect();
            !present.is_empty()
                && vals.iter().any(|v| {
                    let v = v.render(cx);
                    v == "*" || present.contains(&v.as_ref())
                })
        }))
    }
}

struct MatchProtocol(String);

pub fn new_protocol(
    v: &Value,
    p: &mut Provision<'_>,
    path: &str,
) -> Result<Box<dyn Matcher>, Error> {
    // Compared as written, as Caddy's: `HTTP` or an unknown name never
    // matches (CEL's protocol() lowercases its argument).
    let s: String = p.decode(v, path)?;
    Ok(Box::new(MatchProtocol(s)))
}

impl Matcher for MatchProtocol {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        use http::Version as V;
        let rank = |v: V| match v {
            V::HTTP_09 => 0,
            V::HTTP_10 => 1,
            V::HTTP_11 => 2,
            V::HTTP_2 => 3,
            _ => 4,
        };
        let have = rank(cx.parts.version);
        let (want, at_least) = match self.0.strip_suffix('+') {
            Some(w) => (w, true),
            None => (self.0.as_str(), false),
        };
        let need = match want {
            "http" => return Ok(!cx.conn.tls),
            "https" => return Ok(cx.conn.tls),
            "grpc" => {
                let ct = cx.parts.headers.get(http::header::CONTENT_TYPE);
                return Ok(ct.is_some_and(|c| c.as_bytes().starts_with(b"application/grpc")));
            }
            "http/1.0" => 1,
            "http/1.1" => 2,
            "http/2" => 3,
            "http/3" => 4,
            _ => return Ok(false),
        };
        Ok(if at_least { have >= need } else { have == need })
    }
}

struct MatchVars(Vec<(VarKey, Vec<Template>)>);

pub fn new_vars(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let m: BTreeMap<String, Vec<String>> = p.decode(v, path)?;
    Ok(Box::new(MatchVars(
        m.iter()
            .map(|(k, vs)| {
                (
                    VarKey::parse(k),
                    vs.iter().map(|v| Template::parse(v)).collect(),
                )
            })
            .collect(),
    )))
}

impl Matcher for MatchVars {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        if self.0.is_empty() {
            return Ok(true);
        }
        Ok(self.0.iter().any(|(k, vals)| {
            let actual = k.value(cx);
            vals.iter().any(|v| v.render(cx) == actual)
        }))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangesConfig {
    #[serde(default)]
    ranges: Vec<String>,
}

struct MatchIp {
    nets: Vec<IpNet>,
    client: bool,
}

fn ranges(v: &Value, p: &Provision<'_>, path: &str) -> Result<Vec<IpNet>, Error> {
    let c: RangesConfig = p.decode(v, path)?;
    c.ranges
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.parse()
                .map_err(|e: String| Error::config(format!("{path}.ranges[{i}]"), e))
        })
        .collect()
}

pub fn new_remote_ip(
    v: &Value,
    p: &mut Provision<'_>,
    path: &str,
) -> Result<Box<dyn Matcher>, Error> {
    Ok(Box::new(MatchIp {
        nets: ranges(v, p, path)?,
        client: false,
    }))
}

pub fn new_client_ip(
    v: &Value,
    p: &mut Provision<'_>,
    path: &str,
) -> Result<Box<dyn Matcher>, Error> {
    Ok(Box::new(MatchIp {
        nets: ranges(v, p, path)?,
        client: true,
    }))
}

impl Matcher for MatchIp {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        let ip = if self.client {
            cx.client_ip()
        } else {
            cx.remote_ip()
        };
        Ok(self.nets.iter().any(|n| n.contains(ip)))
    }
}

struct MatchNot(MatcherSets);

pub fn new_not(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let sets: Vec<Map<String, Value>> = p.decode(v, path)?;
    Ok(Box::new(MatchNot(MatcherSets::provision(&sets, p, path)?)))
}

impl Matcher for MatchNot {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        if self.0.is_empty() {
            return Ok(true);
        }
        Ok(!self.0.matches(cx)?)
    }
}

/// `tls`: the request came over TLS (or QUIC); with `handshake_complete`,
/// only when its handshake is (`false`: only 0-RTT early data, which
/// bellhop never accepts, so it never matches).
struct MatchTls {
    handshake_complete: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsConfig {
    handshake_complete: Option<bool>,
}

pub fn new_tls(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let c: TlsConfig = p.decode(v, path)?;
    Ok(Box::new(MatchTls {
        handshake_complete: c.handshake_complete,
    }))
}

impl Matcher for MatchTls {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        Ok(cx.conn.tls && self.handshake_complete != Some(false))
    }
}
