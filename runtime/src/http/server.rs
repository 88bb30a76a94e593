//! A provisioned HTTP server: its routes, error routes, limits and
//! client-IP settings, and how it answers one request (Caddy's
//! `Server.ServeHTTP`): run the routes; on error, restore the original
//! request, expose `{http.error.*}` and run the error routes; merge pending
//! response headers and apply the wrapping handlers' hooks; turn a panic
//! into a logged 500.

use super::conn::ConnInfo;
use super::handlers::status_response;
use super::routes::{self, RouteList};
use super::{Body, Cx, ReqBody, Response};
use crate::config::ServerConfig;
use crate::error::{Error, Fault, HttpError};
use crate::listeners::wrappers::Wrappers;
use crate::listeners::{address, ListenAddr};
use crate::registry::Provision;
use crate::util::IpNet;
use http::header::{HeaderName, HeaderValue, SERVER};
use http::StatusCode;
use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

/// Caddy's default idle timeout.
const DEFAULT_IDLE: Duration = Duration::from_secs(300);
/// Caddy's default read-header timeout.
const DEFAULT_READ_HEADER: Duration = Duration::from_secs(60);
/// Caddy's default `read_idle_timeout` and `write_idle_timeout`.
const DEFAULT_IO_IDLE: Duration = Duration::from_secs(60);
/// Default cap on request header bytes.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;

/// Per-connection settings of a server.
#[derive(Debug, Clone, Copy)]
pub struct ConnSettings {
    pub read_header_timeout: Duration,
    pub read_timeout: Option<Duration>,
    /// How long reading a request body may stall, and the rate it must
    /// average (bytes per second, 0 for none).
    pub read_idle: Duration,
    pub read_min_rate: u64,
    /// How long a write to the client may stall: the smaller of
    /// `write_timeout` and `write_idle_timeout`.
    pub write_stall: Duration,
    /// `write_min_rate`: the bytes per second a response must average
    /// from its start (0 for none); see [`super::conn::TimedIo`].
    pub write_min_rate: u64,
    /// `write_timeout`: how long after its request began a response may
    /// still be written (Go's `WriteTimeout`, Caddy's hard write deadline).
    pub write_timeout: Option<Duration>,
    /// `max_write_chunk`: the most one socket write covers (none when
    /// unset: bellhop's stall limit already resets on every partial write).
    pub max_write_chunk: Option<usize>,
    pub idle_timeout: Duration,
    /// TCP keep-alive of accepted connections (`keepalive_idle`,
    /// `keepalive_interval`, `keepalive_count`), set on the listener.
    pub tcp_keepalive: crate::listeners::Keepalive,
    pub max_header_bytes: usize,
    pub h1: bool,
    pub h2c: bool,
    /// HTTP/2 over TLS and HTTP/3 (QUIC) are enabled.
    pub h2: bool,
    pub h3: bool,
    /// A route pushes (`http.handlers.push`): HTTP/2 is served by
    /// [`super::h2`], which can send PUSH_PROMISE frames.
    pub push: bool,
}

/// A provisioned server.
pub struct Server {
    pub name: String,
    pub listen: Vec<ListenAddr>,
    /// Per address of `listen`: what it serves (`listen_protocols`).
    pub listen_protocols: Vec<super::h3::listen::Protocols>,
    pub settings: ConnSettings,
    routes: RouteList,
    errors: Option<RouteList>,
    named: Vec<RouteList>,
    trusted: Vec<IpNet>,
    client_ip_headers: Vec<HeaderName>,
    trusted_strict: bool,
    /// `trusted_proxies_unix`.
    trusted_unix: bool,
    pub logs: Option<crate::config::ServerLogs>,
    /// Connection policies, when the server speaks TLS (set by the
    /// instance once the `tls` app is provisioned).
    pub tls: Option<std::sync::Arc<crate::tls::policy::ServerTls>>,
    /// The QUIC config, when the server serves HTTP/3 (set by the
    /// instance with `tls`; see `tls::quic`).
    pub quic: Option<std::sync::Arc<quinn::ServerConfig>>,
    /// When the server shuts down, once a `shutdown_delay` is running.
    pub shutdown_at: std::sync::OnceLock<tokio::time::Instant>,
    /// `listener_wrappers`, when there are any.
    pub wrappers: Option<std::sync::Arc<Wrappers>>,
    access_log: Option<super::access_log::AccessLog>,
    /// Drops `_` and `.` header names (see `alias_headers`).
    pub alias_filter: super::alias_headers::AliasFilter,
}

impl Server {
    /// Provisions `srv` named `name` at `path`.
    pub fn provision(
        name: &str,
        srv: &ServerConfig,
        p: &mut Provision<'_>,
        path: &str,
    ) -> Result<Self, Error> {
        let mut listen = Vec::new();
        let mut counts = Vec::new();
        for (i, a) in srv.listen.iter().enumerate() {
            let parsed =
                address::parse(a).map_err(|e| Error::config(format!("{path}.listen[{i}]"), e))?;
            counts.push(parsed.len());
            listen.extend(parsed);
        }
        let listen_protocols = super::h3::listen::protocols(srv, &counts, path)?;
        if srv.allow_0rtt == Some(true) {
            return Err(Error::config(
                format!("{path}.allow_0rtt"),
                "0-RTT early data is not supported: bellhop never accepts it (false is the only value)",
            ));
        }
        for (i, w) in srv.listener_wrappers.iter().enumerate() {
            let wp = format!("{path}.listener_wrappers[{i}]");
            p.module_name(w, "wrapper", "caddy.listeners", &wp)?;
        }
        let wrappers =
            Wrappers::provision(&srv.listener_wrappers, &format!("{path}.listener_wrappers"))?;
        p.server = name.to_string();
        p.trace = srv.logs.as_ref().is_some_and(|l| l.trace);
        p.pushes = false;
        let named = p.provision_named(&srv.named_routes, &format!("{path}.named_routes"))?;
        let routes = RouteList::provision(&srv.routes, p, &format!("{path}.routes"))?;
        let errors = match &srv.errors {
            Some(e) if !e.routes.is_empty() => Some(RouteList::provision(
                &e.routes,
                p,
                &format!("{path}.errors.routes"),
            )?),
            _ => None,
        };
        let (trusted, trusted_strict) = trusted_proxies(srv, p, path)?;
        let client_ip_headers = if srv.client_ip_headers.is_empty() {
            vec![HeaderName::from_static("x-forwarded-for")]
        } else {
            srv.client_ip_headers
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    HeaderName::from_bytes(h.as_bytes())
                        .map_err(|e| Error::config(format!("{path}.client_ip_headers[{i}]"), e))
                })
                .collect::<Result<_, _>>()?
        };
        let mut settings = settings(srv, path)?;
        settings.push = p.pushes;
        Ok(Server {
            alias_filter: super::alias_headers::AliasFilter::provision(
                &srv.expected_underscore_headers,
                &srv.expected_dot_headers,
                path,
            )?,
            name: name.to_string(),
            listen,
            listen_protocols,
            settings,
            routes,
            errors,
            named,
            trusted,
            client_ip_headers,
            trusted_strict,
            trusted_unix: srv.trusted_proxies_unix,
            logs: srv.logs.clone(),
            tls: None,
            quic: None,
            wrappers: (!wrappers.is_empty()).then(|| std::sync::Arc::new(wrappers)),
            shutdown_at: std::sync::OnceLock::new(),
            access_log: match (&srv.logs, &p.logging) {
                (Some(l), Some(logging)) => {
                    Some(super::access_log::AccessLog::provision(l, logging.clone()))
                }
                _ => None,
            },
        })
    }

    /// Answers one request. `Err` means: drop the connection unanswered.
    /// A request whose client goes away before it is answered (the
    /// connection drops this future) is logged with status 499, as Caddy
    /// logs it.
    pub fn serve<'a>(&'a self, cx: Cx<'a>) -> impl Future<Output = Result<Response, Abort>> + 'a {
        self.serve_made(move || cx)
    }

    /// [`Self::serve`], the context made by `make` when the future first
    /// runs: made there, in the future's own state, it is not copied in
    /// (about 1 KB, once or twice per request).
    ///
    /// Not an async fn: one would hold `make` twice, as its argument and
    /// as what it awaits.
    pub fn serve_made<'a>(
        &'a self,
        make: impl FnOnce() -> Cx<'a> + 'a,
    ) -> impl Future<Output = Result<Response, Abort>> + 'a {
        let log = self.access_log.as_ref();
        async move {
            // (Made in its own place: made inside `Unanswered`, it was
            // copied there.)
            let mut cx = make();
            let mut pending = Unanswered { cx: &mut cx, log };
            let r = self.answer(pending.cx).await;
            pending.answered();
            r
        }
    }

    async fn answer<'a>(&'a self, cx: &mut Cx<'a>) -> Result<Response, Abort> {
        if cx.parts.method.as_str().len() > 32 {
            return Ok(status_response(StatusCode::METHOD_NOT_ALLOWED));
        }
        if header_bytes(&cx.parts) > self.settings.max_header_bytes {
            return Ok(status_response(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
        }
        // (The response is moved as little as it can be: each move of it
        // is a copy of 150 bytes.)
        let mut response = match routes::run(&self.routes, cx).await {
            Ok(r) => {
                let r = r.unwrap_or_else(|| Response::new(Body::Empty));
                if routes::has_async_hooks(cx) {
                    match routes::apply_async_hooks(cx, r).await {
                        Ok(r) => r,
                        Err(e) => self.failed(cx, e).await,
                    }
                } else {
                    r
                }
            }
            Err(e) => self.failed(cx, e).await,
        };
        if response
            .extensions()
            .get::<super::handlers::Abort>()
            .is_some()
        {
            return Err(Abort);
        }
        finish(cx, &mut response);
        for span in std::mem::take(&mut cx.spans).into_iter().rev() {
            span.end(cx, response.status());
        }
        let size = http_body::Body::size_hint(response.body()).lower();
        super::metrics::finish(cx, response.status(), size, false);
        if let Some(log) = &self.access_log {
            response = log.wrap(cx, response);
        }
        Ok(response)
    }

    /// The routes failed with `e`: counted, and answered by the error
    /// routes. (Boxed: the error path's future would double the
    /// request's.)
    async fn failed<'a>(&'a self, cx: &mut Cx<'a>, e: HttpError) -> Response {
        super::metrics::finish(cx, e.status, 0, true);
        Box::pin(self.handle_error(cx, e)).await
    }

    async fn handle_error<'a>(&'a self, cx: &mut Cx<'a>, e: HttpError) -> Response {
        log_error(&e, cx);
        cx.hooks.clear();
        cx.parts.method = cx.orig_method.clone();
        let orig = cx.orig_uri.clone();
        cx.set_uri(orig);
        let status = e.status;
        cx.error = Some(Box::new(e));
        let Some(errors) = &self.errors else {
            return status_response(status);
        };
        let answered = match routes::run(errors, cx).await {
            Ok(r) => {
                let r = r.unwrap_or_else(|| {
                    status_response(cx.error.as_ref().map_or(status, |e| e.status))
                });
                // The error routes' wrapping handlers (encode, templates…).
                routes::apply_async_hooks(cx, r).await
            }
            Err(e2) => Err(e2),
        };
        answered.unwrap_or_else(|e2| {
            tracing::error!(server = %self.name, error = %e2, first_error = %status, "error handling handler error");
            status_response(status)
        })
    }

    /// Whether the peer of `conn` is a trusted proxy: its address is in
    /// `trusted_proxies`, or it came over a unix socket and
    /// `trusted_proxies_unix` is set.
    pub fn trusts(&self, conn: &ConnInfo) -> bool {
        match conn.remote {
            None => self.trusted_unix,
            Some(_) => self.is_trusted(conn.remote_ip()),
        }
    }

    /// Whether `ip` is one of the server's trusted proxies.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }

    /// Caddy's client IP: the remote IP unless it is a trusted proxy; then
    /// the client IP headers, read left to right (or right to left, in
    /// strict mode, skipping trusted addresses).
    pub fn client_ip(&self, conn: &ConnInfo, headers: &http::HeaderMap) -> IpAddr {
        let remote = conn.remote_ip();
        if !self.trusts(conn) {
            return remote;
        }
        for name in &self.client_ip_headers {
            let mut ips: Vec<IpAddr> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| parse_ip(s.trim()))
                .collect();
            if ips.is_empty() {
                continue;
            }
            if self.trusted_strict {
                ips.reverse();
                if let Some(ip) = ips
                    .iter()
                    .find(|ip| !self.trusted.iter().any(|n| n.contains(**ip)))
                {
                    return *ip;
                }
                return *ips.last().unwrap_or(&remote);
            }
            return ips[0];
        }
        remote
    }
}

/// The request must be dropped without an answer (`abort`, or a panic on
/// HTTP/2 where a 500 cannot be sent any more).
#[derive(Debug)]
pub struct Abort;

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request aborted")
    }
}

impl std::error::Error for Abort {}

fn finish(cx: &mut Cx<'_>, response: &mut Response) {
    if !cx.resp_headers.is_empty() {
        let pending = std::mem::take(&mut cx.resp_headers);
        let h = response.headers_mut();
        for name in pending.keys() {
            if !h.contains_key(name) {
                for v in pending.get_all(name) {
                    h.append(name.clone(), v.clone());
                }
            }
        }
    }
    if !cx.omit_server {
        response
            .headers_mut()
            .entry(SERVER)
            .or_insert(HeaderValue::from_static("bellhop"));
    }
    routes::apply_hooks(cx, response);
}

/// A request being answered: logged with status 499 if dropped unanswered
/// (the client went away).
struct Unanswered<'c, 'a, 'l> {
    cx: &'c mut Cx<'a>,
    log: Option<&'l super::access_log::AccessLog>,
}

impl Unanswered<'_, '_, '_> {
    /// The request was answered: nothing to log when dropped.
    fn answered(&mut self) {
        self.log = None;
    }
}

impl Drop for Unanswered<'_, '_, '_> {
    fn drop(&mut self) {
        if let Some(log) = self.log {
            log.client_gone(self.cx);
        }
        // The next request on this thread parses into it.
        super::spare::keep_header_map(std::mem::take(&mut self.cx.parts.headers));
    }
}

fn log_error(e: &HttpError, cx: &Cx<'_>) {
    let uri = &cx.parts.uri;
    match e.fault {
        Fault::Downstream => {
            tracing::debug!(status = e.status.as_u16(), %uri, error = %e.message, "request failed (client)")
        }
        Fault::Upstream => {
            tracing::warn!(status = e.status.as_u16(), %uri, error = %e.message, "request failed (upstream)")
        }
        Fault::Server => {
            tracing::error!(status = e.status.as_u16(), %uri, error = %e.message, id = %e.id, "request failed")
        }
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse()
        .ok()
        .or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// Bytes of the request head as sent: request line and header lines.
fn header_bytes(parts: &http::request::Parts) -> usize {
    let line = parts.method.as_str().len()
        + parts.uri.path_and_query().map_or(1, |p| p.as_str().len())
        + 12;
    parts
        .headers
        .iter()
        .fold(line, |n, (k, v)| n + k.as_str().len() + v.len() + 4)
}

fn trusted_proxies(
    srv: &ServerConfig,
    p: &Provision<'_>,
    path: &str,
) -> Result<(Vec<IpNet>, bool), Error> {
    let Some(tp) = &srv.trusted_proxies else {
        // strict still applies to a unix-socket proxy (trusted_proxies_unix)
        return Ok((Vec::new(), srv.trusted_proxies_strict > 0));
    };
    let tpath = format!("{path}.trusted_proxies");
    p.module_name(tp, "source", "http.ip_sources", &tpath)?;
    let mut nets = Vec::new();
    if let Some(ranges) = tp.get("ranges") {
        let ranges: Vec<String> = p.decode(ranges, &format!("{tpath}.ranges"))?;
        for (i, r) in ranges.iter().enumerate() {
            nets.push(
                r.parse()
                    .map_err(|e: String| Error::config(format!("{tpath}.ranges[{i}]"), e))?,
            );
        }
    }
    if let Some(k) = tp.keys().find(|k| *k != "source" && *k != "ranges") {
        return Err(Error::config(format!("{tpath}.{k}"), "unknown field"));
    }
    Ok((nets, srv.trusted_proxies_strict > 0))
}

fn settings(srv: &ServerConfig, path: &str) -> Result<ConnSettings, Error> {
    let protocols = srv
        .protocols
        .clone()
        .unwrap_or_else(|| vec!["h1".into(), "h2".into(), "h3".into()]);
    for (i, p) in protocols.iter().enumerate() {
        if !matches!(p.as_str(), "h1" | "h2" | "h2c" | "h3") {
            return Err(Error::config(
                format!("{path}.protocols[{i}]"),
                format!("unknown protocol {p:?}"),
            ));
        }
    }
    let has = |p: &str| protocols.iter().any(|x| x == p);
    let d = |o: Option<crate::config::CaddyDuration>| o.map(|d| d.0).filter(|d| !d.is_zero());
    for (v, field) in [
        (srv.read_min_rate, "read_min_rate"),
        (srv.write_min_rate, "write_min_rate"),
        (srv.max_write_chunk, "max_write_chunk"),
    ] {
        if v < 0 {
            return Err(Error::config(
                format!("{path}.{field}"),
                "must not be negative",
            ));
        }
    }
    let write_idle = d(srv.write_idle_timeout).unwrap_or(DEFAULT_IO_IDLE);
    Ok(ConnSettings {
        read_idle: d(srv.read_idle_timeout).unwrap_or(DEFAULT_IO_IDLE),
        read_min_rate: srv.read_min_rate as u64,
        write_stall: d(srv.write_timeout).map_or(write_idle, |w| w.min(write_idle)),
        write_min_rate: srv.write_min_rate as u64,
        write_timeout: d(srv.write_timeout),
        max_write_chunk: usize::try_from(srv.max_write_chunk).ok().filter(|n| *n > 0),
        read_header_timeout: d(srv.read_header_timeout).unwrap_or(DEFAULT_READ_HEADER),
        read_timeout: d(srv.read_timeout),
        idle_timeout: d(srv.idle_timeout).unwrap_or(DEFAULT_IDLE),
        // Go's defaults for what Caddy leaves zero: 15 s, 15 s, 9 probes
        tcp_keepalive: crate::listeners::Keepalive {
            idle: d(srv.keepalive_idle).unwrap_or(Duration::from_secs(15)),
            interval: d(srv.keepalive_interval).unwrap_or(Duration::from_secs(15)),
            count: srv.keepalive_count.filter(|n| *n > 0).unwrap_or(9),
        },
        max_header_bytes: srv
            .max_header_bytes
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_HEADER_BYTES),
        h1: has("h1"),
        h2c: has("h2c"),
        h2: has("h2"),
        h3: has("h3"),
        push: false,
    })
}

impl ConnSettings {
    /// The protocols served, as Caddy names them (`h1,h2,h3`).
    pub fn protocols(&self) -> String {
        let all = [
            ("h1", self.h1),
            ("h2", self.h2),
            ("h2c", self.h2c),
            ("h3", self.h3),
        ];
        let on: Vec<&str> = all.iter().filter(|(_, on)| *on).map(|(p, _)| *p).collect();
        on.join(",")
    }

    /// The ALPN protocols a TLS connection may negotiate, preferred first.
    pub fn alpn(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.h2 {
            v.push("h2");
        }
        if self.h1 {
            v.push("http/1.1");
        }
        v
    }
}

impl Server {
    /// Whether the server has no routes at all.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Calls `cleanup` on every handler.
    pub fn cleanup(&self) {
        self.routes.for_each_handler(&mut |h| h.cleanup());
        if let Some(e) = &self.errors {
            e.for_each_handler(&mut |h| h.cleanup());
        }
        for n in &self.named {
            n.for_each_handler(&mut |h| h.cleanup());
        }
    }

    /// Whether requests are access-logged (a log reads the response's
    /// fields).
    pub fn logs_access(&self) -> bool {
        self.access_log.is_some()
    }

    /// The named route `invoke` refers to by index.
    pub fn named_route(&self, index: usize) -> Option<&RouteList> {
        self.named.get(index)
    }

    /// Builds the request context on a connection.
    pub fn context<'a>(
        &'a self,
        parts: http::request::Parts,
        body: hyper::body::Incoming,
        conn: &'a ConnInfo,
    ) -> Cx<'a> {
        Cx::new(
            parts,
            ReqBody::incoming(body, self.settings.read_timeout)
                .watching(self.settings.read_idle, self.settings.read_min_rate),
            conn,
            self,
        )
    }
}
