//! Regular-expression matchers: `path_regexp` (on the cleaned, decoded
//! path) and `header_regexp` (on any value of a header field), and what
//! they share: captures become placeholders, `{http.regexp.NAME.N}` and
//! `{http.regexp.N}` by index, `.GROUP` by group name. Go's RE2 syntax and
//! Rust's `regex` crate agree on what both accept.

use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{Cx, Matcher};
use crate::registry::Provision;
use crate::util::clean_path;
use crate::util::goregex;
use http::header::HeaderName;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    name: String,
    /// Missing is the empty pattern, which matches everything (Caddy's
    /// zero value).
    #[serde(default)]
    pattern: String,
}

/// A compiled pattern with the name its captures are published under.
pub struct MatchRegexp {
    name: String,
    re: Regex,
}

impl MatchRegexp {
    fn provision(v: &Value, p: &Provision<'_>, path: &str) -> Result<Self, Error> {
        let c: Config = p.decode(v, path)?;
        Self::new(c.name, &c.pattern, &format!("{path}.pattern"))
    }

    /// Compiles `pattern`; `path` names errors.
    pub fn new(name: String, pattern: &str, path: &str) -> Result<Self, Error> {
        let re = goregex::compile(pattern).map_err(|e| Error::config(path, e))?;
        Ok(MatchRegexp { name, re })
    }

    /// Matches `input`, recording the captures in `cx`.
    pub fn matches(&self, input: &str, cx: &mut Cx<'_>) -> bool {
        let Some(caps) = self.re.captures(input) else {
            return false;
        };
        for (i, m) in caps.iter().enumerate() {
            let v = m.map_or("", |m| m.as_str()).to_string();
            if !self.name.is_empty() {
                cx.set_capture(format!("{}.{i}", self.name), v.clone());
            }
            cx.set_capture(i.to_string(), v);
        }
        for (i, group) in self.re.capture_names().enumerate() {
            let Some(group) = group else { continue };
            let v = caps.get(i).map_or("", |m| m.as_str()).to_string();
            if !self.name.is_empty() {
                cx.set_capture(format!("{}.{group}", self.name), v.clone());
            }
            cx.set_capture(group.to_string(), v);
        }
        true
    }
}

struct MatchPathRe(MatchRegexp);

pub fn new_path(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    Ok(Box::new(MatchPathRe(MatchRegexp::provision(v, p, path)?)))
}

impl Matcher for MatchPathRe {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        let cleaned = clean_path(cx.path(), true);
        Ok(self.0.matches(&cleaned, cx))
    }
}

struct MatchHeaderRe(Vec<(HeaderName, MatchRegexp)>);

pub fn new_header(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let m: BTreeMap<String, Value> = p.decode(v, path)?;
    let mut out = Vec::new();
    for (field, cfg) in &m {
        let fpath = format!("{path}.{field}");
        let name =
            HeaderName::from_bytes(field.as_bytes()).map_err(|e| Error::config(&fpath, e))?;
        out.push((name, MatchRegexp::provision(cfg, p, &fpath)?));
    }
    Ok(Box::new(MatchHeaderRe(out)))
}

impl Matcher for MatchHeaderRe {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        for (name, re) in &self.0 {
            let values: Vec<String> = if name == http::header::HOST {
                vec![cx.hostport().to_string()]
            } else {
                cx.parts
                    .headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect()
            };
            if !values.iter().any(|v| re.matches(v, cx)) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A key of `vars`/`vars_regexp`: a placeholder (`{...}`) or a var name.
pub enum VarKey {
    Placeholder(Template),
    Name(String),
}

impl VarKey {
    /// Parses a key as Caddy reads it.
    pub fn parse(key: &str) -> Self {
        if key.starts_with('{') && key.ends_with('}') && key.matches('{').count() == 1 {
            VarKey::Placeholder(Template::parse(key))
        } else {
            VarKey::Name(key.to_string())
        }
    }

    /// The current value ("" when unset).
    pub fn value(&self, cx: &Cx<'_>) -> String {
        match self {
            VarKey::Placeholder(t) => t.render(cx).into_owned(),
            VarKey::Name(n) => cx.var(n).unwrap_or("").to_string(),
        }
    }
}

struct MatchVarsRe(Vec<(VarKey, MatchRegexp)>);

pub fn new_vars(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let m: BTreeMap<String, Value> = p.decode(v, path)?;
    let mut out = Vec::new();
    for (key, cfg) in &m {
        out.push((
            VarKey::parse(key),
            MatchRegexp::provision(cfg, p, &format!("{path}.{key}"))?,
        ));
    }
    Ok(Box::new(MatchVarsRe(out)))
}

impl Matcher for MatchVarsRe {
    /// Any key whose value matches its pattern (Caddy's OR semantics).
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        for (key, re) in &self.0 {
            let v = key.value(cx);
            if re.matches(&v, cx) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
