//! `http.handlers.rewrite`: changes the request's method and URI
//! internally (no redirect). Caddyfile: `rewrite`, `uri`, `handle_path`.
//!
//! - `method`: a new method;
//! - `uri`: a new `path?query` with placeholders; a part left out is kept
//!   (`?a=b` changes only the query, `/x` only the path); see `build.rs`;
//! - `strip_path_prefix`/`strip_path_suffix`: case-insensitive, on the
//!   escaped path (an escape in the prefix must be in the path too);
//! - `uri_substring`: `find`→`replace` in the escaped path and the query
//!   (`limit` 0: all);
//! - `path_regexp`: regexp `find`→`replace` (`$1`) on the escaped path;
//! - `query`: `rename`, `set`, `add`, `replace`, `delete` operations,
//!   re-encoded sorted as Go's `url.Values.Encode`.
//!
//! Each step works on the URI as Go's `url.URL` holds it (`gourl.rs`), so
//! the request's escapes (`%2F`, `%3F`) survive where Caddy keeps them.

mod build;
mod gourl;
pub(crate) mod uri;

use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use crate::util::{clean_path, goregex};
use gourl::GoUrl;
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

/// `find`→`replace` of `uri_substring`; `merge` cleans the path merging
/// doubled slashes (the text to find has none).
struct Substr {
    find: Template,
    replace: Template,
    limit: usize,
    merge: bool,
}

struct Rewrite {
    method: Option<Template>,
    uri: Option<build::UriTemplate>,
    strip_prefix: Option<Template>,
    strip_suffix: Option<Template>,
    substrings: Vec<Substr>,
    regexps: Vec<(Regex, Template)>,
    query: Option<QueryOps>,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let mut regexps = Vec::new();
    for (i, r) in c.path_regexp.iter().enumerate() {
        let re = goregex::compile(&r.find)
            .map_err(|e| Error::config(format!("{path}.path_regexp[{i}].find"), e))?;
        regexps.push((re, Template::parse(&r.replace)));
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
            .map(build::UriTemplate::parse),
        strip_prefix: c
            .strip_path_prefix
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(Template::parse),
        strip_suffix: c
            .strip_path_suffix
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(Template::parse),
        substrings: c
            .uri_substring
            .iter()
            .filter(|s| !s.find.is_empty())
            .map(|s| Substr {
                find: Template::parse(&s.find),
                replace: Template::parse(&s.replace),
                limit: s.limit,
                merge: !s.find.contains("//"),
            })
            .collect(),
        regexps,
        query,
    }))
}

impl Rewrite {
    fn changes_uri(&self) -> bool {
        self.uri.is_some()
            || self.strip_prefix.is_some()
            || self.strip_suffix.is_some()
            || !self.substrings.is_empty()
            || !self.regexps.is_empty()
            || self.query.is_some()
    }

    fn rewrite(&self, cx: &mut Cx<'_>) -> Result<(), HttpError> {
        if let Some(m) = &self.method {
            let m = m.render(cx).to_ascii_uppercase();
            cx.parts.method = http::Method::from_bytes(m.as_bytes())
                .map_err(|_| HttpError::internal(format!("invalid method {m:?}")))?;
        }
        if !self.changes_uri() {
            // A method alone: the URI stays as the client sent it.
            return Ok(());
        }
        let mut url = GoUrl::from_request(cx.parts.uri.path(), cx.query());
        if let Some(t) = &self.uri {
            t.apply(cx, &mut url);
        }
        if let Some(t) = &self.strip_prefix {
            let mut prefix = t.render(cx).into_owned();
            if !prefix.starts_with('/') {
                prefix.insert(0, '/');
            }
            let merge = !prefix.contains("//");
            url.change_path(|e| build::trim_path_prefix(&clean_path(e, merge), &prefix));
        }
        if let Some(t) = &self.strip_suffix {
            let suffix: String = t.render(cx).chars().rev().collect();
            let merge = !suffix.contains("//");
            url.change_path(|e| {
                let rev: String = clean_path(e, merge).chars().rev().collect();
                build::trim_path_prefix(&rev, &suffix)
                    .chars()
                    .rev()
                    .collect()
            });
        }
        for s in &self.substrings {
            let (find, rep) = (s.find.render(cx), s.replace.render(cx));
            let limit = if s.limit == 0 { usize::MAX } else { s.limit };
            url.change_path(|e| clean_path(e, s.merge).replacen(&*find, &rep, limit));
            url.raw_query = url.raw_query.replacen(&*find, &rep, limit);
        }
        for (re, rep) in &self.regexps {
            let rep = rep.render(cx);
            url.change_path(|e| re.replace_all(e, &*rep).into_owned());
        }
        if let Some(q) = &self.query {
            url.raw_query = q.apply(cx, &url.raw_query);
        }
        uri::set(cx, &url.request_uri())
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
