//! Process logs as Caddy writes them: every `tracing` event becomes an
//! entry of the `logging` app, written by each logger that accepts it,
//! so `logs.default` (and any logger that includes it) decides where
//! bellhop's own messages go, how they are encoded and from which level,
//! as zap does for Caddy: JSON to standard error by default, the console
//! format on a terminal.
//!
//! The logger name of an event is Caddy's for the part of bellhop it comes
//! from (`admin.api`, `http.auto_https`, `tls.obtain`, …; the command's
//! own messages on the root logger, with no name, as Caddy's), or its
//! target where that is a logger name already (`target: "tls.renew"`);
//! another crate's events are named by its module path, with dots;
//! its fields become the entry's fields (numbers and booleans as JSON
//! values, anything else as a string).
//!
//! [`ProcessLogs`] is the process's `tracing` subscriber. It follows the
//! running config's loggers ([`follow`], called when a config goes live);
//! before any config, the default logger alone. Callsites below every
//! logger's level are switched off in `tracing` itself, so a disabled
//! `debug!` costs what `tracing` makes it cost.

use super::{Level, Logging};
use arc_swap::ArcSwapOption;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata};

/// The running config's loggers.
static CURRENT: ArcSwapOption<Logging> = ArcSwapOption::const_empty();
/// The lowest level any of them writes (a `Level` as u8).
static FLOOR: AtomicU8 = AtomicU8::new(Level::Info as u8);
/// The default logger's level when the config names none (`BELLHOP_LOG`).
static DEFAULT_LEVEL: AtomicU8 = AtomicU8::new(u8::MAX);

/// Sends process logs to `logging`'s loggers from now on.
pub fn follow(logging: &Arc<Logging>) {
    if CURRENT
        .load()
        .as_ref()
        .is_some_and(|c| Arc::ptr_eq(c, logging))
    {
        return;
    }
    FLOOR.store(logging.lowest_level() as u8, Ordering::Release);
    CURRENT.store(Some(logging.clone()));
    tracing::callsite::rebuild_interest_cache();
}

/// The level of the default logger where the config sets none (the
/// binary's `BELLHOP_LOG`); `None`: INFO, as Caddy's.
pub fn set_default_level(level: Option<Level>) {
    DEFAULT_LEVEL.store(level.map_or(u8::MAX, |l| l as u8), Ordering::Release);
    if CURRENT.load().is_none() {
        // Before any config, the default logger is all there is.
        FLOOR.store(default_level() as u8, Ordering::Release);
        tracing::callsite::rebuild_interest_cache();
    }
}

/// The default logger's level where the config leaves it unset.
pub(super) fn default_level() -> Level {
    match DEFAULT_LEVEL.load(Ordering::Acquire) {
        u8::MAX => Level::Info,
        n => LEVELS.get(n as usize).copied().unwrap_or(Level::Info),
    }
}

const LEVELS: [Level; 6] = [
    Level::Debug,
    Level::Info,
    Level::Warn,
    Level::Error,
    Level::Panic,
    Level::Fatal,
];

fn level_of(meta: &Metadata<'_>) -> Level {
    match *meta.level() {
        tracing::Level::TRACE | tracing::Level::DEBUG => Level::Debug,
        tracing::Level::INFO => Level::Info,
        tracing::Level::WARN => Level::Warn,
        _ => Level::Error,
    }
}

/// The loggers events go to: the config's, or the defaults before one.
fn loggers() -> Arc<Logging> {
    static BEFORE: OnceLock<Arc<Logging>> = OnceLock::new();
    match CURRENT.load_full() {
        Some(l) => l,
        None => BEFORE
            .get_or_init(|| Arc::new(Logging::default_only()))
            .clone(),
    }
}

/// Caddy's logger names for the runtime's modules (longest prefix wins).
const RUNTIME_NAMES: &[(&str, &str)] = &[
    ("admin", "admin"),
    ("admin::change", "admin.api"),
    ("admin::routes", "admin.api"),
    ("admin::upgrade", "admin.api"),
    ("admin::persist", ""),
    ("admin::loader", "caddy.config_loaders"),
    ("app", ""),
    ("instance", ""),
    ("http", "http"),
    ("http::autohttps", "http.auto_https"),
    ("http::handlers", "http.handlers"),
    (
        "http::handlers::authentication",
        "http.handlers.authentication",
    ),
    ("http::handlers::file_server", "http.handlers.file_server"),
    ("http::handlers::header_ops", "http.handlers.headers"),
    (
        "http::handlers::reverse_proxy",
        "http.handlers.reverse_proxy",
    ),
    (
        "http::handlers::reverse_proxy::health",
        "http.handlers.reverse_proxy.health_checker.active",
    ),
    (
        "http::handlers::reverse_proxy::transport_fastcgi",
        "http.reverse_proxy.transport.fastcgi",
    ),
    ("listeners", "caddy.listeners"),
    ("logging", "logging"),
    ("tls", "tls"),
    ("tls::acme", "tls.issuance.acme"),
    ("tls::automate", "tls.obtain"),
    ("tls::challenge", "tls.issuance.acme.acme_client"),
    ("tls::ocsp", "tls.cache.maintenance"),
    ("tls::on_demand", "tls.on_demand"),
    ("tls::pki", "pki.ca.local"),
    ("tls::storage", "caddy.storage"),
    ("tls::storage::redis", "caddy.storage.redis"),
];

/// The binary's: the command's own messages go to the root logger, as
/// Caddy's `cmd` package writes them.
const BINARY_NAMES: &[(&str, &str)] = &[
    ("", ""),
    ("storage", "storage"),
    ("upgrade", "upgrade"),
    ("workers", "workers"),
];

/// The logger name of an event from `target`: Caddy's name for the module
/// it comes from, a target that is already a logger name (`tls.renew`) as
/// it is, another crate's module path with dots.
pub fn logger_name(target: &str) -> &str {
    let (table, inner) = if let Some(m) = target.strip_prefix("bellhop_runtime::") {
        (RUNTIME_NAMES, m)
    } else if let Some(m) = target.strip_prefix("bellhop::") {
        (BINARY_NAMES, m)
    } else if target == "bellhop" {
        (BINARY_NAMES, "")
    } else {
        return target;
    };
    let covers = |prefix: &str| {
        prefix.is_empty()
            || inner
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    };
    table
        .iter()
        .filter(|(prefix, _)| covers(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map_or(inner, |(_, name)| name)
}

/// The process's `tracing` subscriber (see the module's documentation).
pub struct ProcessLogs;

impl ProcessLogs {
    fn wanted(meta: &Metadata<'_>) -> bool {
        level_of(meta) as u8 >= FLOOR.load(Ordering::Acquire)
    }
}

impl tracing::Subscriber for ProcessLogs {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        match Self::wanted(meta) {
            true => Interest::always(),
            false => Interest::never(),
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        Self::wanted(meta)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        use tracing::level_filters::LevelFilter;
        Some(match FLOOR.load(Ordering::Acquire) {
            0 => LevelFilter::TRACE,
            1 => LevelFilter::INFO,
            2 => LevelFilter::WARN,
            _ => LevelFilter::ERROR,
        })
    }

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let level = level_of(meta);
        let target = meta.target();
        let name = match target.contains("::") && !target.starts_with("bellhop") {
            true => std::borrow::Cow::Owned(target.replace("::", ".")),
            false => std::borrow::Cow::Borrowed(logger_name(target)),
        };
        let logging = loggers();
        if !logging.enabled(&name, level) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        logging.log_now(&name, level, &fields.msg, &fields.json);
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// An event's message and its other fields, as the inside of a JSON
/// object.
#[derive(Default)]
struct Fields {
    msg: String,
    json: String,
}

impl Fields {
    fn key(&mut self, field: &Field) {
        if !self.json.is_empty() {
            self.json.push(',');
        }
        super::encoder::json_str(&mut self.json, field.name());
        self.json.push(':');
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = value.to_string();
            return;
        }
        self.key(field);
        super::encoder::json_str(&mut self.json, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        self.record_str(field, &text);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.json, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.json, "{value}");
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        match value.is_finite() {
            true => {
                self.key(field);
                let _ = write!(self.json, "{value}");
            }
            false => self.record_str(field, &value.to_string()),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.json.push_str(if value { "true" } else { "false" });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let text = value.to_string();
        self.record_str(field, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logger_names_as_caddys() {
        let cases = [
            ("bellhop_runtime::tls::acme", "tls.issuance.acme"),
            (
                "bellhop_runtime::tls::storage::redis::conn",
                "caddy.storage.redis",
            ),
            ("bellhop_runtime::tls::clean", "tls"),
            ("bellhop_runtime::admin::server", "admin"),
            ("bellhop_runtime::admin::change", "admin.api"),
            ("bellhop_runtime::admin::persist", ""),
            ("bellhop_runtime::http::autohttps", "http.auto_https"),
            ("bellhop_runtime::http::serve_threads::policy", "http"),
            (
                "bellhop_runtime::http::handlers::reverse_proxy::health",
                "http.handlers.reverse_proxy.health_checker.active",
            ),
            ("bellhop_runtime::httpish", "httpish"),
            ("bellhop::run", ""),
            ("bellhop", ""),
            ("bellhop::workers::supervisor", "workers"),
            ("tls.renew", "tls.renew"),
        ];
        for (target, want) in cases {
            assert_eq!(logger_name(target), want, "{target}");
        }
    }
}
