//! OTLP over HTTP with protobuf (`http/protobuf`, OpenTelemetry's default
//! and what Caddy 2.11 uses through its `autoexport`), configured per
//! signal (`traces`, `metrics`) by the environment, as the OpenTelemetry
//! SDKs are:
//!
//! - `OTEL_SDK_DISABLED=true`, or `OTEL_<SIGNAL>_EXPORTER=none`: no
//!   export; another exporter than `otlp`, or a protocol other than
//!   `http/protobuf` (`OTEL_EXPORTER_OTLP[_<SIGNAL>]_PROTOCOL`: `grpc`,
//!   `http/json`), is an error the caller reports;
//! - `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` (used as is), else
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/<signal>`, else
//!   `http://localhost:4318/v1/<signal>`; `http` or `https` (system roots);
//! - `OTEL_EXPORTER_OTLP[_<SIGNAL>]_HEADERS` (`k=v,k2=v2`),
//!   `OTEL_EXPORTER_OTLP[_<SIGNAL>]_TIMEOUT` (ms, default 10 s);
//! - `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` for the resource
//!   (default `service.name` `unknown_service:bellhop`).
//!
//! Each export is one `POST` on a fresh connection. The messages are
//! encoded by hand (`wire.rs`): no protobuf toolchain is built for them.

pub mod wire;

use http::{HeaderName, HeaderValue, Uri};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wire::Value;

/// Where and how one signal is exported.
pub struct Endpoint {
    pub uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    pub timeout: Duration,
}

/// Reads a variable (trimmed, empty as unset).
pub fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A signal-specific variable, else the general one.
fn env_either(specific: &str, general: &str) -> Option<String> {
    env(specific).or_else(|| env(general))
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

/// The endpoint of `signal` (`traces`, `metrics`); `None` when its export
/// is off.
pub fn endpoint(signal: &str) -> Result<Option<Endpoint>, String> {
    let upper = signal.to_ascii_uppercase();
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let exporter_var = format!("OTEL_{upper}_EXPORTER");
    match env(&exporter_var).as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => {
            return Err(format!(
                "{exporter_var}={other} is not supported (only otlp)"
            ))
        }
    }
    let specific = |what: &str| format!("OTEL_EXPORTER_OTLP_{upper}_{what}");
    let general = |what: &str| format!("OTEL_EXPORTER_OTLP_{what}");
    let protocol = env_either(&specific("PROTOCOL"), &general("PROTOCOL"));
    if let Some(p) = protocol.filter(|p| p != "http/protobuf") {
        return Err(format!(
            "the OTLP protocol {p} is not supported (only http/protobuf)"
        ));
    }
    let uri = match (env(&specific("ENDPOINT")), env(&general("ENDPOINT"))) {
        (Some(e), _) => e,
        (None, Some(base)) => format!("{}/v1/{signal}", base.trim_end_matches('/')),
        (None, None) => format!("http://localhost:4318/v1/{signal}"),
    };
    let uri: Uri = uri
        .parse()
        .map_err(|e| format!("the OTLP endpoint {uri:?}: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!("the OTLP endpoint {uri} is not an http(s) URL"));
    }
    let mut headers = Vec::new();
    for var in [general("HEADERS"), specific("HEADERS")] {
        for (k, v) in env(&var).map(|l| pairs(&l)).unwrap_or_default() {
            let name = HeaderName::try_from(k.as_str()).map_err(|e| format!("{var}: {k}: {e}"))?;
            let value =
                HeaderValue::try_from(v.as_str()).map_err(|e| format!("{var}: {k}: {e}"))?;
            headers.push((name, value));
        }
    }
    let timeout = env_either(&specific("TIMEOUT"), &general("TIMEOUT"))
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis);
    Ok(Some(Endpoint {
        uri,
        headers,
        timeout,
    }))
}

/// The resource every export describes: `OTEL_RESOURCE_ATTRIBUTES`,
/// `OTEL_SERVICE_NAME`, and the web engine (bellhop and its version).
pub fn resource() -> Vec<(String, Value)> {
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
    resource
}

/// One `POST` of an export request (a fresh connection each time).
pub async fn post(s: &Endpoint, body: Vec<u8>) -> Result<(), String> {
    tokio::time::timeout(s.timeout, post_now(s, body))
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

async fn post_now(s: &Endpoint, body: Vec<u8>) -> Result<(), String> {
    let tls = match s.uri.scheme_str() {
        Some("https") => Some(tls_client()?),
        _ => None,
    };
    let content_type = "application/x-protobuf";
    let (status, _) =
        super::http_post::post(&s.uri, content_type, &s.headers, body, tls.as_ref()).await?;
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
