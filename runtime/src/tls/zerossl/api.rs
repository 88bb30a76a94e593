//! ZeroSSL's REST API (what caddyserver/zerossl's client sends): JSON
//! requests with the access key as a query parameter; an error is a JSON
//! object `{"success": false, "error": {"code", "type"}}`, often with
//! status 200. Also the one call of the ACME issuer: EAB credentials for
//! an email address (`/acme/eab-credentials-email`, a form POST).
//!
//! The base URL is `https://api.zerossl.com`, or `BELLHOP_ZEROSSL_API`
//! when set (a private stand-in, as the tests run one).

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client as Hyper};
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::Value;
use std::sync::OnceLock;

/// ZeroSSL's API.
pub const BASE_URL: &str = "https://api.zerossl.com";

/// The API's base URL: [`BASE_URL`] unless `BELLHOP_ZEROSSL_API` says.
pub fn base_url() -> String {
    std::env::var("BELLHOP_ZEROSSL_API")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| BASE_URL.into())
        .trim_end_matches('/')
        .to_string()
}

type Http = Hyper<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The process's API client (HTTPS with the platform's roots; plain HTTP
/// only for a stand-in named by `BELLHOP_ZEROSSL_API`).
fn http() -> Result<&'static Http, String> {
    static CLIENT: OnceLock<Result<Http, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let connector = HttpsConnectorBuilder::new()
                .with_provider_and_platform_verifier(provider)
                .map_err(|e| e.to_string())?
                .https_or_http()
                .enable_http1()
                .build();
            Ok(Hyper::builder(TokioExecutor::new()).build(connector))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A certificate as the API describes it (the fields bellhop reads).
#[derive(Debug, Deserialize)]
pub struct CertificateObject {
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub validation: Option<Validation>,
}

/// How the names of a draft certificate are to be validated.
#[derive(Debug, Deserialize)]
pub struct Validation {
    #[serde(default)]
    pub other_methods: std::collections::BTreeMap<String, ValidationObject>,
}

/// One name's validation by file or CNAME.
#[derive(Debug, Deserialize)]
pub struct ValidationObject {
    #[serde(default)]
    pub file_validation_url_http: String,
    #[serde(default)]
    pub file_validation_content: Vec<String>,
}

/// A downloaded certificate: the leaf and the CA bundle, in PEM.
#[derive(Debug, Deserialize)]
pub struct Bundle {
    #[serde(rename = "certificate.crt")]
    pub certificate: String,
    #[serde(rename = "ca_bundle.crt", default)]
    pub ca_bundle: String,
}

/// A client for one access key.
pub struct Client {
    pub access_key: String,
    pub base: String,
}

impl Client {
    /// `GET endpoint`, decoded as `T`.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, endpoint: &str) -> Result<T, String> {
        self.call(Method::GET, endpoint, None).await
    }

    /// `POST endpoint` with a JSON `payload` (or none), decoded as `T`.
    pub async fn post<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &str,
        payload: Option<&Value>,
    ) -> Result<T, String> {
        self.call(Method::POST, endpoint, payload).await
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        endpoint: &str,
        payload: Option<&Value>,
    ) -> Result<T, String> {
        let url = format!(
            "{}{endpoint}?access_key={}",
            self.base,
            escape(&self.access_key)
        );
        let mut req = Request::builder().method(method.clone()).uri(&url);
        let body = match payload {
            Some(p) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(p.to_string())
            }
            None => Bytes::new(),
        };
        let (status, raw) = send(req, body).await?;
        // The access key stays out of what is logged.
        let shown = format!("{method} {}{endpoint}", self.base);
        decode(status, &raw).map_err(|e| format!("{shown}: {e}"))
    }
}

/// EAB credentials (key ID, HMAC key in base64url) for `email` from
/// ZeroSSL's API at `base`, as Caddy asks for them when its ACME issuer
/// points at ZeroSSL's ACME endpoint without an `external_account`.
pub async fn eab_for_email(base: &str, email: &str) -> Result<(String, String), String> {
    let form = format!("email={}", escape(email));
    let req = Request::post(format!("{base}/acme/eab-credentials-email"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let (status, raw) = send(req, Bytes::from(form)).await?;
    let v: Value = serde_json::from_slice(&raw)
        .map_err(|e| format!("decoding the EAB credentials answer: {e}"))?;
    let (code, kind) = error_of(&v);
    if code != 0 {
        return Err(format!(
            "failed getting EAB credentials: HTTP {}: {kind} (code {code})",
            status.as_u16()
        ));
    }
    if status != StatusCode::OK {
        return Err(format!(
            "failed getting EAB credentials: HTTP {}",
            status.as_u16()
        ));
    }
    let field = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    match (field("eab_kid"), field("eab_hmac_key")) {
        (Some(kid), Some(key)) => Ok((kid.to_string(), key.to_string())),
        _ => Err("the EAB credentials answer has no eab_kid or eab_hmac_key".into()),
    }
}

/// `s` with every byte but ASCII letters and digits percent-encoded: a
/// query or form value, or one path segment.
pub fn escape(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).collect()
}

async fn send(req: http::request::Builder, body: Bytes) -> Result<(StatusCode, Bytes), String> {
    let req = req
        .header(
            header::USER_AGENT,
            concat!("bellhop/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let fut = http()?.request(req);
    let resp = tokio::time::timeout(std::time::Duration::from_secs(120), fut)
        .await
        .map_err(|_| "no answer within 2 minutes".to_string())?
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status();
    let body = http_body_util::Limited::new(resp.into_body(), 2 << 20)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// The code and type of the API's error object (0 and "" where absent).
fn error_of(v: &Value) -> (i64, &str) {
    let code = v.pointer("/error/code").and_then(Value::as_i64);
    let kind = v.pointer("/error/type").and_then(Value::as_str);
    (code.unwrap_or(0), kind.unwrap_or(""))
}

/// The answer as `T`, unless it is the API's error object.
fn decode<T: serde::de::DeserializeOwned>(status: StatusCode, raw: &[u8]) -> Result<T, String> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| {
        format!(
            "HTTP {}: not JSON ({e}): {}",
            status.as_u16(),
            String::from_utf8_lossy(&raw[..raw.len().min(200)])
        )
    })?;
    if v.get("success").and_then(Value::as_bool) == Some(false) || v.get("error").is_some() {
        let (code, kind) = error_of(&v);
        return Err(format!(
            "HTTP {}: API error {code}: {kind}",
            status.as_u16()
        ));
    }
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    serde_json::from_value(v).map_err(|e| format!("decoding the answer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_object_is_an_error_even_with_200() {
        let raw = br#"{"success":false,"error":{"code":2831,"type":"certificate_not_found"}}"#;
        let r: Result<CertificateObject, _> = decode(StatusCode::OK, raw);
        assert_eq!(
            r.unwrap_err(),
            "HTTP 200: API error 2831: certificate_not_found"
        );
        let ok = br#"{"id":"abc","status":"draft","validation":{"other_methods":{"a.test":{"file_validation_url_http":"http://a.test/.well-known/pki-validation/X.txt","file_validation_content":["1","2"]}}}}"#;
        let c: CertificateObject = decode(StatusCode::OK, ok).unwrap();
        let m = &c.validation.unwrap().other_methods["a.test"];
        assert_eq!(m.file_validation_content, ["1", "2"]);
        let r: Result<CertificateObject, _> = decode(StatusCode::BAD_GATEWAY, b"<html>");
        assert!(r.unwrap_err().starts_with("HTTP 502: not JSON"));
    }
}
