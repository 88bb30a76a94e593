//! The counters of one handler of one server ([`Series`]) and what one
//! request records into them ([`Metered`]).
//!
//! Everything a request touches is an atomic: the request, error and
//! in-flight counters, and the histograms of durations and sizes per
//! method and status code. Those live in a small open-addressed table of
//! slots keyed by `(method, code)`; a slot's histograms are allocated
//! the first time its key is seen, so after warm-up a request neither
//! locks nor allocates. Past [`SLOTS`] distinct keys (which needs more
//! than 32 status codes through one handler), further keys go to a
//! locked overflow list.

use smallvec::SmallVec;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Slots per series before the overflow list.
pub const SLOTS: usize = 32;

/// Prometheus' default duration buckets, in seconds.
pub const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Caddy's size buckets: 256 × 4ⁿ bytes, eight of them.
pub const SIZE_BUCKETS: [f64; 8] = [
    256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
];

/// Methods with their own label; the rest are `OTHER` (Caddy's
/// `SanitizeMethod`).
pub const METHODS: [&str; 10] = [
    "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER",
];

/// The label index of a method.
pub fn method_index(m: &http::Method) -> u32 {
    let name = m.as_str();
    METHODS[..9]
        .iter()
        .position(|x| x.eq_ignore_ascii_case(name))
        .unwrap_or(9) as u32
}

/// A histogram: per-bucket counts (not cumulative), the count and the sum
/// in the unit `scale` turns into the exposed one.
pub struct Histogram<const N: usize> {
    buckets: [AtomicU64; N],
    count: AtomicU64,
    sum: AtomicU64,
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }
}

impl<const N: usize> Histogram<N> {
    /// Records `raw` (in the stored unit); `value` is it in the exposed
    /// unit, compared with the bucket bounds.
    fn observe(&self, bounds: &[f64; N], raw: u64, value: f64) {
        if let Some(i) = bounds.iter().position(|b| value <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(raw, Ordering::Relaxed);
    }

    /// Cumulative bucket counts, the count and the raw sum.
    pub fn snapshot(&self) -> ([u64; N], u64, u64) {
        let mut acc = 0;
        let cumulative = std::array::from_fn(|i| {
            acc += self.buckets[i].load(Ordering::Relaxed);
            acc
        });
        (
            cumulative,
            self.count.load(Ordering::Relaxed),
            self.sum.load(Ordering::Relaxed),
        )
    }
}

/// The histograms of one `(method, code)`.
#[derive(Default)]
pub struct Observed {
    /// Nanoseconds.
    pub duration: Histogram<11>,
    /// Bytes.
    pub request_size: Histogram<8>,
    /// Bytes.
    pub response_size: Histogram<8>,
}

#[derive(Default)]
struct Slot {
    /// `method << 16 | code`, plus one; zero is free.
    key: AtomicU32,
    data: OnceLock<Box<Observed>>,
}

/// The counters of one handler module in one server.
pub struct Series {
    pub server: Box<str>,
    pub handler: Box<str>,
    /// The `host` label, with per-host metrics.
    pub host: Option<Box<str>>,
    pub(super) requests: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) in_flight: AtomicI64,
    slots: [Slot; SLOTS],
    overflow: Mutex<Vec<(u32, Box<Observed>)>>,
}

impl Series {
    /// A series with nothing counted.
    pub fn new(server: &str, handler: &str, host: Option<&str>) -> Self {
        Series {
            server: server.into(),
            handler: handler.into(),
            host: host.map(Into::into),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            slots: std::array::from_fn(|_| Slot::default()),
            overflow: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on the histograms of `(method, code)`, creating them the
    /// first time.
    fn with_observed(&self, method: u32, code: u16, f: impl FnOnce(&Observed)) {
        let key = (method << 16 | u32::from(code)) + 1;
        let start = (key as usize).wrapping_mul(0x9E37_79B9) % SLOTS;
        for i in 0..SLOTS {
            let slot = &self.slots[(start + i) % SLOTS];
            let k = match slot
                .key
                .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => key,
                Err(existing) => existing,
            };
            if k == key {
                return f(slot.data.get_or_init(Box::default));
            }
        }
        let mut over = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
        match over.iter().find(|(k, _)| *k == key) {
            Some((_, o)) => f(o),
            None => {
                over.push((key, Box::default()));
                if let Some((_, o)) = over.last() {
                    f(o);
                }
            }
        }
    }

    /// Every `(method, code)` seen, with its histograms, sorted by code
    /// then method.
    pub fn each_observed(&self, mut f: impl FnMut(&str, u16, &Observed)) {
        let over = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen: Vec<(u32, &Observed)> = self
            .slots
            .iter()
            .filter_map(|s| Some((s.key.load(Ordering::Acquire), &**s.data.get()?)))
            .chain(over.iter().map(|(k, o)| (*k, &**o)))
            .collect();
        seen.sort_by_key(|(k, _)| ((k - 1) & 0xffff, (k - 1) >> 16));
        for (k, o) in seen {
            let method = METHODS[((k - 1) >> 16) as usize % METHODS.len()];
            f(method, ((k - 1) & 0xffff) as u16, o);
        }
    }
}

/// What one request's response looked like, for the histograms.
#[derive(Clone, Copy)]
pub struct Outcome {
    pub method: u32,
    pub code: u16,
    pub request_size: u64,
    pub response_size: u64,
    /// The handlers' chain returned an error.
    pub failed: bool,
}

/// A series a request counts in: a handler's own, or one of its per-host
/// series made after the handler (shared, so counted).
pub enum SeriesRef<'a> {
    Borrowed(&'a Series),
    Owned(Arc<Series>),
}

impl std::ops::Deref for SeriesRef<'_> {
    type Target = Series;

    fn deref(&self) -> &Series {
        match self {
            SeriesRef::Borrowed(s) => s,
            SeriesRef::Owned(s) => s,
        }
    }
}

/// The instrumented handlers one request entered and when. Inline for up
/// to three handlers (it is part of every request's context, moved with
/// its future; more allocate, with metrics on only); what is not finished when the request is dropped
/// (an aborted request) is still counted and leaves the in-flight gauge.
#[derive(Default)]
pub struct Metered<'a> {
    entered: SmallVec<[(SeriesRef<'a>, Instant); 3]>,
}

impl<'a> Metered<'a> {
    /// Records that the request entered the handler of `series`.
    pub fn enter(&mut self, series: SeriesRef<'a>) {
        series.in_flight.fetch_add(1, Ordering::Relaxed);
        self.entered.push((series, Instant::now()));
    }

    /// Whether no instrumented handler was entered (or all are finished).
    pub fn is_empty(&self) -> bool {
        self.entered.is_empty()
    }

    /// Finishes every handler entered so far with `outcome`.
    pub fn finish(&mut self, outcome: Outcome) {
        let now = Instant::now();
        for (s, since) in self.entered.drain(..) {
            s.requests.fetch_add(1, Ordering::Relaxed);
            if outcome.failed {
                s.errors.fetch_add(1, Ordering::Relaxed);
            }
            let nanos = now.saturating_duration_since(since).as_nanos() as u64;
            s.with_observed(outcome.method, outcome.code, |o| {
                o.duration
                    .observe(&DURATION_BUCKETS, nanos, nanos as f64 / 1e9);
                let (req, resp) = (outcome.request_size, outcome.response_size);
                o.request_size.observe(&SIZE_BUCKETS, req, req as f64);
                o.response_size.observe(&SIZE_BUCKETS, resp, resp as f64);
            });
            s.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Metered<'_> {
    fn drop(&mut self) {
        for (s, _) in self.entered.drain(..) {
            s.requests.fetch_add(1, Ordering::Relaxed);
            s.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
