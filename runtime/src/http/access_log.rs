//! Access logs: a server's `logs` settings and the entry Caddy writes for
//! each request (logger `http.log.access[.NAME]`, message `handled request`).
//!
//! Fields, in Caddy's order: `request` {`remote_ip`, `remote_port`,
//! `client_ip`, `proto`, `method`, `host`, `uri`, `headers`}, `bytes_read`,
//! `user_id`, `duration` (seconds), `size`, `status`, `resp_headers`, then
//! fields added by `log_append`. `Authorization`, `Proxy-Authorization`,
//! `Cookie` and `Set-Cookie` values are `REDACTED` unless
//! `should_log_credentials`. Level: error for a status of 400 or more,
//! info otherwise.
//!
//! The entry is written when the response body is done (or dropped), so
//! `duration` and `size` cover sending it. Requests are not logged for
//! `skip_hosts`, for unmapped hosts with `skip_unmapped_hosts`, or when the
//! variable `log_skip` is true; the variable `access_logger_names` (a JSON
//! list, set by `log_name`) replaces the host's logger names. A server
//! without `logs` pays nothing.

use super::{Body, Cx, Response};
use crate::config::ServerLogs;
use crate::logging::encoder::json_str;
use crate::logging::{Level, Logging};
use bytes::Bytes;
use http::HeaderMap;
use http_body::{Frame, SizeHint};
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

const BASE: &str = "http.log.access";

/// A provisioned `logs` section.
pub struct AccessLog {
    logging: Arc<Logging>,
    default_names: Vec<Box<str>>,
    hosts: Vec<(String, Vec<Box<str>>)>,
    skip_hosts: Vec<String>,
    skip_unmapped: bool,
    credentials: bool,
}

fn full_name(name: &str) -> Box<str> {
    if name.is_empty() {
        BASE.into()
    } else {
        format!("{BASE}.{name}").into()
    }
}

impl AccessLog {
    /// Provisions a server's `logs` against the config's loggers.
    pub fn provision(c: &ServerLogs, logging: Arc<Logging>) -> Self {
        AccessLog {
            logging,
            default_names: vec![full_name(c.default_logger_name.as_deref().unwrap_or(""))],
            hosts: c
                .logger_names
                .iter()
                .map(|(h, n)| {
                    (
                        h.to_ascii_lowercase(),
                        n.0.iter().map(|s| full_name(s)).collect(),
                    )
                })
                .collect(),
            skip_hosts: c
                .skip_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            skip_unmapped: c.skip_unmapped_hosts,
            credentials: c.should_log_credentials,
        }
    }

    /// The logger names for `host`: exact, then with labels replaced by `*`
    /// from the left; `None` when unmapped (the default names apply).
    fn mapped(&self, host: &str) -> Option<&[Box<str>]> {
        let find = |h: &str| {
            self.hosts
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(h))
                .map(|(_, v)| v.as_slice())
        };
        if let Some(v) = find(host) {
            return Some(v);
        }
        let mut labels: Vec<&str> = host.split('.').collect();
        for i in 0..labels.len() {
            labels[i] = "*";
            if let Some(v) = find(&labels.join(".")) {
                return Some(v);
            }
        }
        None
    }

    /// The loggers this request goes to (empty: not logged).
    fn names(&self, cx: &Cx<'_>, level: Level) -> Vec<Box<str>> {
        let host = cx.host();
        if self.skip_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
            || cx.var("log_skip") == Some("true")
        {
            return Vec::new();
        }
        let names: Vec<Box<str>> = match cx.var("access_logger_names") {
            Some(list) => serde_json::from_str::<Vec<String>>(list)
                .unwrap_or_default()
                .iter()
                .map(|n| full_name(n))
                .collect(),
            None => match self.mapped(host) {
                Some(v) => v.to_vec(),
                None if self.skip_unmapped => return Vec::new(),
                None => self.default_names.clone(),
            },
        };
        names
            .into_iter()
            .filter(|n| self.logging.enabled(n, level))
            .collect()
    }

    /// Arranges for `response` to be logged once its body is done.
    pub fn wrap(&self, cx: &Cx<'_>, response: Response) -> Response {
        let Some(pending) = self.pending(cx, response.status().as_u16(), response.headers()) else {
            return response;
        };
        response.map(|inner| {
            Body::stream(LoggedBody {
                inner,
                pending: Some(Box::new(pending)),
            })
        })
    }

    /// Logs a request whose client went away before it was answered:
    /// status 499 ("client closed request"), as Caddy records it.
    pub fn client_gone(&self, cx: &Cx<'_>) {
        if let Some(p) = self.pending(cx, 499, &HeaderMap::new()) {
            p.emit();
        }
    }

    /// The log entry of a request answered `status` with `headers`, but
    /// for its duration and size; `None` when no logger takes it.
    fn pending(&self, cx: &Cx<'_>, status: u16, headers: &HeaderMap) -> Option<Pending> {
        let level = if status >= 400 {
            Level::Error
        } else {
            Level::Info
        };
        let names = self.names(cx, level);
        if names.is_empty() {
            return None;
        }
        let mut head = String::with_capacity(512);
        self.write_request(cx, &mut head);
        let _ = write!(
            head,
            ",\"bytes_read\":{},\"user_id\":",
            cx.body.bytes_read()
        );
        json_str(&mut head, cx.auth_user.as_deref().unwrap_or(""));
        let mut tail = String::with_capacity(256);
        let _ = write!(tail, ",\"status\":{status},\"resp_headers\":");
        write_headers(&mut tail, headers, self.credentials, false);
        for (k, v) in &cx.log_fields {
            tail.push(',');
            json_str(&mut tail, k);
            tail.push(':');
            json_str(&mut tail, v);
        }
        Some(Pending {
            logging: self.logging.clone(),
            names,
            level,
            head,
            tail,
            start: cx.start,
            size: 0,
        })
    }

    fn write_request(&self, cx: &Cx<'_>, s: &mut String) {
        s.push_str("\"request\":{\"remote_ip\":\"");
        let _ = write!(
            s,
            "{}\",\"remote_port\":\"{}\"",
            cx.remote_ip(),
            cx.conn.remote_port()
        );
        let _ = write!(s, ",\"client_ip\":\"{}\",\"proto\":", cx.client_ip());
        json_str(s, proto(cx.parts.version));
        s.push_str(",\"method\":");
        json_str(s, cx.orig_method.as_str());
        s.push_str(",\"host\":");
        json_str(s, cx.hostport());
        s.push_str(",\"uri\":");
        json_str(s, cx.orig_uri.path_and_query().map_or("/", |p| p.as_str()));
        s.push_str(",\"headers\":");
        write_headers(s, &cx.parts.headers, self.credentials, true);
        s.push('}');
    }
}

fn proto(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Headers as a JSON object of arrays, names in Go's canonical case.
fn write_headers(s: &mut String, h: &HeaderMap, credentials: bool, request: bool) {
    s.push('{');
    let mut first = true;
    for name in h.keys() {
        let n = name.as_str();
        if request && n == "host" {
            continue;
        }
        if !first {
            s.push(',');
        }
        first = false;
        s.push('"');
        let mut upper = true;
        for c in n.chars() {
            s.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = c == '-';
        }
        s.push_str("\":[");
        let secret = matches!(
            n,
            "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
        );
        if secret && !credentials {
            s.push_str("\"REDACTED\"");
        } else {
            for (i, v) in h.get_all(name).iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                json_str(s, &String::from_utf8_lossy(v.as_bytes()));
            }
        }
        s.push(']');
    }
    s.push('}');
}

/// An entry waiting for its response body to finish.
struct Pending {
    logging: Arc<Logging>,
    names: Vec<Box<str>>,
    level: Level,
    head: String,
    tail: String,
    start: Instant,
    size: u64,
}

impl Pending {
    fn emit(self) {
        let mut fields = self.head;
        let secs = self.start.elapsed().as_secs_f64();
        let _ = write!(fields, ",\"duration\":{secs},\"size\":{}", self.size);
        fields.push_str(&self.tail);
        for name in &self.names {
            self.logging
                .log(name, self.level, "handled request", &fields);
        }
    }
}

/// A response body that logs its request when done.
struct LoggedBody {
    inner: Body,
    pending: Option<Box<Pending>>,
}

impl http_body::Body for LoggedBody {
    type Data = Bytes;
    type Error = super::body::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(f))) => {
                if let (Some(p), Some(d)) = (this.pending.as_mut(), f.data_ref()) {
                    p.size += d.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some(p) = this.pending.take() {
                    p.emit();
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        if let Some(p) = self.pending.take() {
            p.emit();
        }
    }
}
