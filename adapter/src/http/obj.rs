//! A small builder for JSON objects in Go struct field order with Go's
//! `omitempty` semantics, so directive parsers read like the struct they
//! fill: `Obj::handler("static_response").opt_str("body", body)`.

use serde_json::{Map, Value};

/// A JSON object under construction; keys keep insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Obj(pub Map<String, Value>);

impl Obj {
    /// An empty object.
    pub fn new() -> Self {
        Self(Map::new())
    }

    /// An object whose first key is `"handler": name` (an HTTP handler
    /// module, Caddy's inline module key).
    pub fn handler(name: &str) -> Self {
        Self::new().set("handler", name)
    }

    /// An object whose first key is `key: name` (another inline key, such
    /// as "module", "provider", "source", "wrapper", "policy").
    pub fn module(key: &str, name: &str) -> Self {
        Self::new().set(key, name)
    }

    /// Sets a key unconditionally.
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_string(), value.into());
        self
    }

    /// Sets a key in place.
    pub fn put(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.to_string(), value.into());
    }

    /// Sets a key unless the value is "empty" as Go's `omitempty` sees it
    /// (null, false, 0, "", [], {}).
    pub fn opt(mut self, key: &str, value: impl Into<Value>) -> Self {
        let v = value.into();
        if !is_empty(&v) {
            self.0.insert(key.to_string(), v);
        }
        self
    }

    /// Like [`Obj::opt`] in place.
    pub fn put_opt(&mut self, key: &str, value: impl Into<Value>) {
        let v = value.into();
        if !is_empty(&v) {
            self.0.insert(key.to_string(), v);
        }
    }

    /// Sets a key when the option holds a value (even an empty one, like a
    /// Go pointer field).
    pub fn some<T: Into<Value>>(mut self, key: &str, value: Option<T>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), v.into());
        }
        self
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The finished JSON value.
    pub fn build(self) -> Value {
        Value::Object(self.0)
    }
}

impl From<Obj> for Value {
    fn from(o: Obj) -> Self {
        o.build()
    }
}

/// Go's `omitempty` notion of an empty value.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Strings as a JSON array.
pub fn strings<S: AsRef<str>>(items: &[S]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|s| Value::String(s.as_ref().to_string()))
            .collect(),
    )
}

/// A JSON object from key/value pairs sorted by key (a Go map).
pub fn sorted_map(mut pairs: Vec<(String, Value)>) -> Value {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(pairs.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn omitempty_follows_go() {
        let v = Obj::handler("h")
            .opt("a", 0)
            .opt("b", "")
            .opt("c", false)
            .opt("d", json!([]))
            .opt("e", 2)
            .some("f", Some(json!({})))
            .build();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"handler":"h","e":2,"f":{}}"#
        );
    }

    #[test]
    fn sorted_map_sorts_keys() {
        let v = sorted_map(vec![("b".into(), json!(1)), ("a".into(), json!(2))]);
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"a":2,"b":1}"#);
    }
}
