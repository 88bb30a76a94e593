//! `caddy.logging.encoders.filter`: field filters applied to an entry's
//! fields before the wrapped encoder writes them, as Caddy's
//! `FilterEncoder` and `filters.go` do.
//!
//! A filter is keyed by the field's path, a `>` per level of nesting
//! (`request>headers>Authorization`, `request>remote_ip`). Filters:
//! `delete`, `replace` (the value becomes a string), `hash` (the first 4
//! bytes of SHA-256, in hex), `ip_mask` (`ipv4_cidr`, `ipv6_cidr`; an
//! address of a family without a mask logs as `<nil>`, as Go's
//! `IP.Mask(nil)`), `query` and `cookie`/`set_cookie` (actions `replace`,
//! `hash`, `delete` on one parameter or cookie), `regexp`,
//! `multi_regexp` (at most 50 operations of at most 1,000 characters)
//! and `rename`. String filters apply to a string and to each string of
//! an array (headers are arrays); other values pass unchanged, except
//! for `delete`, `replace` and `rename`, which apply to any value.
//!
//! Filtering costs a parse of the fields, paid only by loggers that
//! configure it.

use crate::error::Error;
use crate::util::goregex;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::net::IpAddr;

#[path = "filter_values.rs"]
mod values;

/// The filters of one filter encoder, by field path.
#[derive(Debug, Clone)]
pub struct Filters {
    fields: Vec<(String, Filter)>,
}

#[derive(Debug, Clone)]
enum Filter {
    Delete,
    Replace(String),
    Hash,
    IpMask { v4: Option<u8>, v6: Option<u8> },
    Query(Vec<Action>),
    Cookie(Vec<Action>),
    SetCookie(Vec<Action>),
    Regexp(Vec<(Regex, String)>),
    Rename(String),
}

/// A `query`, `cookie` or `set_cookie` action on the parameter or cookie
/// `name`.
#[derive(Debug, Clone)]
struct Action {
    kind: ActionKind,
    name: String,
    value: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ActionKind {
    Replace,
    Hash,
    Delete,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, alias = "name")]
    parameter: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    filter: String,
    value: Option<String>,
    ipv4_cidr: Option<i64>,
    ipv6_cidr: Option<i64>,
    actions: Option<Vec<Value>>,
    regexp: Option<String>,
    operations: Option<Vec<RawOperation>>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperation {
    #[serde(default)]
    regexp: String,
    #[serde(default)]
    value: String,
}

const MAX_OPERATIONS: usize = 50;
const MAX_PATTERN: usize = 1000;

impl Filters {
    /// Provisions the `fields` map of a filter encoder at `path`.
    pub fn provision(fields: &Map<String, Value>, path: &str) -> Result<Self, Error> {
        let mut out = Vec::new();
        for (key, v) in fields {
            let fp = format!("{path}.fields.{key}");
            out.push((key.clone(), Filter::provision(v, &fp)?));
        }
        Ok(Filters { fields: out })
    }

    /// The inside of a JSON object (`"a":1,"b":{…}`) with the filters
    /// applied; unchanged when it does not parse.
    pub fn apply(&self, fields: &str) -> String {
        if fields.is_empty() {
            return String::new();
        }
        let Ok(map) = serde_json::from_str::<Map<String, Value>>(&format!("{{{fields}}}")) else {
            return fields.to_string();
        };
        let filtered = Value::Object(self.walk(map, ""));
        let text = filtered.to_string();
        text[1..text.len() - 1].to_string()
    }

    fn walk(&self, map: Map<String, Value>, prefix: &str) -> Map<String, Value> {
        let mut out = Map::with_capacity(map.len());
        for (k, v) in map {
            let full = format!("{prefix}{k}");
            match self.fields.iter().find(|(p, _)| *p == full) {
                Some((_, f)) => {
                    if let Some((k, v)) = f.apply(k, v) {
                        out.insert(k, v);
                    }
                }
                None => {
                    let v = match v {
                        Value::Object(inner) => {
                            Value::Object(self.walk(inner, &format!("{full}>")))
                        }
                        other => other,
                    };
                    out.insert(k, v);
                }
            }
        }
        out
    }
}

impl Filter {
    fn provision(v: &Value, path: &str) -> Result<Self, Error> {
        let raw: RawFilter = crate::config::decode(v, path)?;
        let bad = |field: &str, why: String| Error::config(format!("{path}.{field}"), why);
        Ok(match raw.filter.as_str() {
            "delete" => Filter::Delete,
            "replace" => Filter::Replace(raw.value.unwrap_or_default()),
            "hash" => Filter::Hash,
            "rename" => Filter::Rename(raw.name.unwrap_or_default()),
            "ip_mask" => {
                let bits = |n: Option<i64>, max: i64, field: &str| match n.unwrap_or(0) {
                    0 => Ok(None),
                    n if (1..=max).contains(&n) => Ok(Some(n as u8)),
                    n => Err(bad(
                        field,
                        format!("{n} is not a prefix length of 0 to {max}"),
                    )),
                };
                Filter::IpMask {
                    v4: bits(raw.ipv4_cidr, 32, "ipv4_cidr")?,
                    v6: bits(raw.ipv6_cidr, 128, "ipv6_cidr")?,
                }
            }
            "query" | "cookie" | "set_cookie" => {
                let actions = actions(raw.actions.unwrap_or_default(), path)?;
                match raw.filter.as_str() {
                    "query" => Filter::Query(actions),
                    "cookie" => Filter::Cookie(actions),
                    _ => Filter::SetCookie(actions),
                }
            }
            "regexp" => {
                let re = raw.regexp.unwrap_or_default();
                let compiled = goregex::compile(&re).map_err(|e| bad("regexp", e))?;
                Filter::Regexp(vec![(compiled, raw.value.unwrap_or_default())])
            }
            "multi_regexp" => Filter::Regexp(operations(raw.operations.unwrap_or_default(), path)?),
            other => {
                return Err(bad(
                    "filter",
                    format!("unknown module: caddy.logging.encoders.filter.{other}"),
                ))
            }
        })
    }

    /// The field after the filter, or `None` when it is deleted.
    fn apply(&self, key: String, v: Value) -> Option<(String, Value)> {
        let strings = |f: &dyn Fn(&str) -> String, v: Value| match v {
            Value::String(s) => Value::String(f(&s)),
            Value::Array(a) if a.iter().all(Value::is_string) => Value::Array(
                a.into_iter()
                    .map(|s| Value::String(f(s.as_str().unwrap_or_default())))
                    .collect(),
            ),
            other => other,
        };
        let v = match self {
            Filter::Delete => return None,
            Filter::Rename(name) => return Some((name.clone(), v)),
            Filter::Replace(with) => Value::String(with.clone()),
            Filter::Hash => strings(&hash, v),
            Filter::IpMask { v4, v6 } => strings(&|s| values::mask_ips(s, *v4, *v6), v),
            Filter::Query(actions) => strings(&|s| values::filter_query(s, actions), v),
            Filter::Regexp(ops) => strings(&|s| replace_all(ops, s), v),
            Filter::Cookie(actions) => match v {
                Value::Array(a) if a.iter().all(Value::is_string) => {
                    values::filter_cookies(&a, actions)
                }
                other => other,
            },
            Filter::SetCookie(actions) => match v {
                Value::Array(a) if a.iter().all(Value::is_string) => Value::Array(
                    a.iter()
                        .filter_map(|l| values::filter_set_cookie(l.as_str()?, actions))
                        .map(Value::String)
                        .collect(),
                ),
                other => other,
            },
        };
        Some((key, v))
    }
}

fn actions(raw: Vec<Value>, path: &str) -> Result<Vec<Action>, Error> {
    raw.iter()
        .enumerate()
        .map(|(i, a)| {
            let ap = format!("{path}.actions[{i}]");
            let a: RawAction = crate::config::decode(a, &ap)?;
            let kind = match a.kind.as_str() {
                "replace" => ActionKind::Replace,
                "hash" => ActionKind::Hash,
                "delete" => ActionKind::Delete,
                _ => return Err(Error::config(format!("{ap}.type"), "invalid action type")),
            };
            Ok(Action {
                kind,
                name: a.parameter,
                value: a.value,
            })
        })
        .collect()
}

fn operations(raw: Vec<RawOperation>, path: &str) -> Result<Vec<(Regex, String)>, Error> {
    let at = |i: usize| format!("{path}.operations[{i}]");
    if raw.is_empty() {
        return Err(Error::config(
            path,
            "multi_regexp filter requires at least one operation",
        ));
    }
    if raw.len() > MAX_OPERATIONS {
        return Err(Error::config(
            path,
            format!(
                "too many regexp operations: {} (maximum {MAX_OPERATIONS} allowed)",
                raw.len()
            ),
        ));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, op)| {
            if op.regexp.is_empty() {
                return Err(Error::config(
                    at(i),
                    format!("regexp pattern {i} cannot be empty"),
                ));
            }
            if op.regexp.len() > MAX_PATTERN {
                return Err(Error::config(
                    at(i),
                    format!(
                        "regexp pattern {i} too long: {} characters (maximum {MAX_PATTERN})",
                        op.regexp.len()
                    ),
                ));
            }
            let re = goregex::compile(&op.regexp).map_err(|e| Error::config(at(i), e))?;
            Ok((re, op.value))
        })
        .collect()
}

/// Each operation in turn over the whole string (`multi_regexp` caps input
/// and output at 1 MB).
fn replace_all(ops: &[(Regex, String)], s: &str) -> String {
    const MAX: usize = 1_000_000;
    let mut out = truncate(s, MAX).to_string();
    for (re, with) in ops {
        out = re.replace_all(&out, with.as_str()).into_owned();
        if out.len() > MAX {
            out = truncate(&out, MAX).to_string();
        }
    }
    out
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Caddy's `hash`: the first 4 bytes of SHA-256, hex.
fn hash(s: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    d.as_ref()[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// An address masked to `bits`, or Go's `<nil>` without a mask.
fn masked(ip: IpAddr, v4: Option<u8>, v6: Option<u8>) -> String {
    match crate::http::conn::canonical_ip(ip) {
        IpAddr::V4(a) => match v4 {
            Some(b) => std::net::Ipv4Addr::from(u32::from(a) & (u32::MAX << (32 - u32::from(b))))
                .to_string(),
            None => "<nil>".into(),
        },
        IpAddr::V6(a) => match v6 {
            Some(b) => {
                std::net::Ipv6Addr::from(u128::from(a) & (u128::MAX << (128 - u32::from(b))))
                    .to_string()
            }
            None => "<nil>".into(),
        },
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
