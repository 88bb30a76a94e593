//! URI building for `rewrite`: path escaping, setting the request URI, and
//! query operations.

use crate::error::{Error, HttpError};
use crate::http::replacer::{form_decode, Template};
use crate::http::Cx;
use crate::util::goregex;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use regex::Regex;
use serde::Deserialize;

/// Characters escaped in a path (Go's `EscapedPath` set, roughly).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

const QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'=')
    .add(b'<')
    .add(b'>');

/// Escapes a decoded path for a URI.
pub fn encode_path(p: &str) -> String {
    utf8_percent_encode(p, PATH).to_string()
}

/// Sets the request URI from `raw` (`path?query`), keeping the authority.
pub fn set(cx: &mut Cx<'_>, raw: &str) -> Result<(), HttpError> {
    let mut parts = cx.parts.uri.clone().into_parts();
    parts.path_and_query = Some(
        raw.parse()
            .map_err(|e| HttpError::internal(format!("rewritten URI {raw:?}: {e}")))?,
    );
    let uri = http::Uri::from_parts(parts).map_err(|e| HttpError::internal(e.to_string()))?;
    cx.set_uri(uri);
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyVal {
    #[serde(default)]
    key: String,
    #[serde(default)]
    val: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceConfig {
    #[serde(default)]
    key: String,
    #[serde(default)]
    search: String,
    #[serde(default)]
    search_regexp: String,
    #[serde(default)]
    replace: String,
}

/// `rewrite.query`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    #[serde(default)]
    rename: Vec<KeyVal>,
    #[serde(default)]
    set: Vec<KeyVal>,
    #[serde(default)]
    add: Vec<KeyVal>,
    #[serde(default)]
    replace: Vec<ReplaceConfig>,
    #[serde(default)]
    delete: Vec<String>,
}

/// Provisioned query operations, applied as Caddy orders them:
/// rename, set, add, replace, delete.
pub struct QueryOps {
    rename: Vec<(String, String)>,
    set: Vec<(Template, Template)>,
    add: Vec<(Template, Template)>,
    replace: Vec<(String, Option<Regex>, String, String)>,
    delete: Vec<Template>,
}

impl QueryOps {
    pub fn provision(c: &QueryConfig, path: &str) -> Result<Self, Error> {
        let kv = |v: &[KeyVal]| {
            v.iter()
                .map(|kv| (Template::parse(&kv.key), Template::parse(&kv.val)))
                .collect()
        };
        let mut replace = Vec::new();
        for (i, r) in c.replace.iter().enumerate() {
            let re = if r.search_regexp.is_empty() {
                None
            } else {
                Some(
                    goregex::compile(&r.search_regexp)
                        .map_err(|e| Error::config(format!("{path}.replace[{i}]"), e))?,
                )
            };
            replace.push((r.key.clone(), re, r.search.clone(), r.replace.clone()));
        }
        Ok(QueryOps {
            rename: c
                .rename
                .iter()
                .map(|kv| (kv.key.clone(), kv.val.clone()))
                .collect(),
            set: kv(&c.set),
            add: kv(&c.add),
            replace,
            delete: c.delete.iter().map(|d| Template::parse(d)).collect(),
        })
    }

    /// Applies the operations to `query`, returning the new query string.
    pub fn apply(&self, cx: &Cx<'_>, query: &str) -> String {
        let mut pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (form_decode(k).into_owned(), form_decode(v).into_owned())
            })
            .collect();
        for (from, to) in &self.rename {
            pairs
                .iter_mut()
                .filter(|(k, _)| k == from)
                .for_each(|(k, _)| *k = to.clone());
        }
        for (k, v) in &self.set {
            let (k, v) = (k.render(cx).into_owned(), v.render(cx).into_owned());
            pairs.retain(|(pk, _)| *pk != k);
            pairs.push((k, v));
        }
        for (k, v) in &self.add {
            pairs.push((k.render(cx).into_owned(), v.render(cx).into_owned()));
        }
        for (key, re, search, rep) in &self.replace {
            for (k, v) in pairs.iter_mut().filter(|(k, _)| key == "*" || k == key) {
                let _ = k;
                *v = match re {
                    Some(re) => re.replace_all(v, rep.as_str()).into_owned(),
                    None => v.replace(search.as_str(), rep),
                };
            }
        }
        for d in &self.delete {
            let d = d.render(cx);
            pairs.retain(|(k, _)| *k != d);
        }
        pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, QUERY),
                    utf8_percent_encode(v, QUERY)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}
