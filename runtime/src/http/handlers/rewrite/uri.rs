//! Setting the request URI for `rewrite`, and its query operations.

use super::gourl::query_unescape;
use crate::error::{Error, HttpError};
use crate::http::replacer::{query_escape, Template};
use crate::http::Cx;
use crate::util::goregex;
use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;

/// Sets the request URI from `raw` (`path?query`), keeping the authority.
/// A path without a leading `/` (`rewrite foo`, which Go's URL holds as
/// it is) is kept with one and marked (see `Cx::set_slashless_uri`).
pub fn set(cx: &mut Cx<'_>, raw: &str) -> Result<(), HttpError> {
    let slashless = !raw.is_empty() && !raw.starts_with(['/', '?']);
    let parse = |s: &str| {
        s.parse()
            .map_err(|e| HttpError::internal(format!("rewritten URI {raw:?}: {e}")))
    };
    let mut parts = cx.parts.uri.clone().into_parts();
    parts.path_and_query = Some(match slashless {
        true => parse(&format!("/{raw}"))?,
        false => parse(raw)?,
    });
    let uri = http::Uri::from_parts(parts).map_err(|e| HttpError::internal(e.to_string()))?;
    match slashless {
        true => cx.set_slashless_uri(uri),
        false => cx.set_uri(uri),
    }
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
    rename: Vec<(Template, Template)>,
    set: Vec<(Template, Template)>,
    add: Vec<(Template, Template)>,
    /// (key, regexp, search, replace): the key expanded as `ReplaceAll`,
    /// search and replace as `ReplaceKnown`, as Caddy's.
    replace: Vec<(Template, Option<Regex>, Template, Template)>,
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
            replace.push((
                Template::parse(&r.key),
                re,
                Template::parse(&r.search),
                Template::parse(&r.replace),
            ));
        }
        Ok(QueryOps {
            rename: kv(&c.rename),
            set: kv(&c.set),
            add: kv(&c.add),
            replace,
            delete: c.delete.iter().map(|d| Template::parse(d)).collect(),
        })
    }

    /// Applies the operations to `query` as Caddy's `queryOps.do`: on
    /// Go's `url.Values` (a pair that does not parse is dropped), encoded
    /// again sorted by key.
    pub fn apply(&self, cx: &Cx<'_>, query: &str) -> String {
        let mut values = parse_query(query);
        for (from, to) in &self.rename {
            let (from, to) = (from.render(cx), to.render(cx));
            if from.is_empty() || to.is_empty() || from == to {
                continue;
            }
            if let Some(v) = values.remove(&*from) {
                values.insert(to.into_owned(), v);
            }
        }
        for (k, v) in &self.set {
            let k = k.render(cx);
            if !k.is_empty() {
                values.insert(k.into_owned(), vec![v.render(cx).into_owned()]);
            }
        }
        for (k, v) in &self.add {
            let k = k.render(cx);
            if !k.is_empty() {
                let v = v.render(cx).into_owned();
                values.entry(k.into_owned()).or_default().push(v);
            }
        }
        for (key, re, search, rep) in &self.replace {
            let key = key.render(cx);
            let (search, rep) = (search.render_known(cx), rep.render_known(cx));
            for (k, vals) in values.iter_mut() {
                if key != "*" && *k != *key {
                    continue;
                }
                for v in vals.iter_mut() {
                    *v = match re {
                        Some(re) => re.replace_all(v, &*rep).into_owned(),
                        None => v.replace(&*search, &rep),
                    };
                }
            }
        }
        for d in &self.delete {
            values.remove(&*d.render(cx));
        }
        encode_query(&values)
    }
}

/// Go's `url.ParseQuery`, keeping what parses.
pub(crate) fn parse_query(query: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(k), Some(v)) = (query_unescape(k), query_unescape(v)) {
            out.entry(k).or_default().push(v);
        }
    }
    out
}

/// Go's `url.Values.Encode`: sorted by key, values in order.
pub(crate) fn encode_query(values: &BTreeMap<String, Vec<String>>) -> String {
    let mut out = String::new();
    for (k, vals) in values {
        for v in vals {
            if !out.is_empty() {
                out.push('&');
            }
            query_escape(k, &mut out);
            out.push('=');
            query_escape(v, &mut out);
        }
    }
    out
}
