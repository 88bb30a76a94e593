//! Header operations (`add`, `set`, `delete`, `replace`) as Caddy applies
//! them, shared by the `headers` handler and, later, `reverse_proxy`.
//!
//! Order: a `delete` of `*` clears first, then add, set, the other deletes
//! (`*` prefix/suffix/substring patterns, case-insensitive), then replace
//! (substring or regexp, `$1` expansions), per field or for every field.

use crate::error::Error;
use crate::http::replacer::Template;
use crate::http::Cx;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The JSON shape of header operations.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderOpsConfig {
    #[serde(default)]
    pub add: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub set: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub delete: Vec<String>,
    #[serde(default)]
    pub replace: BTreeMap<String, Vec<ReplacementConfig>>,
}

/// One `replace` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplacementConfig {
    #[serde(default)]
    pub search: String,
    pub search_regexp: Option<String>,
    #[serde(default)]
    pub replace: String,
}

struct Replacement {
    search: Template,
    regexp: Option<Regex>,
    replace: Template,
}

/// Provisioned header operations.
#[derive(Default)]
pub struct HeaderOps {
    add: Vec<(Template, Vec<Template>)>,
    set: Vec<(Template, Vec<Template>)>,
    delete: Vec<Template>,
    clear_all: bool,
    replace: Vec<(Template, Vec<Replacement>)>,
}

impl HeaderOps {
    /// Provisions `c`, compiling regexps; `path` names errors.
    pub fn provision(c: &HeaderOpsConfig, path: &str) -> Result<Self, Error> {
        let pairs = |m: &BTreeMap<String, Vec<String>>| {
            m.iter()
                .map(|(k, vs)| {
                    (
                        Template::parse(k),
                        vs.iter().map(|v| Template::parse(v)).collect(),
                    )
                })
                .collect()
        };
        let mut replace = Vec::new();
        for (field, reps) in &c.replace {
            let mut out = Vec::new();
            for (i, r) in reps.iter().enumerate() {
                let regexp = match &r.search_regexp {
                    Some(re) if !re.is_empty() => Some(Regex::new(re).map_err(|e| {
                        Error::config(format!("{path}.replace.{field}[{i}].search_regexp"), e)
                    })?),
                    _ => None,
                };
                out.push(Replacement {
                    search: Template::parse(&r.search),
                    regexp,
                    replace: Template::parse(&r.replace),
                });
            }
            replace.push((Template::parse(field), out));
        }
        Ok(HeaderOps {
            add: pairs(&c.add),
            set: pairs(&c.set),
            clear_all: c.delete.iter().any(|d| d == "*"),
            delete: c
                .delete
                .iter()
                .filter(|d| *d != "*")
                .map(|d| Template::parse(d))
                .collect(),
            replace,
        })
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty()
            && self.set.is_empty()
            && self.delete.is_empty()
            && !self.clear_all
            && self.replace.is_empty()
    }

    /// Applies the operations to `h`, with placeholders from `cx`.
    pub fn apply(&self, cx: &Cx<'_>, h: &mut HeaderMap) {
        if self.clear_all {
            h.clear();
        }
        for (name, vals) in &self.add {
            let Some(name) = header_name(&name.render_known(cx)) else {
                continue;
            };
            for v in vals {
                if let Ok(v) = HeaderValue::from_str(&v.render_known(cx)) {
                    h.append(name.clone(), v);
                }
            }
        }
        for (name, vals) in &self.set {
            let Some(name) = header_name(&name.render_known(cx)) else {
                continue;
            };
            let joined: Vec<String> = vals
                .iter()
                .map(|v| v.render_known(cx).into_owned())
                .collect();
            if let Ok(v) = HeaderValue::from_str(&joined.join(",")) {
                h.insert(name, v);
            }
        }
        for d in &self.delete {
            delete_matching(h, &d.render_known(cx).to_ascii_lowercase());
        }
        for (field, reps) in &self.replace {
            let field = field.render_known(cx);
            for r in reps {
                r.apply(cx, h, &field);
            }
        }
    }
}

impl Replacement {
    fn apply(&self, cx: &Cx<'_>, h: &mut HeaderMap, field: &str) {
        let search = self.search.render_known(cx);
        let replace = self.replace.render_known(cx);
        let names: Vec<HeaderName> = if field == "*" {
            h.keys().cloned().collect()
        } else {
            header_name(field).into_iter().collect()
        };
        for name in names {
            let old: Vec<HeaderValue> = h.get_all(&name).iter().cloned().collect();
            if old.is_empty() {
                continue;
            }
            h.remove(&name);
            for v in old {
                let s = String::from_utf8_lossy(v.as_bytes());
                let new = match &self.regexp {
                    Some(re) => re.replace_all(&s, replace.as_ref()).into_owned(),
                    None => s.replace(search.as_ref(), &replace),
                };
                if let Ok(v) = HeaderValue::from_str(&new) {
                    h.append(name.clone(), v);
                }
            }
        }
    }
}

fn header_name(s: &str) -> Option<HeaderName> {
    HeaderName::from_bytes(s.as_bytes()).ok()
}

/// Deletes fields named `pat` (lowercase; `*` at either end is a wildcard).
fn delete_matching(h: &mut HeaderMap, pat: &str) {
    let (pre, suf) = (pat.starts_with('*'), pat.ends_with('*') && pat.len() > 1);
    if !pre && !suf {
        if let Some(n) = header_name(pat) {
            h.remove(n);
        }
        return;
    }
    let core = pat.trim_start_matches('*').trim_end_matches('*');
    let doomed: Vec<HeaderName> = h
        .keys()
        .filter(|k| {
            let k = k.as_str();
            match (pre, suf) {
                (true, true) => k.contains(core),
                (true, false) => k.ends_with(core),
                _ => k.starts_with(core),
            }
        })
        .cloned()
        .collect();
    for k in doomed {
        h.remove(k);
    }
}
