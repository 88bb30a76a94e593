//! Health checks. Passive: failed round trips, bad statuses and slow
//! answers are remembered per host for `fail_duration`; a host with
//! `max_fails` remembered failures is unavailable. Active: a background
//! task requests `uri` (or `path`) of every upstream each `interval`
//! (upstreams whose address needs request placeholders are skipped, as
//! Caddy skips them) and, as Caddy counts, marks a healthy host down once
//! `fails` checks failed and a down host up once `passes` checks passed
//! since its last change (status 2xx or `expect_status`, body matching
//! `expect_body`). Passive failures live in the host pool shared by
//! address; active verdicts on each handler's upstream (as Caddy's).

use super::config::{ActiveConfig, PassiveConfig};
use super::prepare::UpBody;
use super::respond::Shared;
use super::transport_http::{HttpTransport, HttpTransportConfig};
use super::upstreams::{ActiveHealth, Dial, DialAddr, Host, Upstream};
use super::Transport;
use crate::error::Error;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use regex::Regex;
use std::sync::Arc;
use std::time::Duration;

/// Passive health settings.
#[derive(Clone)]
pub struct Passive {
    fail_duration: Duration,
    unhealthy_status: Vec<u16>,
    unhealthy_latency: Option<Duration>,
}

impl Passive {
    /// Provisions the passive config; `None` when it never counts.
    pub fn new(c: &PassiveConfig) -> Self {
        Passive {
            fail_duration: c.fail_duration.map(|d| d.0).unwrap_or_default(),
            unhealthy_status: c.unhealthy_status.clone(),
            unhealthy_latency: c.unhealthy_latency.map(|d| d.0).filter(|d| !d.is_zero()),
        }
    }

    /// Remembers one failure of `host` for `fail_duration`.
    pub fn count_failure(&self, host: &Arc<Host>) {
        if self.fail_duration.is_zero() {
            return;
        }
        host.count_fail(1);
        let (host, d) = (host.clone(), self.fail_duration);
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            host.count_fail(-1);
        });
    }

    /// Strikes for a bad status or a slow answer.
    pub fn strike(&self, host: &Arc<Host>, status: StatusCode, latency: Duration) {
        let code = status.as_u16();
        for &bad in &self.unhealthy_status {
            if bad == code || (bad < 100 && code / 100 == bad) {
                self.count_failure(host);
            }
        }
        if self.unhealthy_latency.is_some_and(|l| latency >= l) {
            self.count_failure(host);
        }
    }
}

/// A running active health checker.
pub struct Checker {
    stop: tokio::sync::watch::Sender<bool>,
}

impl Checker {
    /// Stops the background task.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

struct Active {
    uri: String,
    port: u16,
    upstream: Option<DialAddr>,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    host_header: Option<http::HeaderValue>,
    method: http::Method,
    body: Bytes,
    follow: bool,
    timeout: Duration,
    passes: u32,
    fails: u32,
    max_size: usize,
    expect_status: u16,
    expect_body: Option<Regex>,
}

/// Whether active checks are configured at all (`uri`, `path` or `port`).
pub fn enabled(c: &ActiveConfig) -> bool {
    !c.uri.is_empty() || !c.path.is_empty() || c.port != 0
}

/// Starts the active checker for `upstreams`.
pub fn start(
    c: &ActiveConfig,
    upstreams: &[Upstream],
    shared: &Arc<Shared>,
    path: &str,
) -> Result<Checker, Error> {
    let a = provision(c, path)?;
    let interval = c
        .interval
        .map(|d| d.0)
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(30));
    // Caddy checks each upstream at its dial address rendered with the
    // global placeholders only, and skips (logging an error) one whose
    // address needs request placeholders. Global placeholders are
    // rendered when bellhop provisions an upstream, so the addresses
    // still holding placeholders are exactly those Caddy skips.
    let targets: Vec<(Arc<ActiveHealth>, Arc<Host>, DialAddr)> = upstreams
        .iter()
        .filter_map(|u| match &u.dial {
            Dial::Static(a) => Some((u.active.clone(), u.host.clone(), a.clone())),
            Dial::Template(_) => {
                tracing::error!(address = %u.key, "invalid use of placeholders in dial address for active health checks");
                None
            }
        })
        .collect();
    let t: Arc<HttpTransport> = match &shared.transport {
        Transport::Http(t) => t.clone(),
        Transport::Fastcgi(_) => Arc::new(HttpTransport::provision(
            &HttpTransportConfig::default(),
            None,
            path,
        )?),
    };
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| Error::config(path, "active health checks need a running async runtime"))?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let a = Arc::new(a);
    handle.spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => return,
            }
            for (state, host, addr) in &targets {
                let (a, t, addr) = (a.clone(), t.clone(), addr.clone());
                let (state, host) = (state.clone(), host.clone());
                tokio::spawn(async move {
                    let ok = check(&a, &t, &addr).await;
                    if let Some(up) = state.record_check(ok.is_ok(), a.passes, a.fails) {
                        host.report(up);
                        tracing::info!(host = %addr.hostport(), healthy = up, reason = ?ok.err(), "active health check changed host status");
                    }
                });
            }
        }
    });
    Ok(Checker { stop })
}

fn provision(c: &ActiveConfig, path: &str) -> Result<Active, Error> {
    let uri = if !c.uri.is_empty() {
        c.uri.clone()
    } else if !c.path.is_empty() {
        c.path.clone()
    } else {
        "/".into()
    };
    let upstream = if c.upstream.is_empty() {
        None
    } else {
        let mut v = super::upstreams::parse_dial(&c.upstream)
            .map_err(|e| Error::config(format!("{path}.upstream"), e))?;
        Some(v.remove(0))
    };
    let mut headers = Vec::new();
    let mut host_header = None;
    for (k, vs) in &c.headers {
        let name = http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| Error::config(format!("{path}.headers.{k}"), e))?;
        for v in vs {
            let val = http::HeaderValue::from_str(v)
                .map_err(|e| Error::config(format!("{path}.headers.{k}"), e))?;
            if name == http::header::HOST {
                host_header = Some(val);
            } else {
                headers.push((name.clone(), val));
            }
        }
    }
    Ok(Active {
        uri,
        port: c.port,
        upstream,
        headers,
        host_header,
        method: if c.method.is_empty() {
            http::Method::GET
        } else {
            c.method
                .parse()
                .map_err(|e| Error::config(format!("{path}.method"), e))?
        },
        body: Bytes::from(c.body.clone()),
        follow: c.follow_redirects,
        timeout: c
            .timeout
            .map(|d| d.0)
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(5)),
        passes: c.passes.max(1),
        fails: c.fails.max(1),
        max_size: if c.max_size > 0 {
            c.max_size as usize
        } else {
            usize::MAX
        },
        expect_status: c.expect_status,
        expect_body: if c.expect_body.is_empty() {
            None
        } else {
            Some(
                Regex::new(&c.expect_body)
                    .map_err(|e| Error::config(format!("{path}.expect_body"), e))?,
            )
        },
    })
}

async fn check(a: &Active, t: &HttpTransport, addr: &DialAddr) -> Result<(), String> {
    let target = match (&a.upstream, addr) {
        (Some(u), _) => u.clone(),
        (None, DialAddr::Tcp { host, port }) => DialAddr::Tcp {
            host: host.clone(),
            port: if a.port != 0 { a.port } else { *port },
        },
        (None, DialAddr::Unix(_)) if a.port != 0 => DialAddr::Tcp {
            host: Arc::from("localhost"),
            port: a.port,
        },
        (None, u) => u.clone(),
    };
    let fut = async {
        let mut uri = a.uri.clone();
        for _ in 0..10 {
            let resp = request(a, t, &target, &uri).await?;
            let status = resp.status();
            if a.follow && status.is_redirection() {
                if let Some(loc) = resp
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                {
                    uri = loc
                        .parse::<http::Uri>()
                        .ok()
                        .and_then(|u| u.path_and_query().map(|p| p.to_string()))
                        .unwrap_or_else(|| loc.to_string());
                    continue;
                }
            }
            return verdict(a, resp).await;
        }
        Err("too many redirects".to_string())
    };
    tokio::time::timeout(a.timeout, fut)
        .await
        .map_err(|_| "health check timed out".to_string())?
}

async fn request(
    a: &Active,
    t: &HttpTransport,
    target: &DialAddr,
    uri: &str,
) -> Result<http::Response<crate::http::Body>, String> {
    let client = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let conn = t
        .connect_fresh(target, client)
        .await
        .map_err(|e| e.to_string())?;
    let mut req = http::Request::new(UpBody::full(a.body.clone()));
    *req.method_mut() = a.method.clone();
    *req.uri_mut() = uri
        .parse()
        .map_err(|e| format!("health check uri {uri:?}: {e}"))?;
    let host = a
        .host_header
        .clone()
        .or_else(|| http::HeaderValue::from_str(&target.hostport()).ok());
    if let Some(h) = host {
        req.headers_mut().insert(http::header::HOST, h);
    }
    for (k, v) in &a.headers {
        req.headers_mut().append(k.clone(), v.clone());
    }
    t.send(conn, target, req, super::h1::Keep::All)
        .await
        .map_err(|e| e.to_string())
}

async fn verdict(a: &Active, resp: http::Response<crate::http::Body>) -> Result<(), String> {
    let code = resp.status().as_u16();
    let ok = if a.expect_status > 0 {
        code == a.expect_status || (a.expect_status < 100 && code / 100 == a.expect_status)
    } else {
        (200..300).contains(&code)
    };
    if !ok {
        return Err(format!("status {code}"));
    }
    if let Some(re) = &a.expect_body {
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        while let Some(f) = body.frame().await {
            if let Ok(d) = f.map_err(|e| e.to_string())?.into_data() {
                buf.extend_from_slice(&d);
            }
            if buf.len() >= a.max_size {
                buf.truncate(a.max_size);
                break;
            }
        }
        if !re.is_match(&String::from_utf8_lossy(&buf)) {
            return Err("response body failed expectations".into());
        }
    }
    Ok(())
}
