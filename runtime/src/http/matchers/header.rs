//! `http.matchers.header`: request header fields against values. Also the
//! criteria shared with the `headers` handler's `require`.
//!
//! Per field (all must match): a `null` list means the field must be
//! absent; an empty list that it is present; otherwise one of its values
//! must equal one of the given values, where `*` matches anything and a
//! leading or trailing `*` gives a suffix, prefix or substring match. The
//! field `Host` is the request's host. Values may hold placeholders.

use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{Cx, Matcher};
use crate::registry::Provision;
use http::header::{HeaderMap, HeaderName};
use serde_json::Value;
use std::collections::BTreeMap;

/// Header fields and the values they may have.
pub struct HeaderCriteria(Vec<(HeaderName, Option<Vec<Template>>)>);

impl HeaderCriteria {
    /// Builds criteria from the JSON map (invalid field names never match).
    pub fn new(m: &BTreeMap<String, Option<Vec<String>>>) -> Self {
        HeaderCriteria(
            m.iter()
                .filter_map(|(k, v)| {
                    let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
                    let vals = v
                        .as_ref()
                        .map(|vs| vs.iter().map(|s| Template::parse(s)).collect());
                    Some((name, vals))
                })
                .collect(),
        )
    }

    /// Whether `headers` meet every criterion; `host` stands in for the
    /// `Host` field when non-empty.
    pub fn matches(&self, cx: &Cx<'_>, headers: &HeaderMap, host: &str) -> bool {
        self.0.iter().all(|(name, allowed)| {
            let host_field = name == http::header::HOST && !host.is_empty();
            let present = host_field || headers.contains_key(name);
            match allowed {
                None => !present,
                Some(a) if a.is_empty() => present,
                Some(a) => {
                    let mut actual: Box<dyn Iterator<Item = &str>> = if host_field {
                        Box::new(std::iter::once(host))
                    } else {
                        Box::new(headers.get_all(name).iter().filter_map(|v| v.to_str().ok()))
                    };
                    actual.any(|v| a.iter().any(|t| value_matches(&t.render(cx), v)))
                }
            }
        })
    }
}

/// One value against one pattern (`*`, `*x`, `x*`, `*x*` or exact).
pub fn value_matches(pat: &str, v: &str) -> bool {
    if pat == "*" {
        return true;
    }
    match (pat.strip_prefix('*'), pat.strip_suffix('*')) {
        (Some(_), Some(_)) if pat.len() >= 2 => v.contains(&pat[1..pat.len() - 1]),
        (Some(suffix), _) => v.ends_with(suffix),
        (_, Some(prefix)) => v.starts_with(prefix),
        _ => v == pat,
    }
}

struct MatchHeader(HeaderCriteria);

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let m: BTreeMap<String, Option<Vec<String>>> = p.decode(v, path)?;
    for k in m.keys() {
        HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| Error::config(format!("{path}.{k}"), e))?;
    }
    Ok(Box::new(MatchHeader(HeaderCriteria::new(&m))))
}

impl Matcher for MatchHeader {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        Ok(self.0.matches(cx, &cx.parts.headers, cx.hostport()))
    }
}
