//! One HTTP/3 request: its head read within `read_header_timeout`, its body
//! handed to the routes as a stream (trailers included), the response
//! written as it is produced (data frames, then trailers). Requests enter
//! [`route`], the same pipeline as HTTP/1.1 and HTTP/2; a panic in a
//! handler answers 500 there, a panic or error while the body streams
//! resets this stream only.

use crate::app::Shared;
use crate::http::body::{declared_length, BoxError, ReqBody};
use crate::http::conn::{ActiveGuard, ConnInfo};
use crate::http::route::{catch_panic, route};
use crate::http::server::ConnSettings;
use bytes::{Buf, Bytes};
use h3::error::Code;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

type Resolver = h3::server::RequestResolver<h3_quinn::Connection, Bytes>;
type SendHalf = h3::server::RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;
type RecvHalf = h3::server::RequestStream<h3_quinn::RecvStream, Bytes>;

/// Serves one request stream.
pub(super) async fn serve(
    resolver: Resolver,
    shared: Arc<Shared>,
    socket_id: u64,
    info: Arc<ConnInfo>,
    guard: ActiveGuard,
    settings: ConnSettings,
) {
    let resolved =
        tokio::time::timeout(settings.read_header_timeout, resolver.resolve_request()).await;
    let (req, stream) = match resolved {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "HTTP/3 request head refused");
            return;
        }
        Err(_) => {
            tracing::debug!("HTTP/3 request head timed out");
            return;
        }
    };
    let (mut send, recv) = stream.split();
    let (parts, ()) = req.into_parts();
    let head = parts.method == http::Method::HEAD;
    let body = RecvBody::new(recv, &parts.headers);
    let response = route(
        &shared,
        socket_id,
        &info,
        parts,
        |t| ReqBody::stream(body, t),
        false,
        None,
        // (Not the guard's: that was made when the stream came, before
        // its head.)
        std::time::Instant::now(),
    )
    .await;
    let Ok(response) = response else {
        send.stop_stream(Code::H3_REQUEST_CANCELLED);
        return;
    };
    match catch_panic(write_response(&mut send, response, head)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "HTTP/3 response failed");
            send.stop_stream(Code::H3_INTERNAL_ERROR);
        }
        Err(msg) => {
            tracing::error!(panic = %msg, "HTTP/3 response body panicked; resetting the stream");
            send.stop_stream(Code::H3_INTERNAL_ERROR);
        }
    }
    drop(guard);
}

/// Writes the head, the body frames as they come, trailers, and the end.
async fn write_response(
    send: &mut SendHalf,
    response: crate::http::Response,
    head: bool,
) -> Result<(), BoxError> {
    let (mut parts, mut body) = response.into_parts();
    crate::http::h2::strip_connection_fields(&mut parts.headers);
    let status = parts.status;
    let bodyless =
        head || status == http::StatusCode::NO_CONTENT || status == http::StatusCode::NOT_MODIFIED;
    send.send_response(http::Response::from_parts(parts, ()))
        .await?;
    if !bodyless {
        while let Some(frame) = body.frame().await {
            match frame?.into_data() {
                Ok(data) if data.is_empty() => {}
                Ok(data) => send.send_data(data).await?,
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        send.send_trailers(trailers).await?;
                        break;
                    }
                }
            }
        }
    }
    send.finish().await?;
    Ok(())
}

/// The request body of an h3 stream: data frames, then trailers.
struct RecvBody {
    stream: RecvHalf,
    data_done: bool,
    done: bool,
    /// The `Content-Length` still to come, if the client sent one.
    length: Option<u64>,
}

impl RecvBody {
    fn new(stream: RecvHalf, headers: &http::HeaderMap) -> Self {
        let length = declared_length(headers);
        RecvBody {
            stream,
            data_done: false,
            done: length == Some(0),
            length,
        }
    }
}

impl http_body::Body for RecvBody {
    type Data = Bytes;
    type Error = h3::error::StreamError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if !this.data_done {
            match ready!(this.stream.poll_recv_data(cx)) {
                Ok(Some(mut buf)) => {
                    let data = buf.copy_to_bytes(buf.remaining());
                    this.length = this.length.map(|n| n.saturating_sub(data.len() as u64));
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(None) => this.data_done = true,
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
        let trailers = ready!(this.stream.poll_recv_trailers(cx));
        this.done = true;
        match trailers {
            Ok(Some(t)) => Poll::Ready(Some(Ok(Frame::trailers(t)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        match self.length {
            Some(n) if !self.data_done => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}
