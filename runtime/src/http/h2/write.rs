//! Writing an answer on an HTTP/2 stream, as hyper's server writes it:
//! connection-specific fields dropped, `Date` and a known
//! `Content-Length` added, the body sent as the peer's window allows,
//! trailers, and a failing body resetting its stream.

use crate::http::serve::ServedBody;
use crate::http::server::Abort;
use bytes::Bytes;
use h2::server::{SendPushedResponse, SendResponse};
use h2::{Reason, SendStream};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body::Body as _;
use std::future::poll_fn;
use std::pin::pin;
use std::task::{ready, Poll};

/// A stream's response side: a client-opened stream's or a promised one's.
pub(super) trait Reply {
    fn send(&mut self, head: http::Response<()>, end: bool)
        -> Result<SendStream<Bytes>, h2::Error>;
    fn reset(&mut self, reason: Reason);
}

/// `h2` gives both sides the same two methods, on two types.
macro_rules! reply {
    ($t:ty) => {
        impl Reply for $t {
            fn send(
                &mut self,
                head: http::Response<()>,
                end: bool,
            ) -> Result<SendStream<Bytes>, h2::Error> {
                self.send_response(head, end)
            }
            fn reset(&mut self, reason: Reason) {
                self.send_reset(reason)
            }
        }
    };
}

reply!(SendResponse<Bytes>);
reply!(SendPushedResponse<Bytes>);

/// Writes the answer on `reply`: the head, then the body; a request to
/// drop unanswered resets the stream.
pub(super) async fn write(
    mut reply: impl Reply,
    answered: Result<http::Response<ServedBody>, Abort>,
    head: bool,
) {
    let Ok(response) = answered else {
        reply.reset(Reason::INTERNAL_ERROR);
        return;
    };
    let (head_part, body, end) = prepare(response, head);
    match reply.send(head_part, end) {
        Ok(tx) if !end => pipe(tx, body).await,
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "HTTP/2 response not sent"),
    }
}

/// The head to send, the body, and whether the head ends the stream.
pub(super) fn prepare(
    response: http::Response<ServedBody>,
    head: bool,
) -> (http::Response<()>, ServedBody, bool) {
    let (mut parts, body) = response.into_parts();
    strip_connection_fields(&mut parts.headers);
    if !parts.headers.contains_key(DATE) {
        let now = httpdate::fmt_http_date(std::time::SystemTime::now());
        if let Ok(v) = HeaderValue::from_str(&now) {
            parts.headers.insert(DATE, v);
        }
    }
    let status = parts.status;
    let end = head
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || body.is_end_stream();
    if !end && !parts.headers.contains_key(CONTENT_LENGTH) {
        if let Some(n) = body.size_hint().exact() {
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
    (http::Response::from_parts(parts, ()), body, end)
}

/// Drops what HTTP/2 and HTTP/3 forbid in a message (RFC 9113 §8.2.2,
/// RFC 9114 §4.2).
pub(crate) fn strip_connection_fields(h: &mut HeaderMap) {
    for name in [CONNECTION, TRANSFER_ENCODING, UPGRADE] {
        h.remove(name);
    }
    h.remove("keep-alive");
    h.remove("proxy-connection");
    if h.get(TE).is_some_and(|v| v != "trailers") {
        h.remove(TE);
    }
}

/// Sends `body` on `tx` as the peer's window allows: data, then trailers
/// or the end of the stream. A failing body resets the stream.
async fn pipe(mut tx: SendStream<Bytes>, body: ServedBody) {
    let mut body = pin!(body);
    let sent = poll_fn(|cx| loop {
        tx.reserve_capacity(1);
        if tx.capacity() == 0 {
            loop {
                match ready!(tx.poll_capacity(cx)) {
                    Some(Ok(0)) => {}
                    Some(Ok(_)) => break,
                    Some(Err(e)) => return Poll::Ready(Err(e.to_string())),
                    None => return Poll::Ready(Err("stream closed".into())),
                }
            }
        } else if let Poll::Ready(r) = tx.poll_reset(cx) {
            return Poll::Ready(Err(format!("reset by the client: {r:?}")));
        }
        match ready!(body.as_mut().poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    let end = body.is_end_stream();
                    if let Err(e) = tx.send_data(data, end) {
                        return Poll::Ready(Err(e.to_string()));
                    }
                    if end {
                        return Poll::Ready(Ok(()));
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        tx.reserve_capacity(0);
                        return Poll::Ready(tx.send_trailers(trailers).map_err(|e| e.to_string()));
                    }
                }
            },
            Some(Err(e)) => {
                tx.send_reset(Reason::INTERNAL_ERROR);
                return Poll::Ready(Err(e.to_string()));
            }
            None => {
                let ended = tx.send_data(Bytes::new(), true);
                return Poll::Ready(ended.map_err(|e| e.to_string()));
            }
        }
    });
    if let Err(e) = sent.await {
        tracing::debug!(error = %e, "HTTP/2 response body failed");
    }
}
