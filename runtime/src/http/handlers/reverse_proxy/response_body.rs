//! Transforms of upstream response bodies.
//!
//! `flush_interval` (Caddy's semantics): the server writes every body
//! frame it is given and flushes the connection whenever the body has
//! nothing more ready, so passing frames through unchanged *is* immediate
//! flushing. That is what a negative interval asks for, and what Caddy
//! forces for `text/event-stream` responses and for bodies of unknown
//! length. A positive interval gathers the upstream's data and hands it
//! on at most that long after the first byte of a batch arrived (Go's
//! `maxLatencyWriter`), or at once when a batch outgrows the copy buffer.
//! With `verbose_logs`, each flush is logged at debug level.
//!
//! The HTTP transport's `compression` (on unless set to false), as Go's
//! transport does it: when the client's request names no
//! `Accept-Encoding` (and is not a HEAD or a `Range` request), the
//! upstream request asks for `gzip`; a gzip response to such a request is
//! decompressed on the fly, its `Content-Encoding` and `Content-Length`
//! removed. Requests that name an encoding get the answer untouched.

use super::config::SignedDuration;
use crate::http::body::BoxError;
use crate::http::Body;
use bytes::{Bytes, BytesMut};
use flate2::write::GzDecoder;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, RANGE};
use http::HeaderMap;
use http::{HeaderValue, Method};
use http_body::Frame;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// The largest batch held back (Caddy's copy buffer size).
const MAX_BATCH: usize = 32 * 1024;

/// How response bodies are flushed to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushPolicy {
    /// `flush_interval` unset or 0: as the server writes.
    Default,
    /// Negative: every frame at once; the upstream round trip is also
    /// not cancelled when the client goes away.
    Immediate,
    /// Positive: batches handed on within this interval.
    Every(Duration),
}

/// Whether a `Content-Type` is `text/event-stream`: the media type's
/// bytes, compared as they are (no check of the whole value as a string
/// first).
pub fn is_event_stream(value: &[u8]) -> bool {
    value
        .split(|b| *b == b';')
        .next()
        .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"text/event-stream"))
}

impl FlushPolicy {
    /// From the handler's `flush_interval`.
    pub fn new(d: SignedDuration) -> Self {
        if d.negative {
            FlushPolicy::Immediate
        } else if d.abs.is_zero() {
            FlushPolicy::Default
        } else {
            FlushPolicy::Every(d.abs)
        }
    }

    /// The interval for one response (Caddy's `flushInterval`): immediate
    /// for server-sent events and bodies without a known length.
    pub fn for_response(self, headers: &HeaderMap, exact_len: Option<u64>) -> Self {
        let sse = headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| is_event_stream(v.as_bytes()));
        let unknown = exact_len.is_none() && !headers.contains_key(http::header::CONTENT_LENGTH);
        if sse || unknown {
            FlushPolicy::Immediate
        } else {
            self
        }
    }

    /// Wraps `body`, in place, so it is flushed by this policy (only a
    /// batching interval wraps it; the others leave it as it is).
    pub fn apply(self, body: &mut Body, verbose: bool) {
        if let FlushPolicy::Every(d) = self {
            let inner = std::mem::replace(body, Body::Empty);
            *body = Body::stream(Batched {
                inner,
                interval: d,
                buf: BytesMut::new(),
                timer: None,
                pending: None,
                done: false,
                verbose,
            });
        }
    }
}

/// A body whose data is gathered and handed on within `interval`.
struct Batched {
    inner: Body,
    interval: Duration,
    buf: BytesMut,
    timer: Option<Pin<Box<Sleep>>>,
    /// A frame (trailers or an error) to give after the batch.
    pending: Option<Result<Frame<Bytes>, BoxError>>,
    done: bool,
    verbose: bool,
}

impl Batched {
    fn take_batch(&mut self, why: &str) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.timer = None;
        if self.verbose {
            tracing::debug!(bytes = self.buf.len(), why, "flushing response batch");
        }
        Poll::Ready(Some(Ok(Frame::data(self.buf.split().freeze()))))
    }
}

impl http_body::Body for Batched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(f) = this.pending.take() {
            return Poll::Ready(Some(f));
        }
        while !this.done {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(d) => {
                        if this.buf.is_empty() && d.len() >= MAX_BATCH {
                            return Poll::Ready(Some(Ok(Frame::data(d))));
                        }
                        if this.timer.is_none() {
                            let t = tokio::time::sleep(this.interval);
                            this.timer = Some(Box::pin(t));
                        }
                        this.buf.extend_from_slice(&d);
                        if this.buf.len() >= MAX_BATCH {
                            return this.take_batch("batch full");
                        }
                    }
                    Err(other) => {
                        this.done = true;
                        if this.buf.is_empty() {
                            return Poll::Ready(Some(Ok(other)));
                        }
                        this.pending = Some(Ok(other));
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    if this.buf.is_empty() {
                        return Poll::Ready(Some(Err(e)));
                    }
                    this.pending = Some(Err(e));
                }
                Poll::Ready(None) => this.done = true,
                Poll::Pending => {
                    let due = match &mut this.timer {
                        Some(t) => t.as_mut().poll(cx).is_ready(),
                        None => false,
                    };
                    if due && !this.buf.is_empty() {
                        return this.take_batch("interval");
                    }
                    return Poll::Pending;
                }
            }
        }
        if !this.buf.is_empty() {
            return this.take_batch("end of body");
        }
        Poll::Ready(this.pending.take())
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.buf.is_empty() && self.pending.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn sse_and_unknown_lengths_flush_at_once() {
        let every = FlushPolicy::Every(Duration::from_secs(1));
        let sse = h(&[
            ("content-type", "text/event-stream; charset=utf-8"),
            ("content-length", "5"),
        ]);
        assert_eq!(every.for_response(&sse, Some(5)), FlushPolicy::Immediate);
        assert_eq!(every.for_response(&h(&[]), None), FlushPolicy::Immediate);
        let sized = h(&[("content-length", "5")]);
        assert_eq!(every.for_response(&sized, Some(5)), every);
        assert_eq!(
            FlushPolicy::new(SignedDuration {
                negative: true,
                abs: Duration::from_nanos(1)
            }),
            FlushPolicy::Immediate
        );
    }
}

/// Adds `Accept-Encoding: gzip` when the transport may decompress this
/// request's response; returns whether it did.
pub fn request_gzip<B>(req: &mut http::Request<B>) -> bool {
    let h = req.headers();
    if h.contains_key(ACCEPT_ENCODING) || h.contains_key(RANGE) || req.method() == Method::HEAD {
        return false;
    }
    req.headers_mut()
        .insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    true
}

/// Decompresses a gzip response to a request [`request_gzip`] marked.
pub fn decode_response(resp: http::Response<Body>) -> http::Response<Body> {
    let gzip = resp
        .headers()
        .get(CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    if !gzip {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(CONTENT_ENCODING);
    parts.headers.remove(CONTENT_LENGTH);
    let body = Body::stream(Gunzip {
        inner: body,
        dec: Some(GzDecoder::new(Vec::new())),
    });
    http::Response::from_parts(parts, body)
}

struct Gunzip {
    inner: Body,
    dec: Option<GzDecoder<Vec<u8>>>,
}

impl http_body::Body for Gunzip {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(dec) = this.dec.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(f))) => match f.into_data() {
                    Ok(d) => {
                        if let Err(e) = dec.write_all(&d) {
                            return Poll::Ready(Some(Err(e.into())));
                        }
                        let out = std::mem::take(dec.get_mut());
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out.into()))));
                        }
                    }
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                Poll::Ready(None) => {
                    let mut dec = this.dec.take().expect("decoder present");
                    return match dec.try_finish() {
                        Err(e) => Poll::Ready(Some(Err(e.into()))),
                        Ok(()) => {
                            let out = std::mem::take(dec.get_mut());
                            Poll::Ready((!out.is_empty()).then(|| Ok(Frame::data(out.into()))))
                        }
                    };
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.dec.is_none()
    }
}

#[cfg(test)]
mod gzip_tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn only_requests_without_an_encoding_ask_for_gzip() {
        let mut r = http::Request::new(());
        assert!(request_gzip(&mut r));
        assert_eq!(r.headers()[ACCEPT_ENCODING], "gzip");
        let mut r = http::Request::builder()
            .header(ACCEPT_ENCODING, "br")
            .body(())
            .unwrap();
        assert!(!request_gzip(&mut r));
        let mut r = http::Request::builder().method("HEAD").body(()).unwrap();
        assert!(!request_gzip(&mut r));
    }

    #[tokio::test]
    async fn gzip_bodies_are_decoded() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello, gzip").unwrap();
        let gz = enc.finish().unwrap();
        let resp = http::Response::builder()
            .header(CONTENT_ENCODING, "gzip")
            .header(CONTENT_LENGTH, gz.len())
            .body(Body::from_bytes(gz))
            .unwrap();
        let resp = decode_response(resp);
        assert!(!resp.headers().contains_key(CONTENT_ENCODING));
        assert!(!resp.headers().contains_key(CONTENT_LENGTH));
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hello, gzip");
    }
}
