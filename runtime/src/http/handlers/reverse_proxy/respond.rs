//! One proxied exchange: preparing the upstream request (once), sending it
//! on a connection, and finishing the upstream response for the client —
//! passive health strikes, `handle_response` dispatch, hop-by-hop removal,
//! `Via`, response header operations, response buffering, and protocol
//! upgrades (101).

use super::handle_response::ResponseMatcher;
use super::headers::{prepare_request, strip_hop, via};
use super::health::Passive;
use super::transport_http::RtError;
use super::upstreams::{DialAddr, Upstream};
use super::{ReverseProxy, Transport};
use crate::error::HttpError;
use crate::http::handlers::header_ops::HeaderOps;
use crate::http::{Body, Cx, Flow, ReqBody};
use crate::util::IpNet;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What responses and `copy_response` need from the handler.
pub struct Shared {
    pub transport: Transport,
    pub trusted: Vec<IpNet>,
    pub request_ops: HeaderOps,
    pub response_ops: HeaderOps,
    pub response_require: Option<ResponseMatcher>,
    pub response_buffers: i64,
    pub stream_timeout: Option<Duration>,
    pub stream_close_delay: Option<Duration>,
    /// Copy buffer of upgraded streams (`stream_buffer_size`).
    pub stream_buffer: usize,
    pub passive: Option<Passive>,
    /// Passive health: failures that make a host unavailable.
    pub max_fails: usize,
    pub tunnels: super::upgrade::Tunnels,
}

/// The body sent upstream: a buffered head, then the rest of the stream.
pub struct UpBody {
    head: Option<Bytes>,
    rest: Option<ReqBody>,
}

impl UpBody {
    /// An empty body.
    pub fn empty() -> Self {
        UpBody {
            head: None,
            rest: None,
        }
    }

    /// A body of one buffer.
    pub fn full(b: Bytes) -> Self {
        UpBody {
            head: Some(b).filter(|b| !b.is_empty()),
            rest: None,
        }
    }
}

impl http_body::Body for UpBody {
    type Data = Bytes;
    type Error = crate::http::body::BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(h) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(h))));
        }
        match &mut self.rest {
            Some(r) => Pin::new(r).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
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

/// The request as it goes upstream, prepared once for all tries.
pub struct Prepared {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    /// The whole body in memory (replayable).
    buffered: Option<Bytes>,
    /// The unbuffered rest; taken by the first try that sends it.
    stream: Option<UpBody>,
    had_stream: bool,
}

impl Prepared {
    /// Whether the body can be sent again.
    pub fn replayable(&self) -> bool {
        !self.had_stream || self.stream.is_some()
    }

    fn body(&mut self) -> UpBody {
        if let Some(b) = &self.buffered {
            return UpBody {
                head: Some(b.clone()).filter(|b| !b.is_empty()),
                rest: None,
            };
        }
        self.stream.take().unwrap_or_else(UpBody::empty)
    }
}

/// Prepares the upstream request from the client's.
pub async fn prepare(h: &ReverseProxy, cx: &mut Cx<'_>) -> Result<Prepared, HttpError> {
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
    let mut headers = cx.parts.headers.clone();
    prepare_request(cx, &mut headers, &h.shared.trusted);
    let body = std::mem::replace(&mut cx.body, ReqBody::full(Bytes::new()));
    let empty = drop_body || http_body::Body::is_end_stream(&body);
    let mut p = Prepared {
        method,
        uri,
        headers,
        buffered: None,
        stream: None,
        had_stream: false,
    };
    if empty {
        if drop_body {
            p.headers.remove(http::header::CONTENT_LENGTH);
        }
        p.buffered = Some(Bytes::new());
        return Ok(p);
    }
    if h.request_buffers != 0 {
        let (head, rest) = buffer(body, h.request_buffers).await.map_err(body_error)?;
        match rest {
            None => {
                if h.request_buffers < 0 {
                    p.headers
                        .insert(http::header::CONTENT_LENGTH, head.len().into());
                }
                p.buffered = Some(head);
            }
            Some(r) => {
                p.stream = Some(UpBody {
                    head: Some(head),
                    rest: Some(r),
                });
                p.had_stream = true;
            }
        }
    } else {
        p.stream = Some(UpBody {
            head: None,
            rest: Some(body),
        });
        p.had_stream = true;
    }
    Ok(p)
}

/// Reads up to `limit` bytes (all when negative); the rest, if any,
/// stays a stream.
async fn buffer<B>(mut body: B, limit: i64) -> Result<(Bytes, Option<B>), B::Error>
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

fn body_error(e: crate::http::body::BodyError) -> HttpError {
    use crate::http::body::BodyError;
    match e {
        BodyError::TooLarge => {
            HttpError::downstream(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
        }
        BodyError::Timeout => HttpError::downstream(
            StatusCode::REQUEST_TIMEOUT,
            "timed out reading request body",
        ),
        BodyError::Io(e) => HttpError::downstream(
            StatusCode::BAD_REQUEST,
            format!("reading request body: {e}"),
        ),
    }
}

/// Why an attempt failed, and whether it failed before the request left.
pub struct Failure {
    pub error: HttpError,
    pub before_send: bool,
}

/// Maps a transport error to the client's status: 504 on timeouts, the
/// body's own status when the client's body failed, else 502.
pub fn classify(e: &RtError) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<crate::http::body::BodyError>() {
            if !matches!(b, crate::http::body::BodyError::Io(_)) {
                return body_error(match b {
                    crate::http::body::BodyError::TooLarge => {
                        crate::http::body::BodyError::TooLarge
                    }
                    _ => crate::http::body::BodyError::Timeout,
                });
            }
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return HttpError::new(StatusCode::GATEWAY_TIMEOUT, e.to_string());
            }
        }
        source = s.source();
    }
    match e {
        RtError::Timeout => HttpError::new(StatusCode::GATEWAY_TIMEOUT, e.to_string()),
        _ => HttpError::upstream(e.to_string()),
    }
}

/// One try against `up`.
pub async fn round_trip(
    h: &ReverseProxy,
    up: &Upstream,
    addr: &DialAddr,
    cx: &mut Cx<'_>,
    p: &mut Prepared,
) -> Result<Flow, Failure> {
    let _inflight = up.host.begin();
    let mut headers = p.headers.clone();
    if !h.shared.request_ops.is_empty() {
        h.shared.request_ops.apply(cx, &mut headers);
    }
    let client = cx.conn.remote.unwrap_or_else(|| ([0, 0, 0, 0], 0).into());
    let started = Instant::now();
    let resp = match &h.shared.transport {
        Transport::Http(t) => {
            let conn = t.sender(up, addr, client).await.map_err(|e| Failure {
                before_send: matches!(e, RtError::Dial(_) | RtError::Tls(..)),
                error: classify(&e),
            })?;
            let mut req = http::Request::new(p.body());
            *req.method_mut() = p.method.clone();
            *req.uri_mut() = origin_form(&p.uri);
            *req.headers_mut() = headers;
            let r = t.send(conn, addr, req).await.map_err(|e| Failure {
                error: classify(&e),
                before_send: false,
            })?;
            r.map(Body::stream)
        }
        Transport::Fastcgi(f) => {
            let body = p.body();
            f.round_trip(cx, addr, &p.method, &p.uri, headers, body)
                .await
                .map_err(|e| Failure {
                    before_send: e.before_send,
                    error: e.error,
                })?
        }
    };
    let latency = started.elapsed();
    if let Some(info) = cx.proxy.as_deref_mut() {
        info.latency = Some(latency);
    }
    if let Some(passive) = &h.shared.passive {
        passive.strike(&up.host, resp.status(), latency);
    }
    Ok(finish(h, cx, resp).await)
}

fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) => Uri::from(pq.clone()),
        None => Uri::from_static("/"),
    }
}

/// An upstream response kept for `handle_response` routes.
pub struct UpstreamResponse {
    pub response: http::Response<Body>,
    pub shared: Arc<Shared>,
}

async fn finish(h: &ReverseProxy, cx: &mut Cx<'_>, mut resp: http::Response<Body>) -> Flow {
    for (i, rh) in h.handle_response.iter().enumerate() {
        if !rh.matches(cx, &resp) {
            continue;
        }
        if let Some(code) = rh.status(cx) {
            if let Ok(s) = StatusCode::from_u16(code) {
                *resp.status_mut() = s;
            }
            break;
        }
        let info = cx.proxy.get_or_insert_with(Default::default);
        info.status = Some(resp.status());
        info.headers = resp.headers().clone();
        info.response = Some(std::sync::Mutex::new(UpstreamResponse {
            response: resp,
            shared: h.shared.clone(),
        }));
        return Flow::Routes(i);
    }
    Flow::Respond(h.shared.finalize(cx, resp).await)
}

impl Shared {
    /// Makes the client's response from the upstream's.
    pub async fn finalize(
        &self,
        cx: &mut Cx<'_>,
        mut resp: http::Response<Body>,
    ) -> crate::http::Response {
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            return super::upgrade::tunnel(self, cx, resp);
        }
        let version = resp.version();
        let h = resp.headers_mut();
        strip_hop(h, false);
        h.append(http::header::VIA, via(version));
        if !self.response_ops.is_empty()
            && self
                .response_require
                .as_ref()
                .is_none_or(|r| r.matches(cx, resp.status(), resp.headers()))
        {
            self.response_ops.apply(cx, resp.headers_mut());
        }
        if self.response_buffers != 0 {
            let (parts, body) = resp.into_parts();
            let body = match buffer(body, self.response_buffers).await {
                Ok((head, None)) => Body::from_bytes(head),
                Ok((head, Some(rest))) => Body::stream(UpChain {
                    head: Some(head),
                    rest,
                }),
                Err(e) => Body::stream(ErrBody(Some(e))),
            };
            resp = http::Response::from_parts(parts, body);
        }
        *resp.version_mut() = http::Version::HTTP_11;
        resp
    }
}

/// A body that fails at once (an upstream body that broke while
/// buffering).
struct ErrBody(Option<crate::http::body::BoxError>);

impl http_body::Body for ErrBody {
    type Data = Bytes;
    type Error = crate::http::body::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.take().map(Err))
    }
}

/// A buffered head followed by the rest of a response body.
struct UpChain {
    head: Option<Bytes>,
    rest: Body,
}

impl http_body::Body for UpChain {
    type Data = Bytes;
    type Error = crate::http::body::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(h) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(h))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }
}
