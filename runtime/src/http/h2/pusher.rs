//! Server push on one HTTP/2 stream: what `http.handlers.push` finds in
//! the request's extensions when the client's connection can be pushed to
//! (never on HTTP/1.1 or HTTP/3, nor on a pushed request itself).
//!
//! [`Pusher::push`] checks the promised request as Go's `Push` does (an
//! absolute path, or an absolute URL of the request's own scheme; GET or
//! HEAD; no pseudo-header, no field that needs a body, no
//! connection-specific field), sends the PUSH_PROMISE on the client's
//! stream, and serves the promised request through the server's routes on
//! a stream of its own. It fails when the client has disabled push, when
//! the pushed streams open on the connection would exceed the client's
//! `SETTINGS_MAX_CONCURRENT_STREAMS`, or when the stream is gone, as Go's
//! does.

use super::{lock, serve_pushed};
use crate::http::serve::ConnCx;
use crate::http::streams::StreamExec;
use bytes::Bytes;
use h2::server::SendResponse;
use http::{HeaderMap, Method, Uri};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Pushes on the stream of one request. Cloned into the request's
/// extensions.
#[derive(Clone)]
pub(crate) struct Pusher(Arc<Inner>);

struct Inner {
    reply: Arc<Mutex<Option<SendResponse<Bytes>>>>,
    cx: Arc<ConnCx>,
    exec: StreamExec,
    limit: Arc<PushLimit>,
    /// `https` on a TLS connection, else `http`.
    scheme: &'static str,
    /// The request's host (`:authority`, else `Host`).
    authority: String,
    /// The push headers of the innermost `push` handler, until the
    /// resources of the response's `Link` fields are pushed with them.
    link_headers: Mutex<Option<HeaderMap>>,
}

impl Pusher {
    pub(super) fn new(
        cx: &Arc<ConnCx>,
        exec: StreamExec,
        limit: Arc<PushLimit>,
        reply: &Arc<Mutex<Option<SendResponse<Bytes>>>>,
        parts: &http::request::Parts,
    ) -> Self {
        let authority = match parts.uri.authority() {
            Some(a) => a.as_str().to_string(),
            None => parts
                .headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
        };
        Pusher(Arc::new(Inner {
            reply: reply.clone(),
            cx: cx.clone(),
            exec,
            limit,
            scheme: if cx.info.tls { "https" } else { "http" },
            authority,
            link_headers: Mutex::new(None),
        }))
    }

    /// Promises `method target` with `headers` and serves it.
    pub(crate) fn push(
        &self,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
    ) -> Result<(), String> {
        let uri = self.promised_uri(target)?;
        check_headers(headers)?;
        if method != Method::GET && method != Method::HEAD {
            return Err(format!("method {method:?} must be GET or HEAD"));
        }
        let request = |h: HeaderMap| {
            let mut r = http::Request::new(());
            *r.method_mut() = method.clone();
            *r.uri_mut() = uri.clone();
            *r.version_mut() = http::Version::HTTP_2;
            *r.headers_mut() = h;
            r
        };
        let open = self.0.limit.try_open().ok_or("push limit reached")?;
        let pushed = {
            let mut reply = lock(&self.0.reply);
            let Some(reply) = reply.as_mut() else {
                return Err("the stream is closed".into());
            };
            reply
                .push_request(request(headers.clone()))
                .map_err(|e| e.to_string())?
        };
        let (parts, ()) = request(headers.clone()).into_parts();
        let serve = serve_pushed(self.0.cx.clone(), parts, pushed, open);
        hyper::rt::Executor::execute(&self.0.exec, serve);
        Ok(())
    }

    /// The URI of a promised request: Go's rules for a push target.
    fn promised_uri(&self, target: &str) -> Result<Uri, String> {
        if target.starts_with('/') {
            let full = format!("{}://{}{}", self.0.scheme, self.0.authority, target);
            return full.parse().map_err(|e| format!("target {target:?}: {e}"));
        }
        let uri: Uri = target
            .parse()
            .map_err(|e| format!("target {target:?}: {e}"))?;
        match uri.scheme_str() {
            None => Err(format!(
                "target must be an absolute URL or an absolute path: {target:?}"
            )),
            Some(s) if s != self.0.scheme => Err(format!(
                "cannot push URL with scheme {s:?} from request with scheme {:?}",
                self.0.scheme
            )),
            Some(_) if uri.host().is_none_or(str::is_empty) => Err("URL must have a host".into()),
            Some(_) => Ok(uri),
        }
    }

    /// Keeps the push headers of a `push` handler for the `Link` fields of
    /// the response (the last handler to run is the innermost).
    pub(crate) fn keep_link_headers(&self, headers: HeaderMap) {
        *lock(&self.0.link_headers) = Some(headers);
    }

    /// The kept push headers, once: `Link` fields are pushed by the first
    /// `push` handler that sees the response, not again by the others.
    pub(crate) fn take_link_headers(&self) -> Option<HeaderMap> {
        lock(&self.0.link_headers).take()
    }
}

/// The pushed streams open on a connection, and the most the client
/// allows (its `SETTINGS_MAX_CONCURRENT_STREAMS`; unlimited until it says).
pub(super) struct PushLimit {
    peer_max: AtomicUsize,
    open: AtomicUsize,
}

impl Default for PushLimit {
    fn default() -> Self {
        PushLimit {
            peer_max: AtomicUsize::new(usize::MAX),
            open: AtomicUsize::new(0),
        }
    }
}

impl PushLimit {
    pub(super) fn set_peer_max(&self, n: usize) {
        self.peer_max.store(n, Ordering::Relaxed);
    }

    /// Counts one more pushed stream open, unless that would exceed the
    /// client's limit (Go's `errPushLimitReached`).
    fn try_open(self: &Arc<Self>) -> Option<OpenPush> {
        let max = self.peer_max.load(Ordering::Relaxed);
        self.open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                (open < max).then_some(open + 1)
            })
            .ok()?;
        Some(OpenPush(self.clone()))
    }
}

/// A pushed stream counted open until dropped.
pub(super) struct OpenPush(Arc<PushLimit>);

impl Drop for OpenPush {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Go's checks of promised request headers.
fn check_headers(h: &HeaderMap) -> Result<(), String> {
    const BODY_OR_HOST: [&str; 6] = [
        "content-length",
        "content-encoding",
        "trailer",
        "te",
        "expect",
        "host",
    ];
    const CONNECTION_SPECIFIC: [&str; 5] = [
        "connection",
        "proxy-connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
    ];
    for name in h.keys() {
        let n = name.as_str();
        if BODY_OR_HOST.contains(&n) {
            return Err(format!("promised request headers cannot include {n:?}"));
        }
        if CONNECTION_SPECIFIC.contains(&n) {
            return Err(format!("request header {n:?} is not valid in HTTP/2"));
        }
    }
    Ok(())
}
