//! Header operations of `header_up` / `header_down` (Caddy's
//! `headers.HeaderOps` and `CaddyfileHeaderOp`):
//!
//! ```text
//! header_up   [+|-]<field> [<value|regexp> [<replacement>]]
//! header_down [+|-]<field> [<value|regexp> [<replacement>]]
//! ```
//!
//! `+field value` appends, `-field` deletes, `field regexp replacement`
//! replaces by regexp, `>field value` sets (the defer marker has no
//! meaning for the proxy), anything else sets. `?field` is refused: it is
//! only valid on the `header` directive's response headers.

use crate::http::matchers::canonical_header_key;
use crate::http::obj::{sorted_map, strings, Obj};
use serde_json::Value;

/// One side's header operations (`request` or `response`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeaderOps {
    /// Canonical field → values to append.
    pub add: Vec<(String, Vec<String>)>,
    /// Canonical field → values to set.
    pub set: Vec<(String, Vec<String>)>,
    /// Fields to delete, as written.
    pub delete: Vec<String>,
    /// Field (as written) → replacements (`search_regexp`, `replace`).
    pub replace: Vec<(String, Vec<Value>)>,
}

impl HeaderOps {
    /// Applies one Caddyfile header operation.
    pub fn apply(
        &mut self,
        field: &str,
        value: &str,
        replacement: Option<&str>,
    ) -> Result<(), String> {
        if let Some(f) = field.strip_prefix('+') {
            push(&mut self.add, canonical_header_key(f), value, false);
        } else if let Some(f) = field.strip_prefix('-') {
            self.delete.push(f.to_string());
        } else if field.starts_with('?') {
            return Err(format!("{field}: the default header modifier ('?') can only be used on response headers; for conditional manipulation of request headers, use matchers"));
        } else if let Some(rep) = replacement {
            let f = field.trim_start_matches(['+', '-', '?', '>']).to_string();
            let r = Obj::new()
                .opt("search_regexp", value)
                .opt("replace", rep)
                .build();
            match self.replace.iter_mut().find(|(k, _)| *k == f) {
                Some((_, v)) => v.push(r),
                None => self.replace.push((f, vec![r])),
            }
        } else {
            let f = field.strip_prefix('>').unwrap_or(field);
            push(&mut self.set, canonical_header_key(f), value, true);
        }
        Ok(())
    }

    /// Sets `field` to `value` (Go's `http.Header.Set`).
    pub fn set(&mut self, field: &str, value: &str) {
        push(&mut self.set, canonical_header_key(field), value, true);
    }

    /// The JSON object (Go's `omitempty` on each field).
    pub fn to_json(&self) -> Value {
        Obj::new()
            .opt("add", header_map(&self.add))
            .opt("set", header_map(&self.set))
            .opt("delete", strings(&self.delete))
            .opt(
                "replace",
                sorted_map(
                    self.replace
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::Array(v.clone())))
                        .collect(),
                ),
            )
            .build()
    }
}

fn push(map: &mut Vec<(String, Vec<String>)>, key: String, value: &str, overwrite: bool) {
    match map.iter_mut().find(|(k, _)| *k == key) {
        Some((_, vals)) if overwrite => *vals = vec![value.to_string()],
        Some((_, vals)) => vals.push(value.to_string()),
        None => map.push((key, vec![value.to_string()])),
    }
}

fn header_map(map: &[(String, Vec<String>)]) -> Value {
    sorted_map(map.iter().map(|(k, v)| (k.clone(), strings(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations() {
        let mut ops = HeaderOps::default();
        ops.apply("+x-a", "1", None).unwrap();
        ops.apply("+X-A", "2", None).unwrap();
        ops.apply("-Server", "", None).unwrap();
        ops.apply("host", "h", None).unwrap();
        ops.apply("Location", "^http://", Some("https://")).unwrap();
        assert!(ops.apply("?X", "v", None).is_err());
        assert_eq!(
            ops.to_json(),
            json!({
                "add": {"X-A": ["1", "2"]},
                "set": {"Host": ["h"]},
                "delete": ["Server"],
                "replace": {"Location": [{"search_regexp": "^http://", "replace": "https://"}]}
            })
        );
    }
}
