//! [`Cx`]: everything about one request that handlers, matchers and the
//! replacer share — the request head and body, the connection, the server,
//! `vars`, regexp captures, the original request, the error being handled,
//! and lazily computed values (decoded path, query pairs, client IP, UUID)
//! that are computed at most once per request.

use super::conn::ConnInfo;
use super::server::Server;
use super::{Handler, ReqBody};
use crate::error::HttpError;
use http::{Method, Uri};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Instant;

/// The result of a `file` matcher, for `{http.matchers.file.*}`.
#[derive(Debug, Clone, Default)]
pub struct FileMatch {
    pub relative: String,
    pub absolute: String,
    pub kind: &'static str,
    pub remainder: String,
}

/// The state of one request.
pub struct Cx<'a> {
    pub parts: http::request::Parts,
    pub body: ReqBody,
    pub conn: &'a ConnInfo,
    pub server: &'a Server,
    pub vars: Vec<(Box<str>, String)>,
    /// Placeholders defined at run time (`map` destinations), by name.
    pub repl_vars: Vec<(Box<str>, String)>,
    pub regexp: Vec<(String, String)>,
    pub hooks: Vec<&'a dyn Handler>,
    pub groups: Vec<&'a str>,
    /// The error being handled (boxed: most requests have none, and the
    /// context is moved with each request's future).
    pub error: Option<Box<HttpError>>,
    pub file_match: Option<Box<FileMatch>>,
    pub auth_user: Option<String>,
    /// Extra access-log fields (`log_append`).
    pub log_fields: Vec<(Box<str>, String)>,
    /// Response headers set by handlers before a response exists (Caddy's
    /// immediate `headers` response operations); merged into the response.
    pub resp_headers: http::HeaderMap,
    pub start: Instant,
    /// What `reverse_proxy` did, for `{http.reverse_proxy.*}` and its
    /// `handle_response` routes.
    pub proxy: Option<Box<crate::http::handlers::reverse_proxy::ProxyInfo>>,
    /// The spans the `tracing` handlers opened, ended with the response.
    pub spans: Vec<crate::http::handlers::SpanEnd>,
    pub orig_method: Method,
    pub orig_uri: Uri,
    /// Leave out bellhop's `Server` header (a proxied response: Caddy
    /// removes its own there and passes the upstream's, if any).
    pub omit_server: bool,
    /// bellhop's own HTTP/1.1 writer writes the response, which can take
    /// an upstream's fields as they came (`raw_fields`).
    pub own_writer: bool,
    /// The instrumented handlers entered, when metrics are collected.
    pub metered: super::metrics::Metered<'a>,
    path: OnceLock<Option<String>>,
    /// A rewrite left the path without its leading `/`, which Go's URL
    /// holds and `http::Uri` cannot: the URI keeps the `/`, the path and
    /// URI placeholders leave it out.
    slashless: bool,
    uuid: OnceLock<String>,
    client_ip: OnceLock<IpAddr>,
}

impl<'a> Cx<'a> {
    /// Builds the context of a request that just arrived.
    pub fn new(
        parts: http::request::Parts,
        body: ReqBody,
        conn: &'a ConnInfo,
        server: &'a Server,
    ) -> Self {
        Self::started(parts, body, conn, server, Instant::now())
    }

    /// Builds the context of a request that arrived at `start`.
    pub fn started(
        parts: http::request::Parts,
        body: ReqBody,
        conn: &'a ConnInfo,
        server: &'a Server,
        start: Instant,
    ) -> Self {
        Cx {
            orig_method: parts.method.clone(),
            orig_uri: parts.uri.clone(),
            parts,
            body,
            conn,
            server,
            vars: Vec::new(),
            repl_vars: Vec::new(),
            regexp: Vec::new(),
            hooks: Vec::new(),
            groups: Vec::new(),
            error: None,
            file_match: None,
            auth_user: None,
            log_fields: Vec::new(),
            resp_headers: http::HeaderMap::new(),
            start,
            proxy: None,
            spans: Vec::new(),
            omit_server: false,
            own_writer: false,
            metered: Default::default(),
            path: OnceLock::new(),
            slashless: false,
            uuid: OnceLock::new(),
            client_ip: OnceLock::new(),
        }
    }

    /// Whether nothing between the handler that answers and the writer
    /// reads or changes the response's fields but the connection's own
    /// additions (`Connection: close`, `Alt-Svc`), and the writer can
    /// take them as an upstream sent them ([`super::raw_fields`]): no
    /// response hook (`header`, `encode`, `intercept`, `templates`), no
    /// response header set before the answer, no access log.
    pub fn fields_unread(&self) -> bool {
        self.own_writer
            && self.hooks.is_empty()
            && self.resp_headers.is_empty()
            && !self.server.logs_access()
    }

    /// The percent-decoded request path (Go's `r.URL.Path`).
    pub fn path(&self) -> &str {
        let decoded = self
            .path
            .get_or_init(|| match decode_path(self.parts.uri.path()) {
                Cow::Borrowed(_) => None,
                Cow::Owned(s) => Some(s),
            });
        let path = decoded.as_deref().unwrap_or_else(|| self.parts.uri.path());
        self.unslash(path)
    }

    /// The request URI as Go's `RequestURI` (path and query).
    pub fn request_uri(&self) -> &str {
        self.unslash(request_uri_of(&self.parts.uri))
    }

    fn unslash<'s>(&self, s: &'s str) -> &'s str {
        match self.slashless {
            true => s.strip_prefix('/').unwrap_or(s),
            false => s,
        }
    }

    /// The raw query string, without `?`.
    pub fn query(&self) -> &str {
        self.parts.uri.query().unwrap_or("")
    }

    /// Replaces the request URI (rewrite), resetting what depends on it.
    pub fn set_uri(&mut self, uri: Uri) {
        self.parts.uri = uri;
        self.path = OnceLock::new();
        self.slashless = false;
    }

    /// Sets a URI whose path is `/` followed by a path that had no leading
    /// `/` (see [`Cx::request_uri`]).
    pub fn set_slashless_uri(&mut self, uri: Uri) {
        self.set_uri(uri);
        self.slashless = true;
    }

    /// The value of a variable set by `vars` or a handler.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a variable.
    pub fn set_var(&mut self, name: &str, value: String) {
        match self.vars.iter_mut().find(|(k, _)| &**k == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.into(), value)),
        }
    }

    /// Records a regexp capture for `{http.regexp.KEY}`.
    pub fn set_capture(&mut self, key: String, value: String) {
        match self.regexp.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.regexp.push((key, value)),
        }
    }

    /// A regexp capture by key (`name.1`, `name.group`).
    pub fn capture(&self, key: &str) -> Option<&str> {
        self.regexp
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The request's host without port, as the client sent it.
    pub fn host(&self) -> &str {
        let hostport = self.hostport();
        split_host(hostport).0
    }

    /// The `Host` header (or the URI authority for HTTP/2).
    pub fn hostport(&self) -> &str {
        self.parts
            .uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| {
                self.parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
            })
            .unwrap_or("")
    }

    /// A random UUID v4 for this request, made on first use.
    pub fn uuid(&self) -> &str {
        self.uuid.get_or_init(|| {
            let (a, b) = (crate::util::random_u64(), crate::util::random_u64());
            let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
            let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
            format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xffff,
                b >> 48,
                b & 0xffff_ffff_ffff
            )
        })
    }

    /// The client's IP: the remote address, or, when the remote is a
    /// trusted proxy, the first untrusted address from the client IP
    /// headers (Caddy's `client_ip`).
    pub fn client_ip(&self) -> IpAddr {
        *self
            .client_ip
            .get_or_init(|| self.server.client_ip(self.conn, &self.parts.headers))
    }

    /// The remote IP of the connection (unspecified for unix sockets).
    pub fn remote_ip(&self) -> IpAddr {
        self.conn.remote_ip()
    }
}

/// Splits `host:port`, handling `[v6]:port`.
pub fn split_host(hostport: &str) -> (&str, &str) {
    if let Some(rest) = hostport.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let port = rest[end + 1..].strip_prefix(':').unwrap_or("");
            return (&rest[..end], port);
        }
    }
    match hostport.rfind(':') {
        Some(i) if !hostport[..i].contains(':') => (&hostport[..i], &hostport[i + 1..]),
        _ => (hostport, ""),
    }
}

/// The value of the request cookie `name` (the first, quotes removed), as
/// Go's `Request.Cookie`.
pub fn cookie<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.trim_matches('"'))
        })
}

/// Percent-decodes a path, lossily for invalid UTF-8.
pub fn decode_path(raw: &str) -> Cow<'_, str> {
    if !raw.contains('%') {
        return Cow::Borrowed(raw);
    }
    percent_encoding::percent_decode_str(raw).decode_utf8_lossy()
}

/// The path and query of `uri` (`/` when it has none).
pub fn request_uri_of(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |pq| pq.as_str())
}
