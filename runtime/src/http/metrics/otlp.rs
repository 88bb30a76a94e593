//! `apps.http.metrics.otlp`: the HTTP metrics pushed over OTLP as well as
//! scraped, as Caddy 2.11 bridges its Prometheus registry: every
//! `OTEL_METRIC_EXPORT_INTERVAL` (ms, default 60 s) the metrics are read
//! in Prometheus' text form and sent as OTLP (`util/otlp.rs`, `metrics`
//! signal, `OTEL_*` as there; `OTEL_METRICS_EXPORTER=none` turns it off):
//! counters as cumulative monotonic sums, gauges as gauges, histograms as
//! cumulative explicit-bucket histograms, labels as attributes. A failed
//! push is logged once until one succeeds again.

use super::Metrics;
use crate::util::otlp::wire::{
    bytes, double, fixed64, key_value, message, nanos, resource, scope, tag, uint, varint, Value,
};
use crate::util::otlp::{self, env, Endpoint};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

/// Starts pushing `metrics`; the task ends when the handle is dropped.
pub fn start(metrics: Arc<Metrics>) -> Option<tokio::task::AbortHandle> {
    let endpoint = match otlp::endpoint("metrics") {
        Ok(Some(e)) => e,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(target: "http.metrics", error = %e, "metrics will not be pushed over OTLP");
            return None;
        }
    };
    let interval = env("OTEL_METRIC_EXPORT_INTERVAL")
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(60), Duration::from_millis)
        .max(Duration::from_millis(1));
    Some(tokio::spawn(push(metrics, endpoint, interval)).abort_handle())
}

async fn push(metrics: Arc<Metrics>, endpoint: Endpoint, interval: Duration) {
    static START: OnceLock<SystemTime> = OnceLock::new();
    let start = *START.get_or_init(SystemTime::now);
    let res = otlp::resource();
    let mut failing = false;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tick.tick().await;
        let mut text = String::new();
        metrics.render_into(&mut text, false);
        let body = export_request(&res, &parse(&text), start, SystemTime::now());
        match otlp::post(&endpoint, body).await {
            Ok(()) => failing = false,
            Err(e) if !std::mem::replace(&mut failing, true) => {
                tracing::warn!(target: "http.metrics", endpoint = %endpoint.uri, error = %e, "pushing metrics over OTLP failed");
            }
            Err(_) => {}
        }
    }
}

#[derive(Debug, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    kind: Kind,
    samples: Vec<Sample>,
}

/// Reads Prometheus' text format (as `Metrics::render_into` writes it).
fn parse(text: &str) -> Vec<Family> {
    let mut out: Vec<Family> = Vec::new();
    let mut help = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = rest.split_once(' ').map_or("", |(_, h)| h).to_string();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let kind = match kind {
                "counter" => Kind::Counter,
                "histogram" => Kind::Histogram,
                _ => Kind::Gauge,
            };
            out.push(Family {
                name: name.to_string(),
                help: std::mem::take(&mut help),
                kind,
                samples: Vec::new(),
            });
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            if let (Some(s), Some(f)) = (sample(line), out.last_mut()) {
                f.samples.push(s);
            }
        }
    }
    out
}

fn sample(line: &str) -> Option<Sample> {
    let (head, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match head.split_once('{') {
        Some((n, rest)) => (n, labels(rest.strip_suffix('}')?)),
        None => (head, Vec::new()),
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `a="x",b="y \"q\""` → pairs, escapes undone.
fn labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((key.trim_start_matches(',').trim().to_string(), value));
        rest = &after[end..];
    }
    out
}

fn attributes(out: &mut Vec<u8>, field: u32, labels: &[(String, String)]) {
    for (k, v) in labels.iter().filter(|(k, _)| k != "le") {
        key_value(out, field, k, &Value::Str(v.clone()));
    }
}

fn packed(out: &mut Vec<u8>, field: u32, values: impl Iterator<Item = u64>) {
    let data: Vec<u8> = values.flat_map(u64::to_le_bytes).collect();
    tag(out, field, 2);
    varint(out, data.len() as u64);
    out.extend(data);
}

/// `NumberDataPoint { attributes 7, start 2, time 3, as_double 4 }`.
fn number_point(out: &mut Vec<u8>, s: &Sample, (start, now): (u64, u64)) {
    message(out, 1, |p| {
        attributes(p, 7, &s.labels);
        fixed64(p, 2, start);
        fixed64(p, 3, now);
        double(p, 4, s.value);
    });
}

/// `HistogramDataPoint { attributes 9, start 2, time 3, count 4, sum 5,
/// bucket_counts 6, explicit_bounds 7 }` for each label set.
fn histogram_points(out: &mut Vec<u8>, f: &Family, times: (u64, u64)) {
    let key = |s: &Sample| -> Vec<(String, String)> {
        s.labels
            .iter()
            .filter(|(k, _)| k != "le")
            .cloned()
            .collect()
    };
    let mut sets: Vec<Vec<(String, String)>> = Vec::new();
    for s in &f.samples {
        let k = key(s);
        if !sets.contains(&k) {
            sets.push(k);
        }
    }
    for set in sets {
        let of = |suffix: &str| -> Vec<&Sample> {
            let name = format!("{}{suffix}", f.name);
            f.samples
                .iter()
                .filter(|s| s.name == name && key(s) == set)
                .collect()
        };
        let mut buckets: Vec<(f64, f64)> = of("_bucket")
            .into_iter()
            .filter_map(|s| {
                let le = s.labels.iter().find(|(k, _)| k == "le")?.1.as_str();
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((bound, s.value))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let count = of("_count").first().map_or(0.0, |s| s.value);
        let sum = of("_sum").first().map_or(0.0, |s| s.value);
        message(out, 1, |p| {
            attributes(p, 9, &set);
            fixed64(p, 2, times.0);
            fixed64(p, 3, times.1);
            fixed64(p, 4, count as u64);
            double(p, 5, sum);
            // Prometheus' buckets are cumulative, OTLP's are not; the last
            // OTLP bucket is above the last bound.
            let bounds: Vec<f64> = buckets
                .iter()
                .map(|b| b.0)
                .filter(|b| b.is_finite())
                .collect();
            let mut prev = 0.0;
            let mut counts: Vec<u64> = Vec::new();
            for (_, c) in &buckets {
                counts.push((c - prev).max(0.0) as u64);
                prev = *c;
            }
            if buckets.last().is_none_or(|b| b.0.is_finite()) {
                counts.push((count - prev).max(0.0) as u64);
            }
            packed(p, 6, counts.into_iter());
            packed(p, 7, bounds.iter().map(|b| b.to_bits()));
        });
    }
}

/// `Metric { name 1, description 2, gauge 5 | sum 7 | histogram 9 }`;
/// sums and histograms cumulative (`aggregation_temporality` 2 = 2), sums
/// monotonic (3).
fn metric(out: &mut Vec<u8>, f: &Family, times: (u64, u64)) {
    message(out, 2, |m| {
        bytes(m, 1, f.name.as_bytes());
        bytes(m, 2, f.help.as_bytes());
        match f.kind {
            Kind::Gauge => message(m, 5, |g| {
                for s in &f.samples {
                    number_point(g, s, times);
                }
            }),
            Kind::Counter => message(m, 7, |sum| {
                for s in &f.samples {
                    number_point(sum, s, times);
                }
                uint(sum, 2, 2);
                uint(sum, 3, 1);
            }),
            Kind::Histogram => message(m, 9, |h| {
                histogram_points(h, f, times);
                uint(h, 2, 2);
            }),
        }
    });
}

/// `ExportMetricsServiceRequest { resource_metrics 1 { resource 1,
/// scope_metrics 2 { scope 1, metrics 2 } } }`.
fn export_request(
    res: &[(String, Value)],
    families: &[Family],
    start: SystemTime,
    now: SystemTime,
) -> Vec<u8> {
    let times = (nanos(start), nanos(now));
    let mut out = Vec::new();
    message(&mut out, 1, |rm| {
        resource(rm, 1, res);
        message(rm, 2, |sm| {
            scope(sm, 1);
            for f in families.iter().filter(|f| !f.samples.is_empty()) {
                metric(sm, f, times);
            }
        });
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_is_read_into_families() {
        let text = "# HELP c_total Count.\n# TYPE c_total counter\nc_total{a=\"x\",b=\"q \\\"y\\\"\"} 3\n\
                    # HELP h Lat.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 4\nh_sum 2.5\nh_count 4\n";
        let f = parse(text);
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].name.as_str(), &f[0].kind, f[0].help.as_str()),
            ("c_total", &Kind::Counter, "Count.")
        );
        assert_eq!(
            f[0].samples[0].labels,
            vec![("a".into(), "x".into()), ("b".into(), "q \"y\"".into())]
        );
        assert_eq!(f[0].samples[0].value, 3.0);
        assert_eq!(
            (f[1].kind == Kind::Histogram, f[1].samples.len()),
            (true, 4)
        );
        assert!(!export_request(&[], &f, SystemTime::now(), SystemTime::now()).is_empty());
    }
}
