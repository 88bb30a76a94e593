//! The `logging` app: named loggers, each a writer, an encoder, a minimum
//! level, logger-name filters (`include`/`exclude`) and optional sampling.
//!
//! An entry is emitted under a logger name (`http.log.access.NAME`) and
//! goes to every configured logger that accepts that name and level. As in
//! Caddy, the logger `default` exists even when not configured (standard
//! error, console encoding on a terminal, JSON otherwise, level INFO).
//! Name filters work on dot-separated namespaces: the longest matching
//! `include` must beat the longest matching `exclude`.
//!
//! Nothing here runs unless something logs: a server without `logs` never
//! builds an entry.

pub mod append;
pub mod durations;
pub mod encoder;
pub mod filter;
pub mod process;
pub mod writer;

use crate::config::{LogConfig, LoggingConfig};
use crate::error::Error;
use crate::registry::Provision;
use encoder::Encoder;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use writer::Writer;

/// A log level, in increasing severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Panic,
    Fatal,
}

impl Level {
    /// Parses a level name, case-insensitively (`WARNING` too).
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "debug" => Level::Debug,
            "" | "info" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" => Level::Error,
            "panic" | "dpanic" => Level::Panic,
            "fatal" => Level::Fatal,
            _ => return None,
        })
    }

    /// `info`, `error`, …
    pub fn lower(self) -> &'static str {
        ["debug", "info", "warn", "error", "panic", "fatal"][self as usize]
    }

    /// `INFO`, `ERROR`, …
    pub fn upper(self) -> &'static str {
        ["DEBUG", "INFO", "WARN", "ERROR", "PANIC", "FATAL"][self as usize]
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SamplingConfig {
    #[serde(default)]
    interval: crate::config::CaddyDuration,
    #[serde(default)]
    first: u64,
    #[serde(default)]
    thereafter: u64,
}

/// zap's sampler, simply: in each interval, the first `first` entries pass,
/// then every `thereafter`-th.
struct Sampler {
    interval_ns: u64,
    first: u64,
    thereafter: u64,
    window: AtomicU64,
    count: AtomicU64,
}

impl Sampler {
    fn admit(&self, now_ns: u64) -> bool {
        let window = now_ns / self.interval_ns.max(1);
        if self.window.swap(window, Ordering::AcqRel) != window {
            self.count.store(0, Ordering::Release);
        }
        let n = self.count.fetch_add(1, Ordering::AcqRel);
        n < self.first || (self.thereafter > 0 && (n - self.first).is_multiple_of(self.thereafter))
    }
}

/// One provisioned logger.
struct Logger {
    level: Level,
    include: Vec<String>,
    exclude: Vec<String>,
    encoder: Encoder,
    writer: Writer,
    sampler: Option<Sampler>,
}

/// The provisioned `logging` app.
pub struct Logging {
    loggers: Vec<Logger>,
}

impl Logging {
    /// Provisions the `logging` section (absent: only the default logger).
    pub fn provision(c: Option<&LoggingConfig>, p: &Provision<'_>) -> Result<Logging, Error> {
        let mut loggers = Vec::new();
        let logs = c.map(|c| &c.logs);
        let has_default = logs.is_some_and(|l| l.contains_key("default"));
        if !has_default {
            loggers.push(Logger::provision(
                &LogConfig::default(),
                p,
                "logging.logs.default",
            )?);
        }
        for (name, lc) in logs.into_iter().flatten() {
            loggers.push(Logger::provision(lc, p, &format!("logging.logs.{name}"))?);
        }
        Ok(Logging { loggers })
    }

    /// Only the default logger, as Caddy's before any config: standard
    /// error, the default encoder for it.
    pub fn default_only() -> Logging {
        let writer = Writer::stderr();
        Logging {
            loggers: vec![Logger {
                level: process::default_level(),
                include: Vec::new(),
                exclude: Vec::new(),
                encoder: Encoder::default_for(writer.terminal),
                writer,
                sampler: None,
            }],
        }
    }

    /// The lowest level any logger writes.
    pub fn lowest_level(&self) -> Level {
        self.loggers
            .iter()
            .map(|l| l.level)
            .min()
            .unwrap_or(Level::Info)
    }

    /// Whether an entry of `level` under `name` would be written anywhere.
    pub fn enabled(&self, name: &str, level: Level) -> bool {
        self.loggers.iter().any(|l| l.accepts(name, level))
    }

    /// Writes one entry to every logger that accepts it. `fields` is the
    /// inside of a JSON object.
    pub fn log(&self, name: &str, level: Level, msg: &str, fields: &str) {
        self.log_with(name, level, msg, fields, Writer::write)
    }

    /// Like [`Logging::log`], with standard streams written before it
    /// returns (process logs).
    pub fn log_now(&self, name: &str, level: Level, msg: &str, fields: &str) {
        self.log_with(name, level, msg, fields, Writer::write_now)
    }

    fn log_with(
        &self,
        name: &str,
        level: Level,
        msg: &str,
        fields: &str,
        write: fn(&Writer, Vec<u8>),
    ) {
        let now = SystemTime::now();
        let ns = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        for l in &self.loggers {
            if !l.accepts(name, level) || l.sampler.as_ref().is_some_and(|s| !s.admit(ns)) {
                continue;
            }
            let mut line = Vec::new();
            l.encoder.encode(&mut line, now, level, name, msg, fields);
            write(&l.writer, line);
        }
    }
}

fn module<'v>(
    obj: &'v Option<Map<String, Value>>,
    key: &str,
    ns: &str,
    p: &Provision<'_>,
    path: &str,
) -> Result<Option<(&'v str, Value)>, Error> {
    let Some(o) = obj else { return Ok(None) };
    let (name, _) = p.module_name(o, key, ns, path)?;
    Ok(Some((name, Value::Object(o.clone()))))
}

impl Logger {
    fn provision(c: &LogConfig, p: &Provision<'_>, path: &str) -> Result<Logger, Error> {
        let wpath = format!("{path}.writer");
        let writer = match module(&c.writer, "output", "caddy.logging.writers", p, &wpath)? {
            Some((out, v)) => Writer::provision(out, &v, &wpath)?,
            None => Writer::stderr(),
        };
        let epath = format!("{path}.encoder");
        let encoder = match module(&c.encoder, "format", "caddy.logging.encoders", p, &epath)? {
            Some((format, v)) => Encoder::provision(format, &v, &epath, writer.terminal)?,
            None => Encoder::default_for(writer.terminal),
        };
        if let Some(core) = &c.core {
            // `mock`, the one core of Caddy's standard build (for tests),
            // has no fields and adds nothing to the log's own core (in
            // Caddy it has no core inside and fails at the first entry).
            let cpath = format!("{path}.core");
            p.module_name(core, "module", "caddy.logging.cores", &cpath)?;
            if let Some(k) = core.keys().find(|k| *k != "module") {
                return Err(Error::config(format!("{cpath}.{k}"), "unknown field"));
            }
        }
        let level = match c.level.as_deref() {
            None | Some("") if path == "logging.logs.default" => process::default_level(),
            l => Level::parse(l.unwrap_or(""))
                .ok_or_else(|| Error::config(format!("{path}.level"), "unknown level"))?,
        };
        let sampler = match &c.sampling {
            Some(s) => {
                let s: SamplingConfig =
                    p.decode(&Value::Object(s.clone()), &format!("{path}.sampling"))?;
                Some(Sampler {
                    interval_ns: u64::try_from(s.interval.0.as_nanos())
                        .ok()
                        .filter(|n| *n > 0)
                        .unwrap_or(1_000_000_000),
                    first: if s.first == 0 { 100 } else { s.first },
                    thereafter: if s.thereafter == 0 { 100 } else { s.thereafter },
                    window: AtomicU64::new(0),
                    count: AtomicU64::new(0),
                })
            }
            None => None,
        };
        Ok(Logger {
            level,
            include: c.include.clone(),
            exclude: c.exclude.clone(),
            encoder,
            writer,
            sampler,
        })
    }

    fn accepts(&self, name: &str, level: Level) -> bool {
        level >= self.level && name_allowed(&self.include, &self.exclude, name)
    }
}

/// Whether `namespace` is `name` or one of its parents.
fn covers(namespace: &str, name: &str) -> bool {
    name.strip_prefix(namespace)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Caddy's include/exclude rule: the longest matching include must be
/// longer than the longest matching exclude (no includes: anything not
/// excluded). `*` excludes every module logger.
fn name_allowed(include: &[String], exclude: &[String], name: &str) -> bool {
    if include.is_empty() && exclude.is_empty() {
        return true;
    }
    let longest = |list: &[String]| {
        list.iter()
            .filter(|ns| covers(ns, name))
            .map(String::len)
            .max()
    };
    let accept = longest(include);
    if !include.is_empty() && accept.is_none() {
        return false;
    }
    if exclude.iter().any(|ns| ns == "*" && !name.is_empty()) {
        return false;
    }
    match (accept, longest(exclude)) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(r)) => a > r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_exclude_by_namespace() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(name_allowed(&[], &[], "http.log.access.a"));
        assert!(!name_allowed(
            &[],
            &s(&["http.log.access.a"]),
            "http.log.access.a"
        ));
        assert!(name_allowed(
            &[],
            &s(&["http.log.access.a"]),
            "http.log.access.ab"
        ));
        assert!(name_allowed(
            &s(&["http.log.access"]),
            &[],
            "http.log.access.x"
        ));
        assert!(!name_allowed(
            &s(&["http.log.access.x"]),
            &[],
            "http.log.access.y"
        ));
        let inc = s(&["http.log.access.x"]);
        assert!(name_allowed(&inc, &s(&["http.log"]), "http.log.access.x"));
        assert!(!name_allowed(
            &s(&["http"]),
            &s(&["http.log"]),
            "http.log.access"
        ));
    }

    #[test]
    fn sampling_passes_first_then_every_nth() {
        let s = Sampler {
            interval_ns: 1_000,
            first: 2,
            thereafter: 3,
            window: AtomicU64::new(0),
            count: AtomicU64::new(0),
        };
        let passed: Vec<bool> = (0..8).map(|_| s.admit(10)).collect();
        assert_eq!(passed, [true, true, true, false, false, true, false, false]);
        assert!(s.admit(5_000), "a new interval starts over");
    }
}
