//! Caddy's encode decides about a body of unknown length at its first
//! write: the headers wait for it, and the response is compressed only
//! when that first piece is longer than `minimum_length` (a stream that
//! ends small goes out as it is). [`peek`] waits for the first frame and
//! hands the body back whole.

use crate::http::body::BoxError;
use crate::http::Body;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What the first frame of a body showed.
pub enum First {
    /// The body ended without data.
    Empty,
    /// The first frame carried these data (a trailers frame counts as
    /// none; an error as none, and is kept for the client).
    Data(Bytes),
    Other,
}

/// Reads the first frame of `body`; returns what it was and the body to
/// send (that frame first, then the rest).
pub async fn peek(mut body: Body) -> (First, Body) {
    match body.frame().await {
        None => (First::Empty, Body::Empty),
        Some(Ok(frame)) => {
            let first = match frame.data_ref() {
                Some(d) => First::Data(d.clone()),
                None => First::Other,
            };
            let rest = Prepend {
                head: Some(Ok(frame)),
                rest: body,
            };
            (first, Body::stream(rest))
        }
        Some(Err(e)) => {
            let rest = Prepend {
                head: Some(Err(e)),
                rest: Body::Empty,
            };
            (First::Other, Body::stream(rest))
        }
    }
}

/// A frame already read, then the rest of its body.
struct Prepend {
    head: Option<Result<Frame<Bytes>, BoxError>>,
    rest: Body,
}

impl http_body::Body for Prepend {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(f) = self.head.take() {
            return Poll::Ready(Some(f));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.rest.is_end_stream()
    }
}

/// Whether `content_type` is a server-sent event stream, whose headers
/// Caddy sends at once (the client needs them to open the stream).
pub fn is_sse(content_type: Option<&http::HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
}
