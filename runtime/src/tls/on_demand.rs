//! On-demand TLS: a certificate obtained during the handshake for a name
//! that has none, when an automation policy with `on_demand` covers it.
//!
//! Each name is asked about first: the `permission` module `http` (or the
//! older `ask` URL) gets `GET endpoint?domain=NAME`, and only a 2xx answer
//! allows issuance. Concurrent handshakes for one name wait for one
//! permission check and one issuance (the name's gate in `automate`); the
//! optional `rate_limit` (`interval`, `burst`) caps issuances per window.
//! A name whose issuance failed is not tried again on every handshake: it
//! waits 30 s, doubling with each further failure up to 10 min.
//! As in Caddy, a policy that covers unbounded names (no subjects, or a
//! wildcard) and may reach a public CA needs a permission module.

use super::automate;
use super::config::OnDemand;
use super::issuer::{AutoPolicy, Issuer};
use super::TlsState;
use crate::config::CaddyDuration;
use crate::error::Error;
use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a query value escapes (Go's `url.QueryEscape` keeps `-._~`).
const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How long the permission endpoint may take to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a name whose issuance failed waits before the next attempt;
/// each further failure doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Go's `url.QueryEscape` of `v`.
pub(super) fn query_escape(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, QUERY).collect()
}

/// The tls app's `automation.on_demand`, provisioned.
pub struct OnDemandState {
    permission: Option<Permission>,
    limit: Option<(Duration, usize)>,
    issued: Mutex<VecDeque<Instant>>,
    /// Names whose last issuance failed: when, and how long to wait.
    failed: Mutex<std::collections::HashMap<String, (Instant, Duration)>>,
}

/// The `http` permission module: asks an HTTP(S) endpoint (also how a
/// `get_certificate` `http` manager asks its endpoint).
pub struct Permission {
    endpoint: String,
    /// The request target: the endpoint's path and query.
    target: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    host: String,
    port: u16,
}

impl OnDemandState {
    /// Provisions `automation.on_demand` (at JSON path `at`).
    pub fn provision(c: Option<&OnDemand>, at: &str) -> Result<OnDemandState, Error> {
        let mut endpoint = None;
        if let Some(ask) = c.and_then(|c| c.ask.as_deref()).filter(|a| !a.is_empty()) {
            endpoint = Some((ask.to_string(), format!("{at}.ask")));
        }
        if let Some(p) = c.and_then(|c| c.permission.as_ref()) {
            let pat = format!("{at}.permission");
            match p.get("module").and_then(Value::as_str) {
                Some("http") => {}
                Some(m) => {
                    return Err(Error::UnknownModule {
                        path: format!("{pat}.module"),
                        id: format!("tls.permission.{m}"),
                    })
                }
                None => return Err(Error::config(pat, "module name missing: expected `module`")),
            }
            if let Some(k) = p.keys().find(|k| *k != "module" && *k != "endpoint") {
                return Err(Error::config(format!("{pat}.{k}"), "unknown field"));
            }
            let Some(ep) = p.get("endpoint").and_then(Value::as_str) else {
                return Err(Error::config(format!("{pat}.endpoint"), "required"));
            };
            endpoint = Some((ep.to_string(), format!("{pat}.endpoint")));
        }
        let permission = endpoint
            .map(|(ep, at)| Permission::provision(&ep, &at))
            .transpose()?;
        let limit = match c.and_then(|c| c.rate_limit.as_ref()) {
            Some(v) => rate_limit(v, &format!("{at}.rate_limit"))?,
            None => None,
        };
        Ok(OnDemandState {
            permission,
            limit,
            issued: Mutex::new(VecDeque::new()),
            failed: Mutex::default(),
        })
    }

    /// Whether a permission module is configured.
    pub fn has_permission(&self) -> bool {
        self.permission.is_some()
    }

    /// Takes one issuance from the rate limit, if there is one.
    fn take(&self) -> Result<(), String> {
        let Some((window, burst)) = self.limit else {
            return Ok(());
        };
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        while issued
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            issued.pop_front();
        }
        if issued.len() >= burst {
            return Err(format!(
                "on-demand rate limit reached ({burst} per {window:?})"
            ));
        }
        issued.push_back(now);
        Ok(())
    }
}

impl OnDemandState {
    /// `Err` while `name` is backing off after a failed issuance.
    fn check_backoff(&self, name: &str) -> Result<(), String> {
        let failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        match failed.get(name) {
            Some((at, wait)) if at.elapsed() < *wait => Err(format!(
                "obtaining a certificate for {name} failed recently; retrying in {:?}",
                wait.saturating_sub(at.elapsed())
            )),
            _ => Ok(()),
        }
    }

    /// Records the outcome of an issuance of `name`.
    fn record(&self, name: &str, ok: bool) {
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if ok {
            failed.remove(name);
            return;
        }
        let wait = failed
            .get(name)
            .map_or(FIRST_BACKOFF, |(_, w)| (*w * 2).min(MAX_BACKOFF));
        failed.insert(name.to_string(), (Instant::now(), wait));
    }
}

fn rate_limit(v: &Value, at: &str) -> Result<Option<(Duration, usize)>, Error> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limit {
        interval: Option<CaddyDuration>,
        burst: Option<usize>,
    }
    let l: Limit = crate::config::decode(v, at)?;
    match (l.interval.map(|d| d.0).filter(|d| !d.is_zero()), l.burst) {
        (Some(i), Some(b)) if b > 0 => Ok(Some((i, b))),
        _ => Ok(None),
    }
}

impl Permission {
    pub(super) fn provision(endpoint: &str, at: &str) -> Result<Permission, Error> {
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|e| Error::config(at, format!("invalid URL {endpoint:?}: {e}")))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(Error::config(
                    at,
                    "the endpoint must be an http:// or https:// URL",
                ))
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| Error::config(at, "the endpoint URL has no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = https.then(|| {
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
            let config = rustls::ClientConfig::builder_with_provider(super::policy::ring())
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots).with_no_client_auth());
            config.map(Arc::new)
        });
        let tls = tls
            .transpose()
            .map_err(|e| Error::config(at, e.to_string()))?;
        let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        Ok(Permission {
            endpoint: endpoint.to_string(),
            target,
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            host,
            tls,
        })
    }

    /// Asks the endpoint about `name`: `Ok(true)` on a 2xx answer.
    async fn allowed(&self, name: &str) -> Result<bool, String> {
        let (status, _) = self
            .fetch(&format!("domain={}", query_escape(name)))
            .await?;
        Ok(status.is_success())
    }

    /// GETs the endpoint with `query` (escaped `k=v` pairs) added to its
    /// own: the status and the body.
    pub(super) async fn fetch(&self, query: &str) -> Result<(http::StatusCode, Bytes), String> {
        let sep = if self.target.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}{query}", self.target);
        let ask = async {
            let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| e.to_string())?;
            match &self.tls {
                None => self.get(tcp, &url).await,
                Some(config) => {
                    let sn = rustls_pki_types::ServerName::try_from(self.host.clone())
                        .map_err(|e| e.to_string())?;
                    let s = tokio_rustls::TlsConnector::from(config.clone())
                        .connect(sn, tcp)
                        .await
                        .map_err(|e| e.to_string())?;
                    self.get(s, &url).await
                }
            }
        };
        tokio::time::timeout(ASK_TIMEOUT, ask)
            .await
            .map_err(|_| format!("{} did not answer within {ASK_TIMEOUT:?}", self.endpoint))?
    }

    async fn get<S>(&self, stream: S, url: &str) -> Result<(http::StatusCode, Bytes), String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let req = http::Request::get(url)
            .header(http::header::HOST, &self.host)
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        crate::util::http_post::exchange(TokioIo::new(stream), req).await
    }
}

/// Whether `policy` lets anyone make us ask a public CA for any name,
/// which Caddy refuses without a permission module.
pub fn unbounded(policy: &AutoPolicy) -> bool {
    let wildcard_or_default =
        policy.subjects.is_empty() || policy.subjects.iter().any(|s| s.starts_with('*'));
    let only_internal =
        policy.issuers.len() == 1 && matches!(*policy.issuers[0], Issuer::Internal(_));
    wildcard_or_default && !only_internal
}

/// A name on-demand issuance may be asked for (what a DNS name can be).
fn qualifies(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

/// Makes sure a certificate for `name` is in the cache before the
/// handshake picks one: issues it on demand when a policy allows.
pub async fn ensure(state: &TlsState, name: &str) -> Result<(), String> {
    let Some(od) = state.on_demand.as_ref() else {
        return Ok(());
    };
    let name = name.to_ascii_lowercase();
    if state.cache.has_match(&name) {
        return Ok(());
    }
    let on_demand = state
        .policies
        .iter()
        .find(|p| p.covers(&name))
        .is_some_and(|p| p.on_demand);
    if !on_demand || !qualifies(&name) {
        return Ok(());
    }
    let gate = automate::gate(state, &name);
    let _one = gate.lock().await;
    if state.cache.has_match(&name) {
        return Ok(()); // issued for a handshake we waited for
    }
    od.check_backoff(&name)?;
    if let Some(p) = &od.permission {
        tracing::debug!(domain = %name, "asking for permission for on-demand certificate");
        match p.allowed(&name).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(domain = %name, "on-demand certificate issuance denied");
                return Err(format!("on-demand certificate for {name} not allowed"));
            }
            Err(e) => {
                tracing::error!(domain = %name, error = %e, "failed to get permission for on-demand certificate");
                return Err(e);
            }
        }
    }
    od.take()?;
    tracing::info!(domain = %name, "obtaining on-demand certificate");
    let result = automate::obtain_locked(state, &name).await;
    od.record(&name, result.is_ok());
    result
}
