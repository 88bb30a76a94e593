//! The upstream request, prepared once for all tries: the optional
//! `rewrite`, the header rules of `headers` (hop-by-hop, `X-Forwarded-*`,
//! `Via`), and `request_buffers` (a body read whole into memory can be
//! replayed on a retry; a streamed one cannot). [`UpBody`] is the body
//! sent: a buffered head, then the client's stream, optionally held back
//! until the upstream answers `100 Continue` (`expect_continue_timeout`).

use super::direct::direct_ok;
use super::headers::{copy_with_room, prepare_request, ADDED};
use super::ReverseProxy;
use crate::error::HttpError;
use crate::http::{Cx, ReqBody};
use crate::util::IpNet;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Uri};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;
use tokio::time::Sleep;

/// The request as it goes upstream, prepared once for all tries.
pub struct Prepared {
    pub method: Method,
    pub uri: Uri,
    /// The upstream request's fields; `None` while `direct` (then no map
    /// is made, nor dropped).
    headers: Option<HeaderMap>,
    /// The fields are not made yet: they can be written straight from the
    /// client's (`direct`), or made in `headers` when a try needs them
    /// (see [`Prepared::materialize`]).
    direct: bool,
    /// The whole body in memory (replayable).
    buffered: Option<Bytes>,
    /// The unbuffered rest; taken by the first try that sends it.
    stream: Option<UpBody>,
    had_stream: bool,
}

/// Nothing prepared yet: [`prepare`] fills it in, where the proxy's future
/// holds it (returned from an async fn, it was copied four times on its
/// way there).
impl Default for Prepared {
    fn default() -> Self {
        Prepared {
            method: Method::GET,
            uri: Uri::default(),
            headers: None,
            direct: true,
            buffered: None,
            stream: None,
            had_stream: false,
        }
    }
}

impl Prepared {
    /// Whether the body can be sent again.
    pub fn replayable(&self) -> bool {
        !self.had_stream || self.stream.is_some()
    }

    /// The request body as the client sent it, when no try sent it (all
    /// failed before sending): handed back to the request, so error routes
    /// can still use it, as Caddy's can.
    pub fn unsent_body(&mut self) -> Option<ReqBody> {
        if let Some(b) = self.buffered.take() {
            return Some(ReqBody::full(b));
        }
        match self.stream.take() {
            Some(UpBody {
                head: None,
                rest: Some(rest),
                ..
            }) => Some(rest),
            Some(UpBody {
                head: Some(head),
                rest: None,
                ..
            }) => Some(ReqBody::full(head)),
            other => {
                self.stream = other;
                None
            }
        }
    }

    /// Whether the fields are still to be made from the client's.
    pub fn direct(&self) -> bool {
        self.direct
    }

    /// Whether the whole body is in memory.
    pub fn in_memory(&self) -> bool {
        self.buffered.is_some()
    }

    /// Makes the upstream request's fields in `headers`, if they are not
    /// made yet (`cx`'s request is the one prepared, unchanged since).
    pub fn materialize(&mut self, cx: &Cx<'_>, trusted: &[IpNet]) {
        if std::mem::take(&mut self.direct) {
            let headers = self
                .headers
                .insert(copy_with_room(&cx.parts.headers, ADDED));
            prepare_request(cx, headers, trusted);
        }
    }

    /// The upstream request's fields (empty while `direct`).
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_or_insert_default()
    }

    /// The upstream request's fields, taken (a lone try) or copied.
    pub fn take_headers(&mut self, copy: bool) -> HeaderMap {
        match copy {
            true => self.headers.clone().unwrap_or_default(),
            false => self.headers.take().unwrap_or_default(),
        }
    }

    pub fn body(&mut self) -> UpBody {
        if let Some(b) = &self.buffered {
            return UpBody::full(b.clone());
        }
        self.stream.take().unwrap_or_else(UpBody::empty)
    }
}

/// Prepares the upstream request from the client's, in `p` (as
/// [`Prepared::default`] made it).
pub async fn prepare(h: &ReverseProxy, cx: &mut Cx<'_>, p: &mut Prepared) -> Result<(), HttpError> {
    let (mut method, mut uri) = (cx.parts.method.clone(), cx.parts.uri.clone());
    let mut drop_body = false;
    if let Some(rw) = &h.rewrite {
        let (m0, u0) = (cx.parts.method.clone(), cx.parts.uri.clone());
        if let crate::http::Step::Fail(e) = rw.handle(cx) {
            return Err(e);
        }
        (method, uri) = (cx.parts.method.clone(), cx.parts.uri.clone());
        drop_body =
            (method != m0 || uri != u0) && (method == Method::GET || method == Method::HEAD);
        cx.parts.method = m0;
        cx.set_uri(u0);
    }
    let trusted = &h.shared.trusted;
    (p.method, p.uri) = (method, uri);
    if !direct_ok(cx, trusted) {
        p.materialize(cx, trusted);
    }
    if super::headers::h2_websocket(&cx.parts) {
        // RFC 8441 in, an HTTP/1.1 Upgrade out.
        p.method = Method::GET;
        super::headers::to_h1_websocket(p.headers_mut());
    }
    let body = std::mem::replace(&mut cx.body, ReqBody::full(Bytes::new()));
    let empty = drop_body || http_body::Body::is_end_stream(&body);
    if empty {
        if drop_body {
            p.materialize(cx, trusted);
            p.headers_mut().remove(http::header::CONTENT_LENGTH);
        }
        p.buffered = Some(Bytes::new());
        return Ok(());
    }
    if h.request_buffers != 0 {
        let (head, rest) = Box::pin(buffer(body, h.request_buffers))
            .await
            .map_err(HttpError::from)?;
        match rest {
            None => {
                if h.request_buffers < 0 {
                    p.materialize(cx, trusted);
                    p.headers_mut()
                        .insert(http::header::CONTENT_LENGTH, head.len().into());
                }
                p.buffered = Some(head);
            }
            Some(r) => {
                p.stream = Some(UpBody::new(Some(head), Some(r)));
                p.had_stream = true;
            }
        }
    } else {
        p.stream = Some(UpBody::new(None, Some(body)));
        p.had_stream = true;
    }
    Ok(())
}

/// Reads up to `limit` bytes (all when negative); the rest, if any,
/// stays a stream.
pub async fn buffer<B>(mut body: B, limit: i64) -> Result<(Bytes, Option<B>), B::Error>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut buf = BytesMut::new();
    while limit < 0 || (buf.len() as i64) < limit {
        match body.frame().await {
            None => return Ok((buf.freeze(), None)),
            Some(f) => {
                if let Ok(d) = f?.into_data() {
                    buf.extend_from_slice(&d);
                }
            }
        }
    }
    if http_body::Body::is_end_stream(&body) {
        return Ok((buf.freeze(), None));
    }
    Ok((buf.freeze(), Some(body)))
}

/// Holds a request body back until `100 Continue` or a timeout.
struct Gate {
    notified: Pin<Box<OwnedNotified>>,
    timeout: Pin<Box<Sleep>>,
}

/// The body sent upstream: a buffered head, then the rest of the stream.
pub struct UpBody {
    head: Option<Bytes>,
    rest: Option<ReqBody>,
    gate: Option<Gate>,
}

impl UpBody {
    /// An empty body.
    pub fn empty() -> Self {
        Self::new(None, None)
    }

    /// A body of one buffer.
    pub fn full(b: Bytes) -> Self {
        Self::new(Some(b), None)
    }

    /// `head` (skipped when empty), then `rest`.
    pub fn new(head: Option<Bytes>, rest: Option<ReqBody>) -> Self {
        UpBody {
            head: head.filter(|b| !b.is_empty()),
            rest,
            gate: None,
        }
    }

    /// Sends nothing until `go` is notified or `timeout` has passed.
    pub fn hold_until(&mut self, go: Arc<Notify>, timeout: Duration) {
        if self.is_end() {
            return;
        }
        self.gate = Some(Gate {
            notified: Box::pin(go.notified_owned()),
            timeout: Box::pin(tokio::time::sleep(timeout)),
        });
    }

    /// Whether the whole body is in memory (no stream, not held back).
    pub fn is_in_memory(&self) -> bool {
        self.rest.is_none() && self.gate.is_none()
    }

    /// The body in memory (see `is_in_memory`).
    pub fn into_bytes(self) -> Bytes {
        self.head.unwrap_or_default()
    }

    fn is_end(&self) -> bool {
        self.head.is_none()
            && self
                .rest
                .as_ref()
                .is_none_or(http_body::Body::is_end_stream)
    }
}

impl http_body::Body for UpBody {
    type Data = Bytes;
    type Error = crate::http::body::BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(g) = &mut self.gate {
            let go =
                g.notified.as_mut().poll(cx).is_ready() || g.timeout.as_mut().poll(cx).is_ready();
            if !go {
                return Poll::Pending;
            }
            self.gate = None;
        }
        if let Some(h) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(h))));
        }
        match &mut self.rest {
            Some(r) => Pin::new(r).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.is_end()
    }

    fn size_hint(&self) -> SizeHint {
        let head = self.head.as_ref().map_or(0, |h| h.len() as u64);
        match &self.rest {
            None => SizeHint::with_exact(head),
            Some(r) => {
                let h = r.size_hint();
                let mut s = SizeHint::new();
                s.set_lower(h.lower() + head);
                if let Some(u) = h.upper() {
                    s.set_upper(u + head);
                }
                s
            }
        }
    }
}
