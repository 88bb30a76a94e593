//! Dynamic config loading, Caddy's `admin.config.load` with its standard
//! loader `caddy.config_loaders.http`: once a config that names a loader
//! is running, the loader fetches the next config over HTTP(S) and the
//! admin pipeline loads it as any `POST /load` (atomically; a config that
//! fails leaves the running one serving).
//!
//! As Caddy: with `load_delay`, the fetch happens that long after the
//! config started, and is tried again after the same delay while it
//! fails, yields nothing or yields the running config unchanged; without
//! it, the fetch happens while the config loads (a failure fails that
//! load) and its result is applied right after. A pulled config may name
//! a loader again only with a positive `load_delay`. A fetch tries up to
//! ten times, 500 ms apart, while the server cannot be reached or answers
//! 5xx; 4xx fails it. The answer is adapted by its `Content-Type` (or
//! `text/<adapter>`), JSON as it is.

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
    /// The loader `admin.config` names, if any.
    pub fn provision(c: &crate::config::AdminConfigPersist) -> Result<Option<Loader>, Error> {
        let Some(load) = &c.load else {
            return Ok(None);
        };
        let at = "admin.config.load";
        let module = load.get("module").and_then(Value::as_str).unwrap_or("");
        if module != "http" {
            return Err(Error::UnknownModule {
                path: format!("{at}.module"),
                id: format!("caddy.config_loaders.{module}"),
            });
        }
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
                let c = crate::http::handlers::reverse_proxy::client_config(
                    &t,
                    &[b"http/1.1"],
                    &format!("{at}.tls"),
                )?;
                Some(Arc::new(c))
            }
            None if url.scheme_str() == Some("https") => {
                let t = crate::http::handlers::reverse_proxy::TlsConfig::default();
                Some(Arc::new(
                    crate::http::handlers::reverse_proxy::client_config(&t, &[b"http/1.1"], at)?,
                ))
            }
            None => None,
        };
        Ok(Some(Loader {
            method,
            url,
            headers,
            timeout: cfg.timeout.map(|d| d.0).filter(|d| !d.is_zero()),
            adapter: cfg.adapter,
            tls,
            delay: c.load_delay.map(|d| d.0).filter(|d| !d.is_zero()),
        }))
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

/// What a config that names a loader loads next.
pub(crate) struct Pending {
    loader: Arc<Loader>,
    /// Fetched while the config loaded (no `load_delay`).
    fetched: Option<Vec<u8>>,
    adapters: Vec<(String, Arc<dyn super::ConfigAdapter>)>,
}

impl Pending {
    /// Prepares the loading `admin` asks for; fetches at once without
    /// `load_delay` (a failure fails the config being loaded). `pulled`:
    /// the config itself was pulled by a loader.
    pub(crate) fn prepare(
        admin: Option<&crate::config::AdminConfig>,
        pulled: bool,
        adapters: &[(String, Arc<dyn super::ConfigAdapter>)],
    ) -> Result<Option<Pending>, super::ApiError> {
        let bad = |m: String| super::ApiError::bad_request(m);
        let Some(c) = admin.and_then(|a| a.config.as_ref()) else {
            return Ok(None);
        };
        let Some(loader) = Loader::provision(c).map_err(|e| bad(e.to_string()))? else {
            return Ok(None);
        };
        if pulled && loader.delay.is_none() {
            return Err(bad(
                "recursive config loading detected: pulled configs cannot pull \
                 other configs without positive load_delay"
                    .into(),
            ));
        }
        let mut pending = Pending {
            loader: Arc::new(loader),
            fetched: None,
            adapters: adapters.to_vec(),
        };
        if pending.loader.delay.is_none() {
            let handle = tokio::runtime::Handle::try_current()
                .map_err(|_| bad("loading dynamic config: no async runtime".into()))?;
            let got = handle.block_on(pending.fetch_adapted());
            pending.fetched =
                Some(got.map_err(|e| bad(format!("loading dynamic config from http: {e}")))?);
        }
        Ok(Some(pending))
    }

    /// Fetches and adapts to JSON.
    async fn fetch_adapted(&self) -> Result<Vec<u8>, String> {
        let (body, media) = self.loader.fetch().await?;
        adapt(&body, media.as_deref(), &self.adapters)
    }

    /// Starts loading: the config fetched already, or fetches after
    /// `load_delay` until a config is applied.
    pub(crate) fn start(self, admin: Arc<super::Inner>) -> tokio::task::AbortHandle {
        let task = tokio::spawn(async move {
            if let Some(json) = self.fetched.clone() {
                apply(&admin, json).await;
                return;
            }
            let delay = self.loader.delay.unwrap_or_default();
            loop {
                tokio::time::sleep(delay).await;
                let json = match self.fetch_adapted().await {
                    Ok(j) => j,
                    Err(e) => {
                        tracing::error!(error = %e, "failed loading dynamic config; will retry");
                        continue;
                    }
                };
                if apply(&admin, json).await != Applied::Unchanged {
                    return;
                }
                tracing::info!("dynamically-loaded config was unchanged; will retry");
            }
        });
        task.abort_handle()
    }
}

#[derive(PartialEq, Eq)]
enum Applied {
    Yes,
    Unchanged,
    Failed,
}

/// Loads a pulled config through the admin pipeline.
async fn apply(admin: &Arc<super::Inner>, json: Vec<u8>) -> Applied {
    tracing::info!("applying dynamically-loaded config");
    match admin
        .clone()
        .change_async(super::change::Edit::Pulled(json), None, false)
        .await
    {
        Ok(true) => {
            tracing::info!("successfully applied dynamically-loaded config");
            Applied::Yes
        }
        Ok(false) => Applied::Unchanged,
        Err(e) => {
            tracing::error!(error = %e.message, "failed to run dynamically-loaded config");
            Applied::Failed
        }
    }
}

/// Caddy's `adaptByContentType`: JSON without a media type or with a
/// `…/json` one, else the adapter named by the subtype.
fn adapt(
    body: &[u8],
    media: Option<&str>,
    adapters: &[(String, Arc<dyn super::ConfigAdapter>)],
) -> Result<Vec<u8>, String> {
    let Some(media) = media.map(|m| {
        m.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }) else {
        return Ok(body.to_vec());
    };
    if media.is_empty() || media.ends_with("/json") {
        return Ok(body.to_vec());
    }
    let Some((_, name)) = media.split_once('/') else {
        return Err("malformed Content-Type".into());
    };
    let adapter = adapters
        .iter()
        .find(|(m, _)| m.split_once('/').is_some_and(|(_, n)| n == name))
        .map(|(_, a)| a)
        .ok_or_else(|| format!("unrecognized config adapter '{name}'"))?;
    let (json, warnings) = adapter
        .adapt_with_warnings(body)
        .map_err(|e| format!("adapting config using {name} adapter: {e}"))?;
    for w in warnings {
        tracing::warn!(warning = %w, "config adapter");
    }
    Ok(json)
}
