//! `http.handlers.rewrite`: changes the request's method and URI
//! internally (no redirect). Caddyfile: `rewrite`, `uri`, `handle_path`.
//!
//! - `method`: a new method;
//! - `uri`: a new `path?query` with placeholders; a part left out is kept
//!   (`?a=b` changes only the query, `/x` only the path);
//! - `strip_path_prefix`/`strip_path_suffix`: case-insensitive, on the
//!   decoded path;
//! - `uri_substring`: `find`→`replace` in the raw URI (`limit` 0: all);
//! - `path_regexp`: regexp `find`→`replace` (`$1`) on the decoded path;
//! - `query`: `rename`, `set`, `add`, `replace`, `delete` operations.

pub(crate) mod uri;

use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use crate::util::goregex;
use regex::Regex;
use serde::Deserialize;
use serde_json::value::RawValue;
use uri::QueryOps;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    method: Option<String>,
    uri: Option<String>,
    strip_path_prefix: Option<String>,
    strip_path_suffix: Option<String>,
    #[serde(default)]
    uri_substring: Vec<Substring>,
    #[serde(default)]
    path_regexp: Vec<Substring>,
    query: Option<uri::QueryConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Substring {
    find: String,
    #[serde(default)]
    replace: String,
    #[serde(default)]
    limit: usize,
}

struct Rewrite {
    method: Option<Template>,
    uri: Option<Template>,
    strip_prefix: Option<String>,
    strip_suffix: Option<String>,
    substrings: Vec<(String, String, usize)>,
    regexps: Vec<(Regex, String)>,
    query: Option<QueryOps>,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let mut regexps = Vec::new();
    for (i, r) in c.path_regexp.iter().enumerate() {
        let re = goregex::compile(&r.find)
            .map_err(|e| Error::config(format!("{path}.path_regexp[{i}].find"), e))?;
        regexps.push((re, r.replace.clone()));
    }
    let query = match &c.query {
        Some(q) => Some(QueryOps::provision(q, &format!("{path}.query"))?),
        None => None,
    };
    Ok(Box::new(Rewrite {
        method: c
            .method
            .as_deref()
            .filter(|m| !m.is_empty())
            .map(Template::parse),
        uri: c
            .uri
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(Template::parse),
        strip_prefix: c.strip_path_prefix.filter(|s| !s.is_empty()),
        strip_suffix: c.strip_path_suffix.filter(|s| !s.is_empty()),
        substrings: c
            .uri_substring
            .into_iter()
            .map(|s| (s.find, s.replace, s.limit))
            .collect(),
        regexps,
        query,
    }))
}

impl Rewrite {
    fn rewrite(&self, cx: &mut Cx<'_>) -> Result<(), HttpError> {
        if let Some(m) = &self.method {
            let m = m.render(cx).to_ascii_uppercase();
            cx.parts.method = http::Method::from_bytes(m.as_bytes())
                .map_err(|_| HttpError::internal(format!("invalid method {m:?}")))?;
        }
        let mut path = cx.path().to_string();
        let mut query = cx.query().to_string();
        if let Some(t) = &self.uri {
            let rendered = t.render(cx);
            let (p, q) = match rendered.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (rendered.as_ref(), None),
            };
            let p = p.split('#').next().unwrap_or("");
            if !p.is_empty() {
                path = if p.starts_with('/') {
                    p.to_string()
                } else {
                    format!("/{p}")
                };
            }
            if let Some(q) = q {
                query = q.split('#').next().unwrap_or("").to_string();
            }
        }
        if let Some(prefix) = &self.strip_prefix {
            let prefix = if prefix.starts_with('/') {
                prefix.clone()
            } else {
                format!("/{prefix}")
            };
            if path.to_lowercase().starts_with(&prefix.to_lowercase()) {
                path = path[prefix.len()..].to_string();
                if !path.starts_with('/') {
                    path.insert(0, '/');
                }
            }
        }
        if let Some(suffix) = &self.strip_suffix {
            if path.to_lowercase().ends_with(&suffix.to_lowercase()) {
                path.truncate(path.len() - suffix.len());
            }
        }
        for (re, rep) in &self.regexps {
            path = re.replace_all(&path, rep.as_str()).into_owned();
        }
        if let Some(q) = &self.query {
            query = q.apply(cx, &query);
        }
        let mut raw = uri::encode_path(&path);
        if !query.is_empty() {
            raw.push('?');
            raw.push_str(&query);
        }
        for (find, rep, limit) in &self.substrings {
            raw = if *limit == 0 {
                raw.replace(find, rep)
            } else {
                raw.replacen(find, rep, *limit)
            };
        }
        uri::set(cx, &raw)
    }
}

impl Handler for Rewrite {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        match self.rewrite(cx) {
            Ok(()) => Step::Next,
            Err(e) => Step::Fail(e),
        }
    }
}
