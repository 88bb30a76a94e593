//! Caddy's `caddy.config_loaders.http`: the next config fetched over
//! HTTP(S), tried up to ten times 500 ms apart while the server cannot be
//! reached or answers 5xx (4xx fails at once); the media type to adapt it
//! by is the response's `Content-Type`, or `text/<adapter>`.

use crate::config::CaddyDuration;
use crate::error::Error;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// `caddy.config_loaders.http`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpLoaderConfig {
    module: String,
    #[serde(default)]
    method: String,
    url: String,
    #[serde(default)]
    header: BTreeMap<String, Vec<String>>,
    timeout: Option<CaddyDuration>,
    #[serde(default)]
    adapter: String,
    tls: Option<Map<String, Value>>,
}

/// A provisioned loader.
pub struct Loader {
    method: http::Method,
    url: http::Uri,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    timeout: Option<Duration>,
    adapter: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// `load_delay` (none: load at once).
    pub delay: Option<Duration>,
}

const ATTEMPTS: usize = 10;
const BETWEEN_ATTEMPTS: Duration = Duration::from_millis(500);

impl Loader {
    /// The `http` loader `load` describes.
    pub(super) fn provision(
        c: &crate::config::AdminConfigPersist,
        load: &Map<String, Value>,
    ) -> Result<Loader, Error> {
        let at = "admin.config.load";
        let cfg: HttpLoaderConfig = crate::config::decode(&Value::Object(load.clone()), at)?;
        let _module = cfg.module;
        let bad = |field: &str, m: String| Error::config(format!("{at}.{field}"), m);
        let method = match cfg.method.as_str() {
            "" => http::Method::GET,
            m => m.parse().map_err(|e| bad("method", format!("{e}")))?,
        };
        let url: http::Uri = cfg.url.parse().map_err(|e| bad("url", format!("{e}")))?;
        if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
            return Err(bad("url", format!("{:?}: not an http(s) URL", cfg.url)));
        }
        let mut headers = Vec::new();
        for (k, vals) in &cfg.header {
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| bad("header", format!("{k:?}: {e}")))?;
            for v in vals {
                let value = http::HeaderValue::from_str(v)
                    .map_err(|e| bad("header", format!("{k:?}: {e}")))?;
                headers.push((name.clone(), value));
            }
        }
        let tls = match cfg.tls {
            Some(mut t) => {
                if t.remove("use_server_identity").and_then(|v| v.as_bool()) == Some(true) {
                    return Err(bad(
                        "tls.use_server_identity",
                        "not supported: bellhop has no server identity (admin.identity)".into(),
                    ));
                }
                let t: crate::http::handlers::reverse_proxy::TlsConfig =
                    crate::config::decode(&Value::Object(t), &format!("{at}.tls"))?;
                // Caddy's loader has no such field; the transport's does.
                let level = crate::tls::renegotiation::Level::parse(
                    &t.renegotiation,
                    &format!("{at}.tls.renegotiation"),
                )?;
                if level != crate::tls::renegotiation::Level::Never {
                    return Err(bad(
                        "tls.renegotiation",
                        "not supported by the config loader (only by the reverse_proxy transport)"
                            .into(),
                    ));
                }
                let c = crate::http::handlers::reverse_proxy::client_config(
                    &t,
                    &[b"http/1.1"],
                    None,
                    &format!("{at}.tls"),
                )?;
                Some(Arc::new(c))
            }
            None if url.scheme_str() == Some("https") => {
                let t = crate::http::handlers::reverse_proxy::TlsConfig::default();
                Some(Arc::new(
                    crate::http::handlers::reverse_proxy::client_config(
                        &t,
                        &[b"http/1.1"],
                        None,
                        at,
                    )?,
                ))
            }
            None => None,
        };
        Ok(Loader {
            method,
            url,
            headers,
            timeout: cfg.timeout.map(|d| d.0).filter(|d| !d.is_zero()),
            adapter: cfg.adapter,
            tls,
            delay: c.load_delay.map(|d| d.0).filter(|d| !d.is_zero()),
        })
    }

    /// Fetches the next config: its body and the media type to adapt it
    /// by (`None`: JSON).
    pub async fn fetch(&self) -> Result<(Vec<u8>, Option<String>), String> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(BETWEEN_ATTEMPTS).await;
            }
            let once = self.fetch_once();
            let got = match self.timeout {
                Some(t) => tokio::time::timeout(t, once)
                    .await
                    .unwrap_or_else(|_| Err(Attempt::Retry(format!("no answer within {t:?}")))),
                None => once.await,
            };
            match got {
                Ok(r) => return Ok(r),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(e)) => last = e,
            }
        }
        Err(format!("problem calling http loader url: {last}"))
    }

    async fn fetch_once(&self) -> Result<(Vec<u8>, Option<String>), Attempt> {
        use http_body_util::{BodyExt, Empty};
        let retry = |e: String| Attempt::Retry(e);
        let host = self.url.host().unwrap_or_default().trim_matches(['[', ']']);
        let tls = self.url.scheme_str() == Some("https");
        let port = self.url.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let tcp = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| retry(e.to_string()))?;
        let req = http::Request::builder()
            .method(self.method.clone())
            .uri(self.url.path_and_query().map_or("/", |p| p.as_str()))
            .header(
                http::header::HOST,
                self.url.authority().map_or(host, |a| a.as_str()),
            );
        let mut req = req
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| Attempt::Fail(e.to_string()))?;
        for (k, v) in &self.headers {
            req.headers_mut().append(k.clone(), v.clone());
        }
        let resp = match (&self.tls, tls) {
            (Some(cfg), true) => {
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| Attempt::Fail(e.to_string()))?;
                let stream = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| retry(e.to_string()))?;
                send(stream, req).await?
            }
            _ => send(tcp, req).await?,
        };
        let status = resp.status();
        if !(200..=499).contains(&status.as_u16()) {
            return Err(retry(format!(
                "bad response status code {}",
                status.as_u16()
            )));
        }
        if status.as_u16() >= 400 {
            return Err(Attempt::Fail(format!(
                "server responded with HTTP {}",
                status.as_u16()
            )));
        }
        let media = match self.adapter.as_str() {
            "" => resp
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            a => Some(format!("text/{a}")),
        };
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| retry(e.to_string()))?
            .to_bytes()
            .to_vec();
        Ok((body, media))
    }
}

/// Why an attempt failed: worth another try, or not.
enum Attempt {
    Retry(String),
    Fail(String),
}

async fn send<S>(
    io: S,
    req: http::Request<http_body_util::Empty<bytes::Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, Attempt>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| Attempt::Retry(e.to_string()))?;
    tokio::spawn(conn);
    sender
        .send_request(req)
        .await
        .map_err(|e| Attempt::Retry(e.to_string()))
}
