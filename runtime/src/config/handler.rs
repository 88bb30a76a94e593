//! One handler object of a route's `handle`, split when decoded into its
//! module name (the `handler` key, checked when provisioned) and the rest
//! as JSON text, which the module decodes when provisioned.
//!
//! Kept as text, not as a [`Value`] tree: a `subroute` nests whole route
//! lists, and a tree would be copied once per level of nesting (then freed)
//! on every reload; the text is copied with one `memcpy` per level.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// A handler object: `{"handler": name, ...body}`.
#[derive(Debug, Clone)]
pub struct HandlerConfig {
    /// The `handler` value as written (`None` when missing).
    pub name: Option<Value>,
    /// The object without its `handler` key, as JSON text (always an
    /// object).
    pub body: Box<RawValue>,
}

impl HandlerConfig {
    /// A handler object for `name` with the fields of `body`.
    pub fn new(name: &str, body: Map<String, Value>) -> Self {
        let text = Value::Object(body).to_string();
        HandlerConfig {
            name: Some(Value::String(name.into())),
            body: RawValue::from_string(text).expect("a serialized object is valid JSON"),
        }
    }

    /// The module name, when it is a string.
    pub fn name_str(&self) -> Option<&str> {
        self.name.as_ref().and_then(Value::as_str)
    }

    /// Whether the body mentions a handler module `name` at any depth (a
    /// `subroute`'s routes, say).
    pub fn body_mentions_handler(&self, name: &str) -> bool {
        // Only a body whose text has the name can mention it: parse those.
        let text = self.body.get();
        text.contains(name)
            && serde_json::from_str::<Value>(text)
                .is_ok_and(|v| crate::http::metrics::mentions_handler(&v, name))
    }
}

impl<'de> Deserialize<'de> for HandlerConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HandlerVisitor)
    }
}

struct HandlerVisitor;

impl<'de> Visitor<'de> for HandlerVisitor {
    type Value = HandlerConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a handler object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HandlerConfig, A::Error> {
        let mut name = None;
        let mut body = String::with_capacity(128);
        body.push('{');
        while let Some(key) = map.next_key::<String>()? {
            if key == "handler" {
                name = Some(map.next_value::<Value>()?);
                continue;
            }
            let value: Box<RawValue> = map.next_value()?;
            if body.len() > 1 {
                body.push(',');
            }
            push_key(&mut body, &key);
            body.push(':');
            body.push_str(value.get());
        }
        body.push('}');
        let body = RawValue::from_string(body).map_err(de::Error::custom)?;
        Ok(HandlerConfig { name, body })
    }
}

/// Appends `key` as a JSON string.
fn push_key(out: &mut String, key: &str) {
    let plain = key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push('"');
        out.push_str(key);
        out.push('"');
    } else {
        out.push_str(&Value::String(key.into()).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(h: &HandlerConfig) -> Value {
        serde_json::from_str(h.body.get()).unwrap()
    }

    #[test]
    fn the_name_is_split_off_and_the_rest_kept_whole_from_text_and_from_a_tree() {
        let text = r#"{"body":"x","handler":"static_response","headers":{"A\"b":["1"]},"n":1.5e3}"#;
        let want = serde_json::json!({"body": "x", "headers": {"A\"b": ["1"]}, "n": 1500.0});
        let from_text: HandlerConfig = serde_json::from_str(text).unwrap();
        let tree: Value = serde_json::from_str(text).unwrap();
        let from_tree = HandlerConfig::deserialize(&tree).unwrap();
        for h in [&from_text, &from_tree] {
            assert_eq!(h.name_str(), Some("static_response"));
            assert_eq!(body(h), want);
        }
        let none: HandlerConfig = serde_json::from_str("{}").unwrap();
        assert!(none.name.is_none());
        assert_eq!(body(&none), serde_json::json!({}));
        assert!(serde_json::from_str::<HandlerConfig>("[1]").is_err());
    }

    #[test]
    fn built_handlers_and_mentions() {
        let mut m = Map::new();
        m.insert(
            "routes".into(),
            serde_json::json!([{"handle": [{"handler": "metrics"}]}]),
        );
        let h = HandlerConfig::new("subroute", m);
        assert_eq!(h.name_str(), Some("subroute"));
        assert!(h.body_mentions_handler("metrics"));
        assert!(!h.body_mentions_handler("file_server"));
        let quoted: HandlerConfig = serde_json::from_str(
            r#"{"handler":"static_response","body":"\"handler\":\"metrics\""}"#,
        )
        .unwrap();
        assert!(
            !quoted.body_mentions_handler("metrics"),
            "text inside a string is no handler"
        );
    }
}
