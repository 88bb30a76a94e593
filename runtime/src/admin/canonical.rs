//! The canonical encoding of a config document, straight from its text.
//!
//! Like Caddy, the admin API compares and saves a new config as the
//! compact re-encoding of the parsed document. Parsing a large `POST /load`
//! body into a [`serde_json::Value`] tree only to encode it again was a
//! fifth of a 1,000-site reload's CPU: [`encode`] copies the tokens through
//! serde_json's own parser and encoder instead, so the bytes are the ones
//! the tree would give. An object that repeats a key is the one case where
//! they would differ (the tree keeps the last value in the first place):
//! there [`encode`] answers `None` and the caller parses the tree.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// The compact encoding of the JSON text `body` (whitespace only: `null`),
/// as `serde_json::to_vec` gives for its parsed `Value`; `None` when the
/// text is not JSON or an object repeats a key.
pub fn encode(body: &[u8]) -> Option<Vec<u8>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(b"null".to_vec());
    }
    let mut out = Vec::with_capacity(body.len());
    let mut de = serde_json::Deserializer::from_slice(body);
    Copy { out: &mut out }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(out)
}

/// Copies one JSON value to `out`.
struct Copy<'o> {
    out: &'o mut Vec<u8>,
}

/// Raised when an object repeats a key.
#[derive(Debug)]
struct Repeated;

impl<'de> DeserializeSeed<'de> for Copy<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Copy<'_> {
    fn put<T: serde::Serialize + ?Sized>(&mut self, v: &T) {
        // Writing to a Vec cannot fail; numbers and strings only.
        let _ = serde_json::to_writer(&mut *self.out, v);
    }
}

impl<'de> Visitor<'de> for Copy<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(mut self, v: bool) -> Result<(), E> {
        self.put(&v);
        Ok(())
    }

    fn visit_i64<E>(mut self, v: i64) -> Result<(), E> {
        self.put(&v);
        Ok(())
    }

    fn visit_u64<E>(mut self, v: u64) -> Result<(), E> {
        self.put(&v);
        Ok(())
    }

    fn visit_f64<E>(mut self, v: f64) -> Result<(), E> {
        // As `Value` does: a non-finite number (none parses) is `null`.
        match serde_json::Number::from_f64(v) {
            Some(n) => self.put(&n),
            None => self.out.extend_from_slice(b"null"),
        }
        Ok(())
    }

    fn visit_str<E>(mut self, v: &str) -> Result<(), E> {
        self.put(v);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            let len = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if seq.next_element_seed(Copy { out: self.out })?.is_none() {
                self.out.truncate(len);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        // Hashed, as the tree's map is: an object of many keys (a large
        // `map` handler) stays linear.
        let mut keys: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key_seed(Key)? {
            if !keys.is_empty() {
                self.out.push(b',');
            }
            self.put(key.as_ref());
            if !keys.insert(key) {
                return Err(serde::de::Error::custom(Repeated));
            }
            self.out.push(b':');
            map.next_value_seed(Copy { out: self.out })?;
        }
        self.out.push(b'}');
        Ok(())
    }
}

impl fmt::Display for Repeated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object repeats a key")
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via_tree(text: &str) -> Vec<u8> {
        let v: serde_json::Value = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(text).unwrap()
        };
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn gives_the_bytes_the_parsed_tree_gives() {
        let cases = [
            " { \"b\" : [1, -2, 3.50, 1e3, -0, 0.1, 18446744073709551615, -9223372036854775808] ,\n \"a\":{} } ",
            r#"{"s":"tab\t quote\" slash\/ \u00e9 \ud83d\ude00 \u0001 <>&","e":"","n":null,"t":true,"f":false}"#,
            r#"[[], [[]], {"x": [{"y": {}}]}, "a\\b", 1.7976931348623157e308, 5e-324]"#,
            r#"{"k\"ey": 1, "k\u0065y": 2, "apps": {"http": {"servers": {"srv0": {"listen": [":443"]}}}}}"#,
            "  ",
            "null",
            "\"just a string\"",
            "12",
        ];
        for text in cases {
            assert_eq!(
                encode(text.as_bytes()).as_deref(),
                Some(via_tree(text).as_slice()),
                "{text}"
            );
        }
    }

    #[test]
    fn declines_repeated_keys_and_bad_text() {
        assert_eq!(encode(br#"{"a":1,"b":2,"a":3}"#), None);
        assert_eq!(encode(br#"[{"a":{"x":1,"x":1}}]"#), None);
        assert_eq!(encode(br#"{"a":1,"#), None);
        assert_eq!(encode(br#"{"a":1} x"#), None);
        assert_eq!(
            encode(br#"{"a":1,"A":2}"#).as_deref(),
            Some(&br#"{"a":1,"A":2}"#[..])
        );
    }
}
