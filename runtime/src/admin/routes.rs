//! The admin endpoints: `/load`, `/adapt`, `/stop`, `/config/…`,
//! `/id/…`, `/reverse_proxy/upstreams`, `/pki/ca/…`, `/metrics`.
//!
//! Every request is logged (sensitive header values redacted) and passes
//! the origin checks first. Errors answer `{"error": "…"}` with their
//! status. Writes need a JSON body (or, for `/load` and `/adapt`, a
//! media type an injected adapter handles): 415 otherwise; bodies beyond
//! the cap get 413.

use super::change::{self, Edit};
use super::origin::{loggable_headers, Checks};
use super::{hooks, traverse, ApiError, ConfigAdapter, Inner};
use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MATCH};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

type Resp = http::Response<Full<Bytes>>;
type Parts = http::request::Parts;

/// Answers one admin request.
pub async fn handle(
    inner: Arc<Inner>,
    checks: Arc<Checks>,
    remote: Option<SocketAddr>,
    req: http::Request<Incoming>,
) -> Resp {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let remote = remote.map(|r| r.to_string()).unwrap_or_default();
    if path == "/metrics" {
        tracing::debug!(method = %parts.method, uri = %parts.uri, %remote, "received request");
    } else {
        let headers = loggable_headers(&parts.headers);
        tracing::info!(method = %parts.method, uri = %parts.uri, %remote, %headers, "received request");
    }
    let result = match checks.check(&parts) {
        Ok(origin) => route(&inner, &parts, body, &path)
            .await
            .map(|r| with_origin(r, origin, &parts.method)),
        Err(e) => Err(e),
    };
    let resp = result.unwrap_or_else(|e| {
        tracing::error!(status = e.status.as_u16(), error = %e.message, "admin request failed");
        error_response(&e)
    });
    inner
        .metrics
        .count_request(metric_path(&path), parts.method.as_str(), resp.status());
    resp
}

async fn route(
    inner: &Arc<Inner>,
    parts: &Parts,
    body: Incoming,
    path: &str,
) -> Result<Resp, ApiError> {
    if parts.method == Method::OPTIONS {
        return Ok(status(StatusCode::NO_CONTENT));
    }
    match path {
        "/load" => only(parts, Method::POST, load(inner, parts, body)).await,
        "/adapt" => only(parts, Method::POST, adapt(inner, parts, body)).await,
        "/stop" => {
            only(parts, Method::POST, async {
                tracing::warn!("stop requested through the admin API");
                inner.stop.send_replace(true);
                Ok(status(StatusCode::OK))
            })
            .await
        }
        "/upgrade" => {
            only(parts, Method::POST, async {
                let body = read_body(inner, parts, body).await?.to_vec();
                let reply = super::upgrade::run(inner.opts.upgrade.as_deref(), body).await?;
                Ok(body_response("application/json", reply))
            })
            .await
        }
        "/metrics" => {
            only(parts, Method::GET, async {
                let text = inner.metrics.render(&inner.runtime);
                Ok(body_response(
                    "text/plain; version=0.0.4; charset=utf-8",
                    text.into_bytes(),
                ))
            })
            .await
        }
        "/reverse_proxy/upstreams" => {
            only(parts, Method::GET, async {
                let list = serde_json::to_vec(&hooks::upstreams_status()).unwrap_or_default();
                Ok(body_response("application/json", list))
            })
            .await
        }
        "/config-loader" => {
            only(parts, Method::GET, async {
                let status = super::lock(&inner.loading).as_ref().and_then(|r| r.status());
                let Some(status) = status else {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        "the running config follows no config loader (admin.config.load with module redis)",
                    ));
                };
                Ok(body_response("application/json", status.to_string().into_bytes()))
            })
            .await
        }
        p if p == "/config" || p.starts_with("/config/") => config(inner, parts, body, p).await,
        p if p.starts_with("/id/") || p == "/id" => {
            let expanded = expand_id(inner, p)?;
            config(inner, parts, body, &expanded).await
        }
        p if p.starts_with("/pki/ca/") => {
            only(parts, Method::GET, async { pki_ca(&inner.runtime, p) }).await
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("not found: {path}"),
        )),
    }
}

/// Runs `f` when the method is `method`; 405 otherwise.
async fn only<F>(parts: &Parts, method: Method, f: F) -> Result<Resp, ApiError>
where
    F: std::future::Future<Output = Result<Resp, ApiError>>,
{
    if parts.method != method {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {} not allowed", parts.method),
        ));
    }
    f.await
}

/// How a request body is to be read.
enum BodyKind {
    Json,
    Adapter(String, Arc<dyn ConfigAdapter>),
}

/// The body's kind from its Content-Type; 415 when nothing reads it.
fn body_kind(inner: &Inner, parts: &Parts, adapters: bool) -> Result<BodyKind, ApiError> {
    let ct = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let media = ct.split(';').next().unwrap_or("").trim().to_string();
    if media.contains("/json") || media.ends_with("+json") {
        return Ok(BodyKind::Json);
    }
    if adapters {
        if let Some((_, a)) = inner.opts.adapters.iter().find(|(m, _)| *m == media) {
            return Ok(BodyKind::Adapter(media, a.clone()));
        }
    }
    let mut accepted = vec!["application/json".to_string()];
    if adapters {
        accepted.extend(inner.opts.adapters.iter().map(|(m, _)| m.clone()));
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "unacceptable content-type: {ct:?}; accepted: {}",
            accepted.join(", ")
        ),
    ))
}

/// Reads the body whole, within the cap (413 beyond).
async fn read_body(inner: &Inner, parts: &Parts, body: Incoming) -> Result<Bytes, ApiError> {
    let max = inner.opts.max_body;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds {max} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match Limited::new(body, max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(format!("reading request body: {e}"))),
    }
}

/// The body as JSON bytes, adapted when needed, with adapter warnings.
async fn json_body(
    inner: &Inner,
    parts: &Parts,
    body: Incoming,
) -> Result<(Vec<u8>, Vec<String>), ApiError> {
    let kind = body_kind(inner, parts, true)?;
    let body = read_body(inner, parts, body).await?;
    match kind {
        BodyKind::Json => Ok((body.to_vec(), Vec::new())),
        BodyKind::Adapter(media, a) => tokio::task::spawn_blocking(move || {
            a.adapt_with_warnings(&body)
                .map_err(|e| ApiError::bad_request(format!("adapting config using {media}: {e}")))
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
    }
}

fn forced(parts: &Parts) -> bool {
    parts
        .headers
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("must-revalidate"))
}

async fn load(inner: &Arc<Inner>, parts: &Parts, body: Incoming) -> Result<Resp, ApiError> {
    let (json, warnings) = json_body(inner, parts, body).await?;
    inner
        .clone()
        .change_async(Edit::Replace(json), None, forced(parts))
        .await?;
    if warnings.is_empty() {
        return Ok(status(StatusCode::OK));
    }
    Ok(json_response(&json!(warnings)))
}

async fn adapt(inner: &Arc<Inner>, parts: &Parts, body: Incoming) -> Result<Resp, ApiError> {
    let (json, warnings) = json_body(inner, parts, body).await?;
    let result = change::parse_body(&json)?;
    let mut out = serde_json::Map::new();
    if !warnings.is_empty() {
        out.insert("warnings".into(), json!(warnings));
    }
    out.insert("result".into(), result);
    Ok(json_response(&Value::Object(out)))
}

async fn config(
    inner: &Arc<Inner>,
    parts: &Parts,
    body: Incoming,
    path: &str,
) -> Result<Resp, ApiError> {
    match parts.method {
        Method::GET | Method::HEAD => {
            let raw = inner.raw.load();
            let out = traverse::read_encoded(raw.root(), path)?;
            let mut r = body_response("application/json", out.clone());
            if let Ok(v) = HeaderValue::from_str(&traverse::etag(path, &out)) {
                r.headers_mut().insert(ETAG, v);
            }
            Ok(r)
        }
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE => {
            let value = if parts.method == Method::DELETE {
                None
            } else {
                // Without adapters only JSON passes.
                body_kind(inner, parts, false)?;
                Some(change::parse_body(&read_body(inner, parts, body).await?)?)
            };
            let if_match = parts
                .headers
                .get(IF_MATCH)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let edit = Edit::Access {
                method: parts.method.clone(),
                path: path.to_string(),
                body: value,
            };
            inner
                .clone()
                .change_async(edit, if_match, forced(parts))
                .await?;
            Ok(status(StatusCode::OK))
        }
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {} not allowed", parts.method),
        )),
    }
}

/// `/id/<id>/rest` → the `/config/…` path of the object with that `@id`.
fn expand_id(inner: &Inner, path: &str) -> Result<String, ApiError> {
    let rest = path.trim_start_matches("/id").trim_start_matches('/');
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if id.is_empty() {
        return Err(ApiError::bad_request("request path is missing object ID"));
    }
    let raw = inner.raw.load();
    let Some(base) = raw.index.get(id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("unknown object ID '{id}'"),
        ));
    };
    let tail = tail.trim_matches('/');
    Ok(if tail.is_empty() {
        base.clone()
    } else {
        format!("{base}/{tail}")
    })
}

/// `GET /pki/ca/<id>` and `/pki/ca/<id>/certificates`.
fn pki_ca(runtime: &crate::Runtime, path: &str) -> Result<Resp, ApiError> {
    let rest = path.trim_start_matches("/pki/ca/").trim_end_matches('/');
    let (id, certs) = match rest.strip_suffix("/certificates") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    if id.is_empty() || id.contains('/') {
        return Err(ApiError::bad_request("request path is missing the CA ID"));
    }
    let tls = runtime
        .current_instance()
        .and_then(|i| i.tls.as_ref().map(|t| t.state.clone()));
    let Some(ca) = tls.and_then(|t| hooks::CaSource::ca(&*t, id)) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no certificate authority configured with id: {id}"),
        ));
    };
    if certs {
        let chain = format!("{}{}", ca.intermediate_certificate, ca.root_certificate);
        return Ok(body_response(
            "application/pem-certificate-chain",
            chain.into_bytes(),
        ));
    }
    Ok(json_response(
        &serde_json::to_value(&ca).unwrap_or_default(),
    ))
}

fn metric_path(path: &str) -> &'static str {
    match path {
        "/load" => "/load",
        "/adapt" => "/adapt",
        "/stop" => "/stop",
        "/upgrade" => "/upgrade",
        "/metrics" => "/metrics",
        "/reverse_proxy/upstreams" => "/reverse_proxy/upstreams",
        "/config-loader" => "/config-loader",
        p if p == "/config" || p.starts_with("/config/") => "/config/",
        p if p.starts_with("/id/") => "/id/",
        p if p.starts_with("/pki/") => "/pki/",
        _ => "other",
    }
}

fn with_origin(mut r: Resp, origin: Option<String>, method: &Method) -> Resp {
    let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) else {
        return r;
    };
    let h = r.headers_mut();
    h.insert("access-control-allow-origin", origin);
    if *method == Method::OPTIONS {
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("OPTIONS, GET, POST, PUT, PATCH, DELETE"),
        );
        h.insert(
            "access-control-allow-headers",
            HeaderValue::from_static("Content-Type, Content-Length, Cache-Control, If-Match"),
        );
    }
    r
}

fn status(s: StatusCode) -> Resp {
    let mut r = Resp::new(Full::new(Bytes::new()));
    *r.status_mut() = s;
    r
}

fn body_response(content_type: &'static str, body: Vec<u8>) -> Resp {
    let mut r = Resp::new(Full::new(Bytes::from(body)));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_response(v: &Value) -> Resp {
    let mut body = serde_json::to_vec(v).unwrap_or_default();
    body.push(b'\n');
    body_response("application/json", body)
}

pub(crate) fn error_response(e: &ApiError) -> Resp {
    let mut r = json_response(&json!({ "error": e.message }));
    *r.status_mut() = e.status;
    r
}
