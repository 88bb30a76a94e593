//! The span exporter: finished spans queued from the request path without
//! waiting and sent by one background task in batches over OTLP
//! (`util/otlp.rs`, `traces` signal, configured by the `OTEL_*`
//! environment, read once, when a config first has a `tracing` handler),
//! with the batch processor's `OTEL_BSP_SCHEDULE_DELAY` (ms, default 5 s),
//! `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (512) and `OTEL_BSP_MAX_QUEUE_SIZE`
//! (2048: spans beyond it are dropped). A failed export is logged (once
//! until an export succeeds again) and its spans are dropped.

use super::proto::{export_request, Span};
use crate::util::otlp::{self, env, wire::Value, Endpoint};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

struct Settings {
    endpoint: Endpoint,
    resource: Vec<(String, Value)>,
    delay: Duration,
    batch: usize,
    queue: usize,
}

/// The process's span exporter.
pub struct Exporter {
    settings: Arc<Settings>,
    tx: OnceLock<mpsc::Sender<Span>>,
}

fn number(name: &str, default: u64) -> u64 {
    env(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn settings() -> Result<Option<Settings>, String> {
    let Some(endpoint) = otlp::endpoint("traces")? else {
        return Ok(None);
    };
    Ok(Some(Settings {
        endpoint,
        resource: otlp::resource(),
        delay: Duration::from_millis(number("OTEL_BSP_SCHEDULE_DELAY", 5000).max(1)),
        batch: number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512).max(1) as usize,
        queue: number("OTEL_BSP_MAX_QUEUE_SIZE", 2048).max(1) as usize,
    }))
}
/// The exporter, set up from the environment on first use; `None` when
/// export is off or its settings are unusable (reported once).
pub fn exporter() -> Option<&'static Exporter> {
    static EXPORTER: OnceLock<Option<Exporter>> = OnceLock::new();
    EXPORTER
        .get_or_init(|| match settings() {
            Ok(s) => s.map(|s| Exporter {
                settings: Arc::new(s),
                tx: OnceLock::new(),
            }),
            Err(e) => {
                tracing::warn!(target: "http.handlers.tracing", error = %e, "spans will not be exported");
                None
            }
        })
        .as_ref()
}

impl Exporter {
    /// Queues a finished span (dropped when the queue is full). Starts the
    /// sending task on first use, on the runtime of the caller.
    pub fn submit(&self, span: Span) {
        let tx = self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel(self.settings.queue);
            tokio::spawn(run(self.settings.clone(), rx));
            tx
        });
        let _ = tx.try_send(span);
    }
}

async fn run(settings: Arc<Settings>, mut rx: mpsc::Receiver<Span>) {
    let mut failing = false;
    loop {
        let Some(first) = rx.recv().await else { return };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + settings.delay;
        while batch.len() < settings.batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(s)) => batch.push(s),
                Ok(None) | Err(_) => break,
            }
        }
        let body = export_request(&settings.resource, &batch);
        match otlp::post(&settings.endpoint, body).await {
            Ok(()) => failing = false,
            Err(e) if !std::mem::replace(&mut failing, true) => {
                tracing::warn!(target: "http.handlers.tracing", endpoint = %settings.endpoint.uri, error = %e, spans = batch.len(), "exporting spans failed");
            }
            Err(_) => {}
        }
    }
}
