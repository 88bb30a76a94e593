//! Bodies the proxy builds: [`UpBody`], the request body sent upstream (a
//! buffered head, then the client's stream, optionally held back until
//! the upstream answers `100 Continue` — `expect_continue_timeout`);
//! [`Chain`], a buffered head followed by the rest of a response; and
//! [`ErrBody`], a response body that failed while being buffered.

use crate::http::body::BoxError;
use crate::http::{Body, ReqBody};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;
use tokio::time::Sleep;

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

/// A body that fails at once (an upstream body that broke while
/// buffering).
pub struct ErrBody(pub Option<BoxError>);

impl http_body::Body for ErrBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.take().map(Err))
    }
}

/// A buffered head followed by the rest of a response body.
pub struct Chain {
    pub head: Option<Bytes>,
    pub rest: Body,
}

impl http_body::Body for Chain {
    type Data = Bytes;
    type Error = BoxError;

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
