//! The typed model of Caddy's JSON config.
//!
//! Decoding is strict: every struct rejects unknown fields, and errors carry
//! the JSON path of the offending value (`serde_path_to_error`). Fields that
//! hold modules (handlers, matchers, log writers, …) stay raw JSON here; the
//! [`crate::registry`] decodes them by their module ID when the config is
//! provisioned, so an unknown module is reported with its ID and path.
//!
//! Layout: this file holds the document root and shared value types;
//! `config/http.rs` the `http` app (`config/handler.rs` its handler
//! objects); `config/logging.rs` the `logging` and `admin` sections;
//! `config/unread.rs` every decoded field bellhop does not act on, refused
//! or accepted with why.

pub(crate) mod events;
pub(crate) mod filesystems;
mod handler;
mod http;
mod logging;
pub(crate) mod unread;

pub use handler::HandlerConfig;
pub use http::{AutoHttpsConfig, ErrorsConfig, HttpApp, RouteConfig, ServerConfig, ServerLogs};
pub use logging::{AdminConfig, AdminConfigPersist, LogConfig, LoggingConfig};

use crate::error::Error;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::time::Duration;

/// The root of a Caddy JSON config document.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub(crate) admin: Option<AdminConfig>,
    pub(crate) logging: Option<LoggingConfig>,
    /// A `caddy.storage` module (`{"module": "file_system", ...}`).
    pub(crate) storage: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) apps: Apps,
    /// Whether the config may name a `http.reverse_proxy.*` placeholder
    /// (the proxy records what they render only then): found in the text
    /// by [`Config::from_json`] and [`Config::from_document`], else
    /// assumed.
    #[serde(skip)]
    pub(crate) proxy_placeholders: Mentioned,
}

/// Whether a config's text mentions something; `true` unless its text
/// was read and it does not.
#[derive(Debug, Clone, Copy)]
pub struct Mentioned(pub bool);

impl Default for Mentioned {
    fn default() -> Self {
        Mentioned(true)
    }
}

impl Config {
    /// `apps.http.grace_period`, when set and not zero.
    pub fn grace_period(&self) -> Option<Duration> {
        self.apps
            .http
            .as_ref()
            .and_then(|h| h.grace_period.as_ref())
            .map(|d| d.0)
            .filter(|d| !d.is_zero())
    }
}

/// The `apps` object: the `http` app is typed; any other app is kept raw so
/// the registry can name it when the runtime does not implement it.
#[derive(Debug, Default, Deserialize)]
pub struct Apps {
    pub(crate) http: Option<HttpApp>,
    #[serde(flatten)]
    pub(crate) other: Map<String, Value>,
}

impl Config {
    /// Decodes a config from JSON bytes; errors name the JSON path.
    pub fn from_json(json: &[u8]) -> Result<Config, Error> {
        if json.iter().all(u8::is_ascii_whitespace) {
            return Ok(Config::default());
        }
        let config = match mentions_ids(json) {
            true => Self::from_json_with_ids(json)?,
            false => Self::from_json_without_ids(json)?,
        };
        Ok(config.read_from(json))
    }

    /// What is known of the config from its text `json`.
    fn read_from(mut self, json: &[u8]) -> Config {
        self.proxy_placeholders = Mentioned(mentions(json, b"http.reverse_proxy."));
        self
    }

    /// Decodes a config known to carry no `"@id"` tags.
    fn from_json_without_ids(json: &[u8]) -> Result<Config, Error> {
        serde_json::from_slice(json).or_else(|_| {
            let de = &mut serde_json::Deserializer::from_slice(json);
            serde_path_to_error::deserialize(de).map_err(|e| path_error("", e))
        })
    }

    /// Decodes a config whose objects may carry `"@id"` tags (the admin
    /// API's object IDs): they are removed before the strict decoding.
    fn from_json_with_ids(json: &[u8]) -> Result<Config, Error> {
        let mut value: Value = serde_json::from_slice(json).map_err(|e| Error::Config {
            path: "(root)".into(),
            message: e.to_string(),
        })?;
        strip_ids(&mut value);
        decode(&value, "")
    }

    /// Decodes the document `json` (`null`: the empty config) as the admin
    /// API receives it, from the text, so that handler objects stay text
    /// (see `config/handler.rs`); with `ids` (it may carry `"@id"` tags) a
    /// copy of its parsed form `value` without them is decoded. The fast
    /// decode does not track paths: a failure is decoded again from `json`
    /// for an error naming its JSON path.
    pub fn from_document(value: Option<&Value>, ids: bool, json: &[u8]) -> Result<Config, Error> {
        if json == b"null" {
            return Ok(Config::default());
        }
        let config = match (ids, value) {
            (true, Some(value)) => {
                let mut stripped = value.clone();
                strip_ids(&mut stripped);
                Config::deserialize(&stripped).or_else(|_| Config::from_json(json))
            }
            (true, None) => Config::from_json_with_ids(json),
            (false, _) => Config::from_json_without_ids(json),
        };
        config.map(|c| c.read_from(json))
    }
}

/// Whether the JSON text `json` may carry `"@id"` tags (the admin API's
/// object IDs): only then is there any to index or strip.
pub fn mentions_ids(json: &[u8]) -> bool {
    mentions(json, b"\"@id\"")
}

/// Whether `needle` occurs in the text `json`.
fn mentions(json: &[u8], needle: &[u8]) -> bool {
    json.windows(needle.len()).any(|w| w == needle)
}

/// Removes every `"@id"` key, at any depth.
pub fn strip_ids(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.shift_remove("@id");
            m.values_mut().for_each(strip_ids);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_ids),
        _ => {}
    }
}

/// Decodes `value` as `T`, naming `base` plus the inner path on error.
pub fn decode<'de, T: Deserialize<'de>>(value: &'de Value, base: &str) -> Result<T, Error> {
    // Tracking the path costs an allocation per key: decode untracked, and
    // only a failure again to find where it is.
    T::deserialize(value)
        .or_else(|_| serde_path_to_error::deserialize(value).map_err(|e| path_error(base, e)))
}

/// Decodes the JSON text `raw` (a fragment of a config: a module's
/// object) as `T`, naming `base` plus the inner path on error.
pub fn decode_text<'de, T: Deserialize<'de>>(raw: &'de RawValue, base: &str) -> Result<T, Error> {
    serde_json::from_str(raw.get()).or_else(|_| {
        let de = &mut serde_json::Deserializer::from_str(raw.get());
        serde_path_to_error::deserialize(de).map_err(|e| {
            // A line and column within a fragment would only mislead.
            let (path, inner) = (e.path().clone(), e.into_inner());
            let at = format!(" at line {} column {}", inner.line(), inner.column());
            let message = inner.to_string();
            let message = message.strip_suffix(&at).unwrap_or(&message);
            path_error(
                base,
                serde_path_to_error::Error::new(path, message.to_string()),
            )
        })
    })
}

fn path_error<E: std::fmt::Display>(base: &str, e: serde_path_to_error::Error<E>) -> Error {
    let inner = e.path().to_string();
    let path = join_path(base, if inner == "." { "" } else { &inner });
    let message = e.into_inner().to_string();
    // serde_json appends " at line L column C" for byte input; keep it, it
    // helps with hand-written JSON.
    Error::Config {
        path: if path.is_empty() {
            "(root)".into()
        } else {
            path
        },
        message,
    }
}

/// Joins two JSON path fragments (`a.b` + `c[0]` = `a.b.c[0]`).
pub fn join_path(base: &str, inner: &str) -> String {
    match (base.is_empty(), inner.is_empty()) {
        (true, _) => inner.to_string(),
        (_, true) => base.to_string(),
        _ if inner.starts_with('[') => format!("{base}{inner}"),
        _ => format!("{base}.{inner}"),
    }
}

/// A duration in Caddy's JSON: an integer of nanoseconds or a string such
/// as `"1m30s"` or `"2d"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaddyDuration(pub Duration);

impl<'de> Deserialize<'de> for CaddyDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Nanos(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Nanos(n) if n >= 0 => Ok(CaddyDuration(Duration::from_nanos(n as u64))),
            Raw::Nanos(n) => Err(serde::de::Error::custom(format!("negative duration: {n}"))),
            Raw::Text(s) => crate::util::parse_duration(&s)
                .map(CaddyDuration)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A JSON value that may be a single string or a list of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StringList(pub Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        Ok(StringList(match Raw::deserialize(d)? {
            Raw::One(s) => vec![s],
            Raw::Many(v) => v,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The proxy records what its placeholders render only when the
    /// config's text names one; a config built in code is assumed to.
    #[test]
    fn proxy_placeholders_are_found_in_the_text() {
        let json = |h: &str| {
            format!(
                r#"{{"apps":{{"http":{{"servers":{{"s":{{"listen":[":80"],"routes":[{{"handle":[{h}]}}]}}}}}}}}}}"#
            )
        };
        let names =
            json(r#"{"handler":"static_response","body":"{http.reverse_proxy.upstream.address}"}"#);
        let plain = json(r#"{"handler":"static_response","body":"{http.request.host}"}"#);
        assert!(
            Config::from_json(names.as_bytes())
                .unwrap()
                .proxy_placeholders
                .0
        );
        assert!(
            !Config::from_json(plain.as_bytes())
                .unwrap()
                .proxy_placeholders
                .0
        );
        let doc = |j: &str| Config::from_document(None, false, j.as_bytes()).unwrap();
        assert!(doc(&names).proxy_placeholders.0);
        assert!(!doc(&plain).proxy_placeholders.0);
        assert!(Config::default().proxy_placeholders.0);
    }

    #[test]
    fn unknown_field_names_its_path() {
        let json = br#"{"apps":{"http":{"servers":{"srv0":{"listen":[":80"],"lisen":1}}}}}"#;
        let err = Config::from_json(json).unwrap_err().to_string();
        assert!(
            err.starts_with("apps.http.servers.srv0.lisen: unknown field"),
            "{err}"
        );
    }

    #[test]
    fn ids_are_accepted_anywhere_and_stripped() {
        let json = br#"{"@id":"root","apps":{"http":{"servers":{"srv0":{"@id":"s","listen":[":80"],"routes":[{"@id":7,"handle":[]}]}}}}}"#;
        let c = Config::from_json(json).unwrap();
        assert!(c.apps.http.unwrap().servers.contains_key("srv0"));
        let bad = br#"{"@id":"x","apps":{"http":{"servers":{"s":{"lisen":1}}}}}"#;
        let err = Config::from_json(bad).unwrap_err().to_string();
        assert!(
            err.starts_with("apps.http.servers.s.lisen: unknown field"),
            "{err}"
        );
    }

    #[test]
    fn a_parsed_document_decodes_like_its_bytes() {
        let json = br#"{"@id":"r","apps":{"http":{"servers":{"srv0":{"listen":[":80"],"routes":[{"handle":[{"@id":"h","body":"x","handler":"static_response"}]}]}}}}}"#;
        let value: Value = serde_json::from_slice(json).unwrap();
        let c = Config::from_document(Some(&value), true, json).unwrap();
        let http = c.apps.http.unwrap();
        let h = &http.servers["srv0"].routes[0].handle[0];
        assert_eq!(h.name_str(), Some("static_response"));
        assert_eq!(
            serde_json::from_str::<Value>(h.body.get()).unwrap(),
            serde_json::json!({"body": "x"}),
            "handler and @id split off"
        );
        let bad = br#"{"apps":{"http":{"servers":{"s":{"routes":[{"handle":[],"lisen":1}]}}}}}"#;
        let value: Value = serde_json::from_slice(bad).unwrap();
        let err = Config::from_document(Some(&value), false, bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("apps.http.servers.s.routes[0].lisen: unknown field"),
            "{err}"
        );
        let nested = serde_json::json!({"routes": [{"handle": [{"handler": "x", "lisen": 1}], "terminal": "no"}]});
        let err = decode::<HandlerConfig>(&nested["routes"][0]["handle"][0], "a").map(|_| ());
        assert!(
            err.is_ok(),
            "a handler's own fields are its module's to check"
        );
        let err = decode::<RouteConfig>(&nested["routes"][0], "a.b[0]")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.b[0].terminal: invalid type"), "{err}");
    }

    #[test]
    fn durations_accept_nanos_and_text() {
        let d: CaddyDuration = serde_json::from_str("1500000000").unwrap();
        assert_eq!(d.0, Duration::from_millis(1500));
        let d: CaddyDuration = serde_json::from_str("\"2m\"").unwrap();
        assert_eq!(d.0, Duration::from_secs(120));
    }
}
