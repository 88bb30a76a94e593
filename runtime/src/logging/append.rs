//! `caddy.logging.encoders.append`: fields added to every entry before
//! the wrapped encoder writes it, as Caddy's `AppendEncoder`.
//!
//! A value that is exactly one placeholder (`"{env.HOST}"`) is that
//! placeholder of Caddy's global replacer, evaluated for each entry (so
//! `{time.now.unix}` moves, and is a number as in Caddy; an unknown one,
//! such as any `{http.*}`, is `null`); any other value, a string with text around a placeholder
//! included, is written as given. Fields keep their config order (Go's
//! map order is random).

use crate::http::replacer::clock::{write_now, TimeFormat};
use crate::http::replacer::Key;
use serde_json::{Map, Value};

/// The fields one append encoder adds.
#[derive(Debug, Clone)]
pub struct Appended {
    fields: Vec<(String, Source)>,
}

#[derive(Debug, Clone)]
enum Source {
    /// Known when provisioned: a JSON value, or a static placeholder.
    Fixed(Value),
    /// `{time.now…}`, rendered per entry.
    Now(TimeFormat),
}

impl Appended {
    /// The fields of a `fields` object (any JSON value is a valid one).
    pub fn new(fields: &Map<String, Value>) -> Self {
        let fields = fields.iter().map(|(k, v)| (k.clone(), source(v))).collect();
        Appended { fields }
    }

    /// `fields` (the inside of a JSON object) with the appended ones after.
    pub fn apply(&self, fields: &str) -> String {
        let mut out = String::with_capacity(fields.len() + 32 * self.fields.len());
        out.push_str(fields);
        for (k, src) in &self.fields {
            if !out.is_empty() {
                out.push(',');
            }
            super::encoder::json_str(&mut out, k);
            out.push(':');
            match src {
                Source::Fixed(v) => out.push_str(&v.to_string()),
                // Caddy's replacer gives the Unix times as integers
                Source::Now(f @ (TimeFormat::Unix | TimeFormat::UnixMs)) => write_now(*f, &mut out),
                Source::Now(f) => {
                    let mut s = String::new();
                    write_now(*f, &mut s);
                    super::encoder::json_str(&mut out, &s);
                }
            }
        }
        out
    }
}

/// What a configured value appends.
fn source(v: &Value) -> Source {
    let Some(s) = v.as_str() else {
        return Source::Fixed(v.clone());
    };
    let single = s.starts_with('{') && s.ends_with('}') && s.matches('{').count() == 1;
    if !single {
        return Source::Fixed(v.clone());
    }
    match Key::parse(&s[1..s.len() - 1]) {
        Some(Key::Static(value)) => Source::Fixed(Value::String(value.into())),
        Some(Key::Time(f)) => Source::Now(f),
        // a request placeholder, or none at all: the global replacer has no value
        _ => Source::Fixed(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::Appended;
    use serde_json::json;

    #[test]
    fn fixed_values_placeholders_and_unknowns() {
        std::env::set_var("BELLHOP_APPEND_TEST", "x1");
        let cfg = json!({
            "host": "{env.BELLHOP_APPEND_TEST}",
            "n": 3,
            "literal": "id-{env.BELLHOP_APPEND_TEST}",
            "req": "{http.request.uri}",
            "at": "{time.now.unix}"
        });
        let a = Appended::new(cfg.as_object().unwrap());
        let out = a.apply(r#""msg2":"m""#);
        let v: serde_json::Value = serde_json::from_str(&format!("{{{out}}}")).unwrap();
        assert_eq!(v["msg2"], "m");
        assert_eq!(v["host"], "x1");
        assert_eq!(v["n"], 3);
        assert_eq!(v["literal"], "id-{env.BELLHOP_APPEND_TEST}");
        assert!(v["req"].is_null());
        assert!(v["at"].as_u64().unwrap() > 1_700_000_000);
        assert_eq!(a.apply(""), out[r#""msg2":"m","#.len()..]);
    }
}
