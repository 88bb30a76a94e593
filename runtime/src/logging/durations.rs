//! An encoder's `duration_format`, as Caddy maps it onto zap's duration
//! encoders: `s`/`second`/`seconds` (a float of seconds, the default, and
//! what an unknown value gives, as in Caddy), `ms`/`milli`/`millis` (a
//! float of milliseconds), `ns`/`nano`/`nanos` (an integer of
//! nanoseconds), `string` (Go's duration text, `1.5ms`).
//!
//! bellhop writes its one duration field, the access log's top-level
//! `duration`, in seconds; another format rewrites that value when the
//! entry is encoded, so only loggers that ask pay for it.

use crate::http::replacer::clock::write_go_duration;
use std::borrow::Cow;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum DurationFormat {
    #[default]
    Seconds,
    Millis,
    Nanos,
    Text,
}

impl DurationFormat {
    /// Caddy's names; anything else is seconds.
    pub fn parse(s: Option<&str>) -> Self {
        match s.unwrap_or("") {
            "ms" | "milli" | "millis" => DurationFormat::Millis,
            "ns" | "nano" | "nanos" => DurationFormat::Nanos,
            "string" => DurationFormat::Text,
            _ => DurationFormat::Seconds,
        }
    }

    /// `fields` (the inside of a JSON object) with its top-level
    /// `duration` in this format.
    pub fn apply<'a>(&self, fields: &'a str) -> Cow<'a, str> {
        if *self == DurationFormat::Seconds {
            return Cow::Borrowed(fields);
        }
        let Some((start, end)) = top_level_value(fields, "duration") else {
            return Cow::Borrowed(fields);
        };
        let Ok(secs) = fields[start..end].parse::<f64>() else {
            return Cow::Borrowed(fields);
        };
        let mut out = String::with_capacity(fields.len() + 8);
        out.push_str(&fields[..start]);
        match self {
            DurationFormat::Millis => out.push_str(&(secs * 1e3).to_string()),
            DurationFormat::Nanos => out.push_str(&((secs * 1e9).round() as i64).to_string()),
            _ => {
                out.push('"');
                write_go_duration(Duration::from_secs_f64(secs.max(0.0)), &mut out);
                out.push('"');
            }
        }
        out.push_str(&fields[end..]);
        Cow::Owned(out)
    }
}

/// The byte range of the value of the top-level `key` in `fields`, when
/// that value is a bare token (a number), not an object, array or string.
fn top_level_value(fields: &str, key: &str) -> Option<(usize, usize)> {
    let b = fields.as_bytes();
    let (mut i, mut depth, mut at_key) = (0, 0usize, true);
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let name = fields.get(start..i.min(b.len()))?;
                if depth == 0 && at_key && b.get(i + 1) == Some(&b':') {
                    at_key = false;
                    if name == key {
                        let v = i + 2;
                        let end = b[v..]
                            .iter()
                            .position(|c| *c == b',')
                            .map_or(b.len(), |p| v + p);
                        let token = fields[v..end].trim();
                        let bare = !token.starts_with(['"', '{', '[']);
                        return bare.then_some((v, end));
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => at_key = true,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_top_level_duration_changes() {
        let f = r#""request":{"duration":"x","h":{"a,\"duration\":1":["v"]}},"duration":0.0015,"size":3"#;
        let ms = DurationFormat::parse(Some("ms")).apply(f);
        assert_eq!(ms, f.replace(r#""duration":0.0015"#, r#""duration":1.5"#));
        let ns = DurationFormat::parse(Some("nanos")).apply(f);
        assert!(ns.contains(r#""duration":1500000,"size":3"#), "{ns}");
        let text = DurationFormat::parse(Some("string")).apply(f);
        assert!(text.contains(r#""duration":"1.5ms","size":3"#), "{text}");
        assert_eq!(DurationFormat::parse(Some("bogus")).apply(f), f);
        assert_eq!(
            DurationFormat::parse(Some("ms")).apply(r#""a":1"#),
            r#""a":1"#
        );
        // Last field, no comma after.
        assert_eq!(
            DurationFormat::Millis.apply(r#""duration":2"#),
            r#""duration":2000"#
        );
    }
}
