//! HTTP metrics in Prometheus' text format (Caddy's `caddy_http_*` names).
//!
//! When a config enables metrics (`apps.http.metrics`, or a `metrics`
//! handler anywhere in it), every handler is provisioned wrapped in
//! [`Instrumented`], which counts the requests it handles and the errors
//! it returns, per server and handler module, in atomics: no lock and no
//! map lookup when serving. The series are registered while provisioning;
//! the `metrics` handler renders them. Counters belong to a loaded config
//! and restart from zero when another config is loaded. Without metrics
//! enabled, handlers are not wrapped and nothing is counted.

use super::routes::RouteList;
use super::{BoxFuture, Cx, Flow, Handler, Response, Step};
use crate::error::HttpError;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The counters of one handler of one server.
#[derive(Debug)]
pub struct Series {
    server: String,
    handler: String,
    requests: AtomicU64,
    errors: AtomicU64,
}

/// A counter family: name, help text, and how to read it from a series.
type Family = (&'static str, &'static str, fn(&Series) -> u64);

/// Every series of a config.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<Vec<Arc<Series>>>,
}

impl Metrics {
    /// The series of `handler` in `server`, registered on first use.
    pub fn series(&self, server: &str, handler: &str) -> Arc<Series> {
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = all
            .iter()
            .find(|s| s.server == server && s.handler == handler)
        {
            return s.clone();
        }
        let s = Arc::new(Series {
            server: server.to_string(),
            handler: handler.to_string(),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        });
        all.push(s.clone());
        s
    }

    /// Renders every series; `openmetrics` selects the OpenMetrics text
    /// format (counter family names without `_total`, `# EOF`).
    pub fn render(&self, openmetrics: bool) -> String {
        let mut all: Vec<Arc<Series>> = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        all.sort_by(|a, b| (&a.server, &a.handler).cmp(&(&b.server, &b.handler)));
        let mut out = String::new();
        let families: [Family; 2] = [
            (
                "caddy_http_requests_total",
                "Counter of HTTP(S) requests made.",
                |s| s.requests.load(Ordering::Relaxed),
            ),
            (
                "caddy_http_request_errors_total",
                "Number of requests resulting in middleware errors.",
                |s| s.errors.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in families {
            let family = if openmetrics {
                name.trim_end_matches("_total")
            } else {
                name
            };
            let _ = writeln!(out, "# HELP {family} {help}");
            let _ = writeln!(out, "# TYPE {family} counter");
            for s in &all {
                let _ = writeln!(
                    out,
                    "{name}{{handler=\"{}\",server=\"{}\"}} {}",
                    escape(&s.handler),
                    escape(&s.server),
                    value(s)
                );
            }
        }
        if openmetrics {
            out.push_str("# EOF\n");
        }
        out
    }
}

/// Escapes a label value (backslash, quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A handler whose requests and errors are counted.
pub struct Instrumented {
    inner: Box<dyn Handler>,
    series: Arc<Series>,
}

impl Instrumented {
    /// Wraps `inner`, counting into `series`.
    pub fn wrap(inner: Box<dyn Handler>, series: Arc<Series>) -> Box<dyn Handler> {
        Box::new(Instrumented { inner, series })
    }
}

impl Handler for Instrumented {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        self.series.requests.fetch_add(1, Ordering::Relaxed);
        let step = self.inner.handle(cx);
        if matches!(step, Step::Fail(_)) {
            self.series.errors.fetch_add(1, Ordering::Relaxed);
        }
        step
    }

    fn handle_async<'s>(&'s self, cx: &'s mut Cx<'_>) -> BoxFuture<'s, Result<Flow, HttpError>> {
        let fut = self.inner.handle_async(cx);
        Box::pin(async move {
            let r = fut.await;
            if r.is_err() {
                self.series.errors.fetch_add(1, Ordering::Relaxed);
            }
            r
        })
    }

    fn routes(&self) -> Option<&RouteList> {
        self.inner.routes()
    }

    fn error_routes(&self) -> Option<&RouteList> {
        self.inner.error_routes()
    }

    fn on_response(&self, cx: &Cx<'_>, response: Response) -> Response {
        self.inner.on_response(cx, response)
    }

    fn cleanup(&self) {
        self.inner.cleanup();
    }
}

/// Whether a JSON value holds a handler object of module `name` anywhere
/// (`{"handler": "metrics", ...}`), to decide whether to collect metrics.
pub fn mentions_handler(v: &serde_json::Value, name: &str) -> bool {
    match v {
        serde_json::Value::Object(o) => {
            o.get("handler").and_then(|h| h.as_str()) == Some(name)
                || o.values().any(|x| mentions_handler(x, name))
        }
        serde_json::Value::Array(a) => a.iter().any(|x| mentions_handler(x, name)),
        _ => false,
    }
}
