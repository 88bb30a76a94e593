//! Request and response bodies.
//!
//! [`Body`] is the response body: empty, one buffer, or a boxed stream
//! (files, upstream responses, compressed output). Only streams allocate.
//! [`ReqBody`] is the request body as handlers see it: hyper's incoming
//! stream (or a buffer after it has been read), with the optional size cap
//! of `request_body` (`max_size`, which answers 413) and the deadline of the
//! server's `read_timeout`.

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// A boxed error for body streams.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body.
pub enum Body {
    Empty,
    Full(Option<Bytes>),
    Stream(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// A body of one buffer.
    pub fn from_bytes(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        if b.is_empty() {
            Body::Empty
        } else {
            Body::Full(Some(b))
        }
    }

    /// A body from any stream.
    pub fn stream<B>(b: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        use http_body_util::BodyExt;
        Body::Stream(b.map_err(Into::into).boxed_unsync())
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(s) => Pin::new(s).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(b) => b.is_none(),
            Body::Stream(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Stream(s) => s.size_hint(),
        }
    }
}

/// Why reading a request body failed.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More than `request_body.max_size` bytes.
    #[error("request body too large")]
    TooLarge,
    /// The client took longer than `read_timeout`.
    #[error("timed out reading request body")]
    Timeout,
    /// The body stalled longer than `read_idle_timeout` (or fell behind
    /// `read_min_rate`).
    #[error("request body stalled")]
    Stalled,
    /// The connection (or the HTTP/3 stream) failed.
    #[error("reading request body: {0}")]
    Io(#[source] BoxError),
}

impl From<BodyError> for crate::error::HttpError {
    fn from(e: BodyError) -> Self {
        use crate::error::HttpError;
        use http::StatusCode;
        match e {
            BodyError::TooLarge => {
                HttpError::downstream(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
            }
            BodyError::Timeout => HttpError::downstream(
                StatusCode::REQUEST_TIMEOUT,
                "timed out reading request body",
            ),
            BodyError::Stalled => HttpError::downstream(
                StatusCode::REQUEST_TIMEOUT,
                "request body stalled (read_idle_timeout)",
            ),
            BodyError::Io(e) => HttpError::downstream(
                StatusCode::BAD_REQUEST,
                format!("reading request body: {e}"),
            ),
        }
    }
}

enum ReqInner {
    Incoming(hyper::body::Incoming),
    /// Another transport's body (HTTP/3). The mutex only makes it `Sync`
    /// (as handlers need): polling goes through `get_mut`, never locks.
    Stream(std::sync::Mutex<UnsyncBoxBody<Bytes, BoxError>>),
    Full(Option<Bytes>),
}

/// A request body with an optional size cap and read deadline.
pub struct ReqBody {
    inner: ReqInner,
    limit: Option<u64>,
    seen: u64,
    deadline: Option<Pin<Box<Sleep>>>,
    /// `read_idle_timeout`: the timer a stall must not outlast.
    idle: Option<Box<Idle>>,
}

/// Caddy's `IdleDeadline` for reads: without a rate, a stall of
/// `timeout` fails the read; with one, the allowance is `timeout` plus
/// `1/rate` seconds per byte read so far, from `start`.
struct Idle {
    timer: Pin<Box<Sleep>>,
    timeout: Duration,
    rate: u64,
    start: Instant,
}

impl Idle {
    fn next(&self, seen: u64) -> Instant {
        if self.rate == 0 {
            return Instant::now() + self.timeout;
        }
        let credit = Duration::from_secs_f64(seen as f64 / self.rate as f64);
        self.start + self.timeout + credit
    }
}

impl ReqBody {
    /// Wraps hyper's incoming body; `read_timeout` bounds the whole read.
    pub fn incoming(body: hyper::body::Incoming, read_timeout: Option<Duration>) -> Self {
        let deadline = read_timeout
            .filter(|_| !http_body::Body::is_end_stream(&body))
            .map(|t| Box::pin(tokio::time::sleep_until(Instant::now() + t)));
        ReqBody {
            inner: ReqInner::Incoming(body),
            limit: None,
            seen: 0,
            deadline,
            idle: None,
        }
    }

    /// Wraps another transport's body stream (HTTP/3); `read_timeout`
    /// bounds the whole read.
    pub fn stream<B>(body: B, read_timeout: Option<Duration>) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        use http_body_util::BodyExt;
        let body = body.map_err(Into::into).boxed_unsync();
        let deadline = read_timeout
            .filter(|_| !http_body::Body::is_end_stream(&body))
            .map(|t| Box::pin(tokio::time::sleep_until(Instant::now() + t)));
        ReqBody {
            inner: ReqInner::Stream(std::sync::Mutex::new(body)),
            limit: None,
            seen: 0,
            deadline,
            idle: None,
        }
    }

    /// No body (a request without one).
    pub fn empty() -> Self {
        ReqBody {
            inner: ReqInner::Full(None),
            limit: None,
            seen: 0,
            deadline: None,
            idle: None,
        }
    }

    /// A body of one buffer.
    pub fn full(b: Bytes) -> Self {
        ReqBody {
            inner: ReqInner::Full(Some(b)),
            limit: None,
            seen: 0,
            deadline: None,
            idle: None,
        }
    }

    /// Caps the body at `max` bytes (the smaller cap wins).
    pub fn limit(&mut self, max: u64) {
        self.limit = Some(self.limit.map_or(max, |l| l.min(max)));
    }

    /// Watches the body for stalls (`read_idle_timeout`, `read_min_rate`);
    /// a body already complete is not watched.
    pub fn watching(mut self, timeout: Duration, rate: u64) -> Self {
        if !timeout.is_zero() && !http_body::Body::is_end_stream(&self) {
            let start = Instant::now();
            self.idle = Some(Box::new(Idle {
                timer: Box::pin(tokio::time::sleep_until(start + timeout)),
                timeout,
                rate,
                start,
            }));
        }
        self
    }

    /// Restarts the read deadline: the rest of the body must arrive within
    /// `t` from now (`request_body`'s `read_timeout`).
    pub fn set_read_timeout(&mut self, t: Duration) {
        if !http_body::Body::is_end_stream(self) {
            self.deadline = Some(Box::pin(tokio::time::sleep_until(Instant::now() + t)));
        }
    }

    /// Bytes read from the client so far.
    pub fn bytes_read(&self) -> u64 {
        self.seen
    }

    /// The whole body, once [`ReqBody::read_whole`] has read it (and until
    /// it is consumed).
    pub fn buffered(&self) -> Option<&Bytes> {
        match &self.inner {
            ReqInner::Full(b) => b.as_ref(),
            _ => None,
        }
    }

    /// Reads the rest of the body into memory (within the cap and the
    /// deadline), so that placeholders can see it and it can still be
    /// consumed after.
    pub async fn read_whole(&mut self) -> Result<(), BodyError> {
        use http_body_util::BodyExt;
        if matches!(self.inner, ReqInner::Full(_)) {
            return Ok(());
        }
        let whole = (&mut *self).collect().await?.to_bytes();
        self.inner = ReqInner::Full(Some(whole));
        self.deadline = None;
        self.idle = None;
        Ok(())
    }

    /// The cap set by `request_body`, if any.
    pub fn max_size(&self) -> Option<u64> {
        self.limit
    }
}

impl http_body::Body for ReqBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let polled = match &mut this.inner {
            ReqInner::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqInner::Incoming(b) => Pin::new(b)
                .poll_frame(cx)
                .map(|r| r.map(|r| r.map_err(|e| BodyError::Io(e.into())))),
            ReqInner::Stream(b) => Pin::new(b.get_mut().unwrap_or_else(|e| e.into_inner()))
                .poll_frame(cx)
                .map(|r| r.map(|r| r.map_err(BodyError::Io))),
        };
        if polled.is_pending() {
            if let Some(d) = &mut this.deadline {
                if d.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(BodyError::Timeout)));
                }
            }
            if let Some(idle) = &mut this.idle {
                if idle.timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(BodyError::Stalled)));
                }
            }
        }
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                this.seen += data.len() as u64;
                if let Some(idle) = &mut this.idle {
                    let next = idle.next(this.seen);
                    idle.timer.as_mut().reset(next);
                }
                if this.limit.is_some_and(|l| this.seen > l) {
                    return Poll::Ready(Some(Err(BodyError::TooLarge)));
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            ReqInner::Incoming(b) => b.is_end_stream(),
            ReqInner::Stream(b) => b.lock().unwrap_or_else(|e| e.into_inner()).is_end_stream(),
            ReqInner::Full(b) => b.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            ReqInner::Incoming(b) => b.size_hint(),
            ReqInner::Stream(b) => b.lock().unwrap_or_else(|e| e.into_inner()).size_hint(),
            ReqInner::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}

use std::future::Future;

/// A response body that fails once its deadline has passed (a write
/// timeout: the rest of the response is cut off and the connection
/// closed).
pub struct Deadline {
    body: Body,
    sleep: Pin<Box<Sleep>>,
    /// What set the deadline, for the error.
    what: &'static str,
}

impl Deadline {
    /// `body`, failing at `deadline`.
    pub fn new(body: Body, deadline: Instant, what: &'static str) -> Self {
        Deadline {
            body,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            what,
        }
    }
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(format!("write timeout ({})", self.what).into())));
        }
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        http_body::Body::is_end_stream(&self.body)
    }
}

/// The `Content-Length` a request declares, if it is a number.
pub(crate) fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}
