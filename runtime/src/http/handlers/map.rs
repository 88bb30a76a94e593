//! `http.handlers.map`: maps a source value to outputs stored in
//! destination placeholders. Mappings are tried in order: an exact `input`
//! or an `input_regexp`; per destination the first matching mapping with
//! an output wins (`null` defers to later mappings), else the default, else
//! the empty string. As in Caddy, the output of an exact input (and a
//! default) is expanded by the replacer, the output of a regexp only by the
//! regexp (`$1`, `${1}`, `${name}`: back-references, not placeholders).
//! Caddyfile: `map <source> <dest>... { ... }`.

use crate::error::Error;
use crate::http::replacer::Template;
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use crate::util::goregex;
use regex::Regex;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    source: String,
    #[serde(default)]
    destinations: Vec<String>,
    #[serde(default)]
    mappings: Vec<MappingConfig>,
    #[serde(default)]
    defaults: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingConfig {
    input: Option<String>,
    input_regexp: Option<String>,
    #[serde(default)]
    outputs: Vec<Value>,
}

enum Input {
    Exact(String),
    Regexp(Regex),
}

/// An output: a template for an exact input, the raw text for a regexp.
enum Output {
    Template(Template),
    Expand(String),
}

struct Mapping {
    input: Input,
    outputs: Vec<Option<Output>>,
}

struct Map {
    source: Template,
    destinations: Vec<Box<str>>,
    mappings: Vec<Mapping>,
    defaults: Vec<Template>,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let destinations = c
        .destinations
        .iter()
        .map(|d| d.trim_start_matches('{').trim_end_matches('}').into())
        .collect::<Vec<Box<str>>>();
    let mut mappings = Vec::new();
    for (i, m) in c.mappings.iter().enumerate() {
        let mpath = format!("{path}.mappings[{i}]");
        let input = match (&m.input, &m.input_regexp) {
            (_, Some(re)) if !re.is_empty() => Input::Regexp(
                goregex::compile(re)
                    .map_err(|e| Error::config(format!("{mpath}.input_regexp"), e))?,
            ),
            (Some(s), _) => Input::Exact(s.clone()),
            _ => Input::Exact(String::new()),
        };
        if m.outputs.len() > destinations.len() {
            return Err(Error::config(
                format!("{mpath}.outputs"),
                "more outputs than destinations",
            ));
        }
        let regexp = matches!(input, Input::Regexp(_));
        let outputs = m
            .outputs
            .iter()
            .map(|o| {
                let text = match o {
                    Value::Null => return None,
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some(match regexp {
                    true => Output::Expand(text),
                    false => Output::Template(Template::parse(&text)),
                })
            })
            .collect();
        mappings.push(Mapping { input, outputs });
    }
    Ok(Box::new(Map {
        source: Template::parse(&c.source),
        destinations,
        mappings,
        defaults: c.defaults.iter().map(|d| Template::parse(d)).collect(),
    }))
}

impl Map {
    /// The value of destination `idx`: the first mapping that matches and
    /// has an output for it (a `null` output defers to later mappings), else
    /// the default, else empty.
    fn value(&self, idx: usize, source: &str, cx: &Cx<'_>) -> String {
        for m in &self.mappings {
            let Some(Some(out)) = m.outputs.get(idx) else {
                continue;
            };
            match (&m.input, out) {
                (Input::Exact(s), Output::Template(t)) if s == source => {
                    return t.render(cx).into_owned()
                }
                (Input::Regexp(re), Output::Expand(text)) => {
                    if let Some(c) = re.captures(source) {
                        let mut s = String::new();
                        c.expand(text, &mut s);
                        return s;
                    }
                }
                _ => {}
            }
        }
        self.defaults
            .get(idx)
            .map(|d| d.render(cx).into_owned())
            .unwrap_or_default()
    }
}

impl Handler for Map {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        let source = self.source.render(cx).into_owned();
        for idx in 0..self.destinations.len() {
            let v = self.value(idx, &source, cx);
            cx.repl_vars.push((self.destinations[idx].clone(), v));
        }
        Step::Next
    }
}
