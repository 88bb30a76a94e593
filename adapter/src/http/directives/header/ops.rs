//! Header operations (Caddy's `headers.HeaderOps` and `RespHeaderOps`)
//! and how one Caddyfile line edits them (`applyHeaderOp`), shared by
//! `header`, `request_header` and `push`'s `headers` block:
//!
//! ```text
//! <field> [<value>]             set (overwrite)
//! +<field> [<value>]            add a value
//! -<field>                      delete (deferred for responses)
//! ?<field> <value>              set if absent (responses only)
//! ><field> [<value>]            set, deferred
//! [>]<field> <regexp> <replacement>   replace by regular expression
//! ```
//!
//! Field names of set/add are canonicalized (`x-foo` → `X-Foo`) as Go's
//! `http.Header` does; delete, replace and require keys are kept as
//! written.

use crate::http::matchers::canonical_header_key;
use crate::http::obj::{sorted_map, Obj};
use serde_json::{Map, Value};

/// A Go `http.Header` under construction (canonical keys).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeaderMap(Vec<(String, Vec<String>)>);

impl HeaderMap {
    /// `Header.Set`: replaces the field's values.
    pub fn set(&mut self, field: &str, value: &str) {
        let key = canonical_header_key(field);
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, vals)) => *vals = vec![value.to_string()],
            None => self.0.push((key, vec![value.to_string()])),
        }
    }

    /// `Header.Add`: appends a value to the field.
    pub fn add(&mut self, field: &str, value: &str) {
        let key = canonical_header_key(field);
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, vals)) => vals.push(value.to_string()),
            None => self.0.push((key, vec![value.to_string()])),
        }
    }

    fn to_json(&self) -> Value {
        sorted_map(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), crate::http::obj::strings(v)))
                .collect(),
        )
    }
}

/// Caddy's `headers.HeaderOps`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeaderOps {
    pub add: HeaderMap,
    pub set: HeaderMap,
    pub delete: Vec<String>,
    /// field → (search regexp, replacement), in order.
    pub replace: Vec<(String, Vec<(String, String)>)>,
}

impl HeaderOps {
    /// The operations' JSON fields (empty ones omitted).
    pub fn fields(&self) -> Obj {
        let replace = sorted_map(
            self.replace
                .iter()
                .map(|(field, reps)| {
                    let list = reps
                        .iter()
                        .map(|(search, rep)| {
                            Obj::new()
                                .opt("search_regexp", search.as_str())
                                .opt("replace", rep.as_str())
                                .build()
                        })
                        .collect();
                    (field.clone(), Value::Array(list))
                })
                .collect(),
        );
        Obj::new()
            .opt("add", self.add.to_json())
            .opt("set", self.set.to_json())
            .opt("delete", crate::http::obj::strings(&self.delete))
            .opt("replace", replace)
    }

    /// The operations as a JSON object.
    pub fn to_json(&self) -> Value {
        self.fields().build()
    }
}

/// Caddy's `headers.RespHeaderOps`: header operations on the response,
/// with an optional response matcher and deferral.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RespHeaderOps {
    pub ops: HeaderOps,
    /// The `require` response matcher, as JSON fields.
    pub require: Option<Map<String, Value>>,
    pub deferred: bool,
}

impl RespHeaderOps {
    /// The JSON object.
    pub fn to_json(&self) -> Value {
        self.ops
            .fields()
            .some("require", self.require.clone().map(Value::Object))
            .opt("deferred", self.deferred)
            .build()
    }
}

/// Applies one line's operation (Caddy's `applyHeaderOp`); `resp` is the
/// response-only part when editing response headers. Returns an error
/// message for `?` on request headers.
pub fn apply(
    ops: &mut HeaderOps,
    mut resp: Option<(&mut Option<Map<String, Value>>, &mut bool)>,
    field: &str,
    value: &str,
    replacement: Option<&str>,
) -> Result<(), String> {
    if let Some(name) = field.strip_prefix('+') {
        ops.add.add(name, value);
    } else if let Some(name) = field.strip_prefix('-') {
        ops.delete.push(name.to_string());
        if let Some((_, deferred)) = resp.as_mut() {
            **deferred = true;
        }
    } else if let Some(name) = field.strip_prefix('?') {
        let Some((require, _)) = resp else {
            return Err(format!("{field}: the default header modifier ('?') can only be used on response headers; for conditional manipulation of request headers, use matchers"));
        };
        let req = require.get_or_insert_with(|| {
            let mut m = Map::new();
            m.insert("headers".into(), Value::Object(Map::new()));
            m
        });
        let headers = req
            .entry("headers")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(h) = headers {
            h.insert(name.to_string(), Value::Null);
            let sorted: Map<String, Value> = sorted_entries(std::mem::take(h));
            *h = sorted;
        }
        ops.set.set(name, value);
    } else if let Some(rep) = replacement {
        if field.starts_with('>') {
            if let Some((_, deferred)) = resp.as_mut() {
                **deferred = true;
            }
        }
        let name = field.trim_start_matches(['+', '-', '?', '>']).to_string();
        let entry = (value.to_string(), rep.to_string());
        match ops.replace.iter_mut().find(|(k, _)| *k == name) {
            Some((_, list)) => list.push(entry),
            None => ops.replace.push((name, vec![entry])),
        }
    } else if let Some(name) = field.strip_prefix('>') {
        ops.set.set(name, value);
        if let Some((_, deferred)) = resp.as_mut() {
            **deferred = true;
        }
    } else {
        ops.set.set(field, value);
    }
    Ok(())
}

fn sorted_entries(m: Map<String, Value>) -> Map<String, Value> {
    let mut v: Vec<(String, Value)> = m.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_ops() {
        let mut ops = HeaderOps::default();
        apply(&mut ops, None, "x-foo", "a", None).unwrap();
        apply(&mut ops, None, "+x-bar", "b", None).unwrap();
        apply(&mut ops, None, "+X-Bar", "c", None).unwrap();
        apply(&mut ops, None, "-x-gone", "", None).unwrap();
        apply(&mut ops, None, ">x-re", "a+", Some("b")).unwrap();
        assert_eq!(
            ops.to_json(),
            json!({
                "add": {"X-Bar": ["b", "c"]},
                "set": {"X-Foo": ["a"]},
                "delete": ["x-gone"],
                "replace": {"x-re": [{"search_regexp": "a+", "replace": "b"}]}
            })
        );
        let err = apply(&mut ops, None, "?x", "y", None).unwrap_err();
        assert!(err.starts_with("?x: the default header modifier"));
    }

    #[test]
    fn response_default_and_defer() {
        let mut r = RespHeaderOps::default();
        apply(
            &mut r.ops,
            Some((&mut r.require, &mut r.deferred)),
            "?Foo",
            "1",
            None,
        )
        .unwrap();
        assert_eq!(
            r.to_json(),
            json!({"set": {"Foo": ["1"]}, "require": {"headers": {"Foo": null}}})
        );
        apply(
            &mut r.ops,
            Some((&mut r.require, &mut r.deferred)),
            "-Bar",
            "",
            None,
        )
        .unwrap();
        assert!(r.deferred);
    }
}
