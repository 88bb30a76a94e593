//! The span exporter: OTLP over HTTP with protobuf (`http/protobuf`,
//! OpenTelemetry's default and what Caddy 2.11 uses through its
//! `autoexport`), configured as the OpenTelemetry SDKs are, by the
//! environment:
//!
//! - `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`: no export;
//!   another exporter than `otlp`, or a protocol other than
//!   `http/protobuf` (`OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL`: `grpc`,
//!   `http/json`), is reported once and nothing is exported;
//! - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is), else
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, else
//!   `http://localhost:4318/v1/traces`; `http` or `https` (system roots);
//! - `OTEL_EXPORTER_OTLP[_TRACES]_HEADERS` (`k=v,k2=v2`),
//!   `OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT` (ms, default 10 s);
//! - `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` for the resource
//!   (default `service.name` `unknown_service:bellhop`);
//! - the batch processor's `OTEL_BSP_SCHEDULE_DELAY` (ms, default 5 s),
//!   `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (512), `OTEL_BSP_MAX_QUEUE_SIZE`
//!   (2048: spans beyond it are dropped, never waited for).
//!
//! The environment is read once, when a config first has a `tracing`
//! handler. Spans are queued from the request path without waiting and
//! sent by one background task; a failed export is logged (once until an
//! export succeeds again) and its spans are dropped.

use super::proto::{export_request, Span, Value};
use http::{HeaderName, HeaderValue, Uri};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

struct Settings {
    endpoint: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
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

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A signal-specific variable, else the general one.
fn env_either(specific: &str, general: &str) -> Option<String> {
    env(specific).or_else(|| env(general))
}

fn millis(name: &str, default: u64) -> Duration {
    Duration::from_millis(env(name).and_then(|v| v.parse().ok()).unwrap_or(default))
}

fn pairs(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = percent_encoding::percent_decode_str(v.trim()).decode_utf8_lossy();
            (k.trim().to_string(), v.into_owned())
        })
        .collect()
}

fn settings() -> Result<Option<Settings>, String> {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    match env("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => {
            return Err(format!(
                "OTEL_TRACES_EXPORTER={other} is not supported (only otlp)"
            ))
        }
    }
    let protocol = env_either(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    );
    if let Some(p) = protocol.filter(|p| p != "http/protobuf") {
        return Err(format!(
            "the OTLP protocol {p} is not supported (only http/protobuf)"
        ));
    }
    let endpoint = match (
        env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        env("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(e), _) => e,
        (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
        (None, None) => "http://localhost:4318/v1/traces".to_string(),
    };
    let endpoint: Uri = endpoint
        .parse()
        .map_err(|e| format!("the OTLP endpoint {endpoint:?}: {e}"))?;
    if !matches!(endpoint.scheme_str(), Some("http" | "https")) || endpoint.host().is_none() {
        return Err(format!(
            "the OTLP endpoint {endpoint} is not an http(s) URL"
        ));
    }
    let mut headers = Vec::new();
    for var in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ] {
        for (k, v) in env(var).map(|l| pairs(&l)).unwrap_or_default() {
            let name = HeaderName::try_from(k.as_str()).map_err(|e| format!("{var}: {k}: {e}"))?;
            let value =
                HeaderValue::try_from(v.as_str()).map_err(|e| format!("{var}: {k}: {e}"))?;
            headers.push((name, value));
        }
    }
    let mut resource: Vec<(String, Value)> = env("OTEL_RESOURCE_ATTRIBUTES")
        .map(|l| pairs(&l))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::Str(v)))
        .collect();
    let named = resource.iter().any(|(k, _)| k == "service.name");
    if let Some(name) = env("OTEL_SERVICE_NAME") {
        resource.retain(|(k, _)| k != "service.name");
        resource.push(("service.name".into(), Value::Str(name)));
    } else if !named {
        resource.push((
            "service.name".into(),
            Value::Str("unknown_service:bellhop".into()),
        ));
    }
    resource.push(("webengine.name".into(), Value::Str("bellhop".into())));
    resource.push((
        "webengine.version".into(),
        Value::Str(env!("CARGO_PKG_VERSION").into()),
    ));
    let timeout = env_either(
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    )
    .and_then(|v| v.parse().ok())
    .map_or(Duration::from_secs(10), Duration::from_millis);
    Ok(Some(Settings {
        endpoint,
        headers,
        timeout,
        resource,
        delay: millis("OTEL_BSP_SCHEDULE_DELAY", 5000).max(Duration::from_millis(1)),
        batch: env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
            .and_then(|v| v.parse().ok())
            .unwrap_or(512)
            .max(1),
        queue: env("OTEL_BSP_MAX_QUEUE_SIZE")
            .and_then(|v| v.parse().ok())
            .unwrap_or(2048)
            .max(1),
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
    let failing = AtomicBool::new(false);
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
        let body = export_request(
            &settings.resource,
            ("bellhop", env!("CARGO_PKG_VERSION")),
            &batch,
        );
        let outcome = tokio::time::timeout(settings.timeout, post(&settings, body)).await;
        let outcome = outcome.unwrap_or_else(|_| Err("timed out".into()));
        match outcome {
            Ok(()) => failing.store(false, Ordering::Relaxed),
            Err(e) if !failing.swap(true, Ordering::Relaxed) => {
                tracing::warn!(target: "http.handlers.tracing", endpoint = %settings.endpoint, error = %e, spans = batch.len(), "exporting spans failed");
            }
            Err(_) => {}
        }
    }
}

/// One `POST` of an export request (a fresh connection each time).
async fn post(s: &Settings, body: Vec<u8>) -> Result<(), String> {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::TokioIo;
    let uri = &s.endpoint;
    let https = uri.scheme_str() == Some("https");
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let mut req = http::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(
            http::header::HOST,
            uri.authority().map_or("", |a| a.as_str()),
        )
        .header(http::header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(bytes::Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    for (k, v) in &s.headers {
        req.headers_mut().append(k.clone(), v.clone());
    }
    let status = if https {
        let tls = tls_client()?
            .connect(
                rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| e.to_string())?,
                tcp,
            )
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        send(TokioIo::new(tls), req).await?
    } else {
        send(TokioIo::new(tcp), req).await?
    };
    async fn send<I>(
        io: I,
        req: http::Request<Full<bytes::Bytes>>,
    ) -> Result<http::StatusCode, String>
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let _ = resp.into_body().collect().await;
        Ok(status)
    }
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the collector answered {status}"))
    }
}

fn tls_client() -> Result<tokio_rustls::TlsConnector, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let cfg = CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(c);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
    });
    cfg.clone().map(tokio_rustls::TlsConnector::from)
}
