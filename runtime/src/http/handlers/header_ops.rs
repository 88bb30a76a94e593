//! Header operations (`add`, `set`, `delete`, `replace`) as Caddy applies
//! them, shared by the `headers` handler and, later, `reverse_proxy`.
//!
//! Order: a `delete` of `*` clears first, then add, set, the other deletes
//! (`*` prefix/suffix/substring patterns, case-insensitive), then replace
//! (substring or regexp, `$1` expansions), per field or for every field.
//! A `search_regexp` uses Go's syntax; one with placeholders is expanded
//! and compiled per request, as Caddy 2.11 does.

use crate::error::Error;
use crate::http::replacer::Template;
use crate::http::Cx;
use crate::util::goregex;
use arc_swap::ArcSwapOption;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The JSON shape of header operations.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderOpsConfig {
    #[serde(default)]
    pub(crate) add: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(crate) set: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(crate) delete: Vec<String>,
    #[serde(default)]
    pub(crate) replace: BTreeMap<String, Vec<ReplacementConfig>>,
}

/// One `replace` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplacementConfig {
    #[serde(default)]
    pub(crate) search: String,
    pub(crate) search_regexp: Option<String>,
    #[serde(default)]
    pub(crate) replace: String,
}

struct Replacement {
    search: Template,
    regexp: Option<SearchRegexp>,
    replace: Template,
}

/// A `search_regexp`: compiled once, or, when it holds placeholders,
/// compiled per request after expanding them (Caddy 2.11), keeping the
/// last compiled pattern to reuse while the expansion stays the same.
enum SearchRegexp {
    Static(Regex),
    Dynamic {
        pattern: Template,
        last: ArcSwapOption<(String, Regex)>,
    },
}

impl SearchRegexp {
    fn provision(re: &str, path: &str) -> Result<Self, Error> {
        if has_placeholder(re) {
            return Ok(SearchRegexp::Dynamic {
                pattern: Template::parse(re),
                last: ArcSwapOption::empty(),
            });
        }
        goregex::compile(re)
            .map(SearchRegexp::Static)
            .map_err(|e| Error::config(path, e))
    }

    /// The regexp for this request; `None` when the expanded pattern does
    /// not compile (the replacement is skipped).
    fn get(&self, cx: &Cx<'_>) -> Option<RegexRef<'_>> {
        match self {
            SearchRegexp::Static(re) => Some(RegexRef::Borrowed(re)),
            SearchRegexp::Dynamic { pattern, last } => {
                let src = pattern.render_known(cx);
                if let Some(cached) = last.load_full().filter(|c| c.0 == src) {
                    return Some(RegexRef::Shared(cached));
                }
                let re = goregex::compile(&src)
                    .map_err(|e| tracing::warn!("header replacement: {e}"))
                    .ok()?;
                let entry = Arc::new((src.into_owned(), re));
                last.store(Some(entry.clone()));
                Some(RegexRef::Shared(entry))
            }
        }
    }
}

enum RegexRef<'a> {
    Borrowed(&'a Regex),
    Shared(Arc<(String, Regex)>),
}

impl RegexRef<'_> {
    fn re(&self) -> &Regex {
        match self {
            RegexRef::Borrowed(r) => r,
            RegexRef::Shared(e) => &e.1,
        }
    }
}

/// Whether `s` holds a placeholder (`{` and a letter, up to a `}`), as
/// opposed to a regexp repetition such as `{2,3}`.
fn has_placeholder(s: &str) -> bool {
    s.match_indices('{').any(|(i, _)| {
        let rest = &s[i + 1..];
        rest.starts_with(|c: char| c.is_ascii_alphabetic())
            && rest.find('}').is_some_and(|end| !rest[..end].contains('{'))
            && (i == 0 || !s[..i].ends_with('\\'))
    })
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
                    Some(re) if !re.is_empty() => Some(SearchRegexp::provision(
                        re,
                        &format!("{path}.replace.{field}[{i}].search_regexp"),
                    )?),
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
        let regexp = match &self.regexp {
            Some(r) => match r.get(cx) {
                Some(re) => Some(re),
                None => return,
            },
            None => None,
        };
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
                let new = match &regexp {
                    Some(re) => re.re().replace_all(&s, replace.as_ref()).into_owned(),
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
