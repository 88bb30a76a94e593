//! HTTP metrics in Prometheus' text format (Caddy's `caddy_http_*` names).
//!
//! When a config enables metrics (`apps.http.metrics`, or a `metrics`
//! handler anywhere in it), every handler is provisioned wrapped in
//! [`Instrumented`], which holds the [`Series`] of its server and module
//! name. The route interpreter enters the series when it runs the handler
//! ([`Metered::enter`]); the server finishes every entered series once the
//! response head is ready (status code, method, sizes) — so, as Caddy's
//! middleware wrappers do, a handler's duration runs from its entry to the
//! response, and an error fails every handler it passed through. All of
//! it is atomics in slots provisioned ahead: no lock and no map lookup
//! while serving. Durations end at the response head (a streamed body's
//! transfer is not included); the response size is the body's length when
//! known (its lower bound otherwise).
//!
//! The series live in [`Metrics`], a pool the runtime keeps across
//! reloads and keyed by `(server, handler)`, so counters keep counting
//! through config changes, as Caddy's process-wide registry does.
//! Without metrics enabled, handlers are not wrapped and nothing is
//! counted. With `per_host`, each handler has a series per host label
//! (`metrics/hosts.rs`, Caddy's cardinality protection).

pub mod hosts;
pub mod otlp;
mod series;

pub use series::{method_index, Metered, Outcome, Series, SeriesRef};

use super::{Cx, Handler, Step};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// `(server, handler, host)` → its series.
type SeriesMap = HashMap<(Box<str>, Box<str>, Option<Box<str>>), Arc<Series>>;

/// Every series, by `(server, handler, host)`.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<SeriesMap>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// A counter or gauge family: name, type, help, and its value in a series.
type Family = (&'static str, &'static str, &'static str, fn(&Series) -> i64);

impl Metrics {
    /// The series of `handler` in `server`, registered on first use.
    pub fn series(&self, server: &str, handler: &str) -> Arc<Series> {
        self.host_series(server, handler, None)
    }

    /// The series of `handler` in `server` for requests to `host` (per-host
    /// metrics), registered on first use.
    pub fn host_series(&self, server: &str, handler: &str, host: Option<&str>) -> Arc<Series> {
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        all.entry((server.into(), handler.into(), host.map(Into::into)))
            .or_insert_with(|| Arc::new(Series::new(server, handler, host)))
            .clone()
    }

    fn sorted(&self) -> Vec<Arc<Series>> {
        let mut all: Vec<Arc<Series>> = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| (&a.handler, &a.host, &a.server).cmp(&(&b.handler, &b.host, &b.server)));
        all
    }

    /// Renders every series; `openmetrics` selects the OpenMetrics text
    /// format (counter family names without `_total`, `# EOF`).
    pub fn render(&self, openmetrics: bool) -> String {
        let mut out = String::new();
        self.render_into(&mut out, openmetrics);
        if openmetrics {
            out.push_str("# EOF\n");
        }
        out
    }

    /// Appends every family to `out` (without OpenMetrics' `# EOF`).
    pub fn render_into(&self, out: &mut String, openmetrics: bool) {
        let all = self.sorted();
        let families: [Family; 3] = [
            (
                "caddy_http_requests_in_flight",
                "gauge",
                "Number of requests currently handled by this server.",
                |s| s.in_flight.load(Ordering::Relaxed),
            ),
            (
                "caddy_http_request_errors_total",
                "counter",
                "Number of requests resulting in middleware errors.",
                |s| s.errors.load(Ordering::Relaxed) as i64,
            ),
            (
                "caddy_http_requests_total",
                "counter",
                "Counter of HTTP(S) requests made.",
                |s| s.requests.load(Ordering::Relaxed) as i64,
            ),
        ];
        for (name, kind, help, value) in families {
            header(out, name, kind, help, openmetrics);
            for s in &all {
                let _ = writeln!(
                    out,
                    "{name}{{handler=\"{}\",{}server=\"{}\"}} {}",
                    escape(&s.handler),
                    host_label(s),
                    escape(&s.server),
                    value(s)
                );
            }
        }
        histograms(out, &all, openmetrics);
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str, openmetrics: bool) {
    let family = if openmetrics && kind == "counter" {
        name.trim_end_matches("_total")
    } else {
        name
    };
    let _ = writeln!(out, "# HELP {family} {help}");
    let _ = writeln!(out, "# TYPE {family} {kind}");
}

/// The duration and size histograms, per code, handler, method, server.
fn histograms(out: &mut String, all: &[Arc<Series>], openmetrics: bool) {
    type Pick = fn(&series::Observed) -> ([u64; 11], u64, f64);
    let families: [(&str, &str, Pick); 3] = [
        (
            "caddy_http_request_duration_seconds",
            "Histogram of round-trip request durations.",
            |o| {
                let (b, n, sum) = o.duration.snapshot();
                (b, n, sum as f64 / 1e9)
            },
        ),
        (
            "caddy_http_request_size_bytes",
            "Total size of the request. Includes body",
            |o| widen(o.request_size.snapshot()),
        ),
        (
            "caddy_http_response_size_bytes",
            "Size of the returned response.",
            |o| widen(o.response_size.snapshot()),
        ),
    ];
    for (i, (name, help, pick)) in families.into_iter().enumerate() {
        header(out, name, "histogram", help, openmetrics);
        let bounds: &[f64] = if i == 0 {
            &series::DURATION_BUCKETS
        } else {
            &series::SIZE_BUCKETS
        };
        for s in all {
            let (h, host, srv) = (escape(&s.handler), host_label(s), escape(&s.server));
            s.each_observed(|method, code, o| {
                let labels = format!(
                    "code=\"{code}\",handler=\"{h}\",{host}method=\"{method}\",server=\"{srv}\""
                );
                let (buckets, count, sum) = pick(o);
                for (b, le) in buckets.iter().zip(bounds) {
                    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {b}");
                }
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
                let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
                let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
            });
        }
    }
}

/// A size histogram's snapshot in the duration one's shape (unused
/// buckets are past `SIZE_BUCKETS` and not printed).
fn widen((b, n, sum): ([u64; 8], u64, u64)) -> ([u64; 11], u64, f64) {
    let mut w = [0; 11];
    w[..8].copy_from_slice(&b);
    (w, n, sum as f64)
}

/// `host="…",` for a per-host series, else nothing (labels go in
/// alphabetical order, as Prometheus' Go client prints them).
fn host_label(s: &Series) -> String {
    s.host
        .as_deref()
        .map_or(String::new(), |h| format!("host=\"{}\",", escape(h)))
}

/// Escapes a label value (backslash, quote, newline).
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A handler with the series it is counted in; the route interpreter
/// enters it (see [`Handler::series`]).
pub struct Instrumented {
    inner: Box<dyn Handler>,
    series: Counted,
}

/// Where an instrumented handler counts.
enum Counted {
    One(Arc<Series>),
    PerHost(hosts::HostSeries),
}

impl Instrumented {
    /// Wraps `inner`, counting into `series`.
    pub fn wrap(inner: Box<dyn Handler>, series: Arc<Series>) -> Box<dyn Handler> {
        Box::new(Instrumented {
            inner,
            series: Counted::One(series),
        })
    }

    /// Wraps `inner`, counting into a series per host label.
    pub fn per_host(inner: Box<dyn Handler>, series: hosts::HostSeries) -> Box<dyn Handler> {
        Box::new(Instrumented {
            inner,
            series: Counted::PerHost(series),
        })
    }
}

impl Handler for Instrumented {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        self.inner.handle(cx)
    }

    fn series(&self, cx: &Cx<'_>) -> Option<SeriesRef<'_>> {
        Some(match &self.series {
            Counted::One(s) => SeriesRef::Borrowed(s),
            Counted::PerHost(h) => h.for_request(cx),
        })
    }

    super::forward_handler!(inner);
}

/// Finishes the handlers `cx` entered with the response's `status` and
/// body size; `failed` when the handlers' chain returned an error.
pub fn finish(cx: &mut Cx<'_>, status: http::StatusCode, response_size: u64, failed: bool) {
    if cx.metered.is_empty() {
        return;
    }
    let outcome = Outcome {
        method: method_index(&cx.orig_method),
        code: status.as_u16(),
        request_size: request_size(cx),
        response_size,
        failed,
    };
    cx.metered.finish(outcome);
}

/// The size of a request as Prometheus' Go client estimates it: URI,
/// method, protocol, header names and values, host, and the body's
/// declared length.
fn request_size(cx: &Cx<'_>) -> u64 {
    let p = &cx.parts;
    let proto = match p.version {
        http::Version::HTTP_2 => "HTTP/2.0".len(),
        http::Version::HTTP_3 => "HTTP/3.0".len(),
        _ => "HTTP/1.1".len(),
    };
    let headers: usize = p
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    let body = p
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(0);
    let uri = cx
        .orig_uri
        .path_and_query()
        .map_or(1, |pq| pq.as_str().len());
    (uri + p.method.as_str().len() + proto + headers + cx.hostport().len()) as u64 + body
}

/// Whether a JSON value holds a handler object of module `name` anywhere
/// (`{"handler": "metrics", ...}`), to decide whether to collect metrics.
pub fn mentions_handler(v: &serde_json::Value, name: &str) -> bool {
    match v {
        // One pass over the entries (no key hashing per object): the
        // whole config is walked on each load.
        serde_json::Value::Object(o) => o.iter().any(|(k, x)| {
            (k == "handler" && x.as_str() == Some(name)) || mentions_handler(x, name)
        }),
        serde_json::Value::Array(a) => a.iter().any(|x| mentions_handler(x, name)),
        _ => false,
    }
}
