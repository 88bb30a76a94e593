//! Captures the runtime's warnings and errors from the HTTP/3 and TLS
//! modules in memory: a global tracing subscriber, installed once, that is
//! enabled for those events only (every other call site stays disabled).

#![allow(dead_code)]

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::{span, Event, Level, Metadata, Subscriber};

const TARGETS: [&str; 2] = ["bellhop_runtime::http::h3", "bellhop_runtime::tls"];
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        TARGETS.iter().any(|t| m.target().starts_with(t)) && *m.level() <= Level::WARN
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut line = Line(format!(
            "{} {}",
            e.metadata().level(),
            e.metadata().target()
        ));
        e.record(&mut line);
        LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line.0);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// Installs the capture (once per test binary).
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture)
            .expect("no other global tracing subscriber in the e2e tests");
    });
}

/// The captured lines containing every one of `parts`.
pub fn lines_with(parts: &[&str]) -> Vec<String> {
    LINES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .cloned()
        .collect()
}
