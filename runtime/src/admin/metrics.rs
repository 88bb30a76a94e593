//! `GET /metrics`: Prometheus text format.
//!
//! Reloads (count, failures, last outcome and its time, time spent),
//! admin requests by path, method and code, open HTTP connections, the
//! serving config's HTTP metrics (`caddy_http_*`, when it collects them),
//! upstream health, and the process figures Prometheus clients usually export (resident
//! memory, open and maximum file descriptors, CPU time, start time),
//! read from `/proc/self`.

use super::lock;
use crate::app::Runtime;
use http::StatusCode;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Counters of one admin API.
#[derive(Default)]
pub struct Metrics {
    reloads: AtomicU64,
    failures: AtomicU64,
    last_failed: AtomicBool,
    last_success_unix: AtomicU64,
    reload_nanos: AtomicU64,
    requests: Mutex<BTreeMap<(&'static str, String, u16), u64>>,
}

impl Metrics {
    /// Records a successful config change that took `took`.
    pub fn reload_succeeded(&self, took: Duration) {
        self.reloads.fetch_add(1, Ordering::Relaxed);
        self.reload_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        self.last_failed.store(false, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_success_unix.store(now, Ordering::Relaxed);
    }

    /// Records a config change that failed.
    pub fn reload_failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.last_failed.store(true, Ordering::Relaxed);
    }

    /// Counts an admin request.
    pub fn count_request(&self, path: &'static str, method: &str, code: StatusCode) {
        *lock(&self.requests)
            .entry((path, method.to_string(), code.as_u16()))
            .or_default() += 1;
    }

    /// The exposition text.
    pub fn render(&self, runtime: &Runtime) -> String {
        let mut out = String::new();
        let reloads = self.reloads.load(Ordering::Relaxed);
        let secs = self.reload_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        gauge(
            &mut out,
            "bellhop_config_reloads_total",
            "counter",
            "Successful config loads.",
            reloads as f64,
        );
        gauge(
            &mut out,
            "bellhop_config_reload_failures_total",
            "counter",
            "Config loads that failed (the running config was kept).",
            self.failures.load(Ordering::Relaxed) as f64,
        );
        gauge(
            &mut out,
            "bellhop_config_reload_seconds_total",
            "counter",
            "Time spent in successful config loads.",
            secs,
        );
        let ok = !self.last_failed.load(Ordering::Relaxed);
        gauge(
            &mut out,
            "caddy_config_last_reload_successful",
            "gauge",
            "Whether the last configuration reload attempt was successful.",
            if ok { 1.0 } else { 0.0 },
        );
        gauge(
            &mut out,
            "caddy_config_last_reload_success_timestamp_seconds",
            "gauge",
            "Timestamp of the last successful configuration reload.",
            self.last_success_unix.load(Ordering::Relaxed) as f64,
        );
        gauge(
            &mut out,
            "bellhop_http_open_connections",
            "gauge",
            "Open client connections of the HTTP servers.",
            runtime.open_connections() as f64,
        );
        self.render_requests(&mut out);
        runtime.render_http_metrics(&mut out);
        upstreams(&mut out);
        process(&mut out);
        out
    }

    fn render_requests(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP caddy_admin_http_requests_total Requests handled by the admin endpoint."
        );
        let _ = writeln!(out, "# TYPE caddy_admin_http_requests_total counter");
        for ((path, method, code), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "caddy_admin_http_requests_total{{code=\"{code}\",handler=\"admin\",method=\"{method}\",path=\"{path}\"}} {n}"
            );
        }
    }
}

/// `caddy_reverse_proxy_upstreams_healthy`: 1 for each upstream in use
/// that active health checks have not marked down, 0 otherwise.
fn upstreams(out: &mut String) {
    let list = crate::http::handlers::reverse_proxy::upstreams_status();
    let name = "caddy_reverse_proxy_upstreams_healthy";
    let _ = writeln!(
        out,
        "# HELP {name} Health status of reverse proxy upstreams."
    );
    let _ = writeln!(out, "# TYPE {name} gauge");
    for u in list {
        let _ = writeln!(
            out,
            "{name}{{upstream=\"{}\"}} {}",
            crate::http::metrics::escape(&u.address),
            u8::from(u.healthy)
        );
    }
}

fn gauge(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

/// Standard process figures from `/proc/self`.
fn process(out: &mut String) {
    const PAGE: f64 = 4096.0;
    const TICKS: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    if let (Some(u), Some(s)) = (field(14), field(15)) {
        gauge(
            out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            (u + s) / TICKS,
        );
    }
    if let Some(rss) = field(24) {
        gauge(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            rss * PAGE,
        );
    }
    if let Some(vsz) = field(23) {
        gauge(
            out,
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            vsz,
        );
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        gauge(
            out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            dir.count() as f64,
        );
    }
    if let Some(max) = max_fds() {
        gauge(
            out,
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            max,
        );
    }
    if let (Some(start), Some(btime)) = (field(22), boot_time()) {
        gauge(
            out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            btime + start / TICKS,
        );
    }
}

fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    line[6..].trim().parse().ok()
}
