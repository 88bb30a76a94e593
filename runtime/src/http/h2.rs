//! HTTP/2 on the `h2` crate, for the servers whose routes push
//! (`http.handlers.push`). hyper's HTTP/2 server keeps each stream's
//! `SendResponse` to itself, so nothing behind it can send a PUSH_PROMISE;
//! every other server stays on hyper (see `serve`).
//!
//! The settings are hyper's defaults (windows, frame size, send buffer,
//! stream limit, reset limits), so a client meets the same server either
//! way. What this server does not offer is RFC 8441's extended CONNECT: a
//! browser opens its WebSockets to a pushing server over HTTP/1.1.
//! Streams run beside their connection, in its task (see `streams`), and
//! enter the same pipeline as every request ([`serve::handle_parts`]); the
//! response is written as hyper writes it (connection-specific fields
//! dropped, `Date` and a known `Content-Length` added, data sent as the
//! peer's window allows, a failed body resetting its stream).

mod pusher;

pub(crate) use pusher::Pusher;

use super::body::{declared_length, ReqBody};
use super::serve::{self, ConnCx, ServedBody};
use super::server::{Abort, ConnSettings};
use super::streams::StreamExec;
use bytes::Bytes;
use h2::server::{Connection, Handshake, SendPushedResponse, SendResponse};
use h2::{Reason, RecvStream, SendStream};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body::{Body as _, Frame, SizeHint};
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// hyper's HTTP/2 server defaults.
const WINDOW: u32 = 1024 * 1024;
const MAX_FRAME: u32 = 16 * 1024;
const SEND_BUFFER: usize = 400 * 1024;
const MAX_STREAMS: u32 = 200;
const MAX_LOCAL_RESETS: usize = 1024;

/// What a client opening HTTP/2 with prior knowledge sends first.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads from `io` until it is known whether the client opens with the
/// HTTP/2 preface; what was read is read again from the returned stream.
pub(crate) async fn sniff<I: AsyncRead + Unpin>(
    mut io: I,
) -> std::io::Result<(bool, crate::listeners::prefixed::Prefixed<I>)> {
    let mut read = Vec::with_capacity(PREFACE.len());
    let mut buf = [0u8; PREFACE.len()];
    while read.len() < PREFACE.len() && PREFACE.starts_with(&read) {
        let n = io.read(&mut buf[..PREFACE.len() - read.len()]).await?;
        if n == 0 {
            break;
        }
        read.extend_from_slice(&buf[..n]);
    }
    let h2 = read == PREFACE;
    Ok((h2, crate::listeners::prefixed::Prefixed::new(read, io)))
}

/// One HTTP/2 connection: its handshake, then its streams as they come.
pub(crate) struct Conn<I> {
    state: State<I>,
    exec: StreamExec,
    cx: Arc<ConnCx>,
    closing: bool,
}

enum State<I> {
    Handshake(Pin<Box<Handshake<I, Bytes>>>),
    Serving(Box<Connection<I, Bytes>>),
}

impl<I: AsyncRead + AsyncWrite + Unpin> Conn<I> {
    pub(crate) fn new(io: I, s: &ConnSettings, exec: StreamExec, cx: Arc<ConnCx>) -> Self {
        let mut b = h2::server::Builder::new();
        b.initial_window_size(WINDOW)
            .initial_connection_window_size(WINDOW)
            .max_frame_size(MAX_FRAME)
            .max_send_buffer_size(SEND_BUFFER)
            .max_concurrent_streams(MAX_STREAMS)
            .max_local_error_reset_streams(Some(MAX_LOCAL_RESETS))
            .max_header_list_size(u32::try_from(s.max_header_bytes).unwrap_or(u32::MAX));
        Conn {
            state: State::Handshake(Box::pin(b.handshake(io))),
            exec,
            cx,
            closing: false,
        }
    }

    fn accept(&self, req: http::Request<RecvStream>, reply: SendResponse<Bytes>) {
        let stream = serve_stream(self.cx.clone(), self.exec.clone(), req, reply);
        hyper::rt::Executor::execute(&self.exec, stream);
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> Future for Conn<I> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Handshake(h) => match ready!(h.as_mut().poll(cx)) {
                    Ok(mut conn) => {
                        if this.closing {
                            conn.graceful_shutdown();
                        }
                        this.state = State::Serving(Box::new(conn));
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "HTTP/2 handshake failed");
                        return Poll::Ready(());
                    }
                },
                State::Serving(conn) => match ready!(conn.poll_accept(cx)) {
                    Some(Ok((req, reply))) => this.accept(req, reply),
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "HTTP/2 connection failed");
                        return Poll::Ready(());
                    }
                    None => return Poll::Ready(()),
                },
            }
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> serve::Graceful for Conn<I> {
    fn shutdown(self: Pin<&mut Self>) {
        let this = self.get_mut();
        this.closing = true;
        if let State::Serving(conn) = &mut this.state {
            conn.graceful_shutdown();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves one client-opened stream; its handler may push (see [`Pusher`]).
async fn serve_stream(
    cx: Arc<ConnCx>,
    exec: StreamExec,
    req: http::Request<RecvStream>,
    reply: SendResponse<Bytes>,
) {
    let guard = cx.state.begin();
    let (mut parts, recv) = req.into_parts();
    let head = parts.method == Method::HEAD;
    let reply = Arc::new(Mutex::new(Some(reply)));
    let pusher = Pusher::new(&cx, exec, &reply, &parts);
    parts.extensions.insert(pusher);
    let body = RecvBody::new(recv, &parts.headers);
    let answered = {
        let handled = serve::handle_parts(&cx, parts, |t| ReqBody::stream(body, t), guard);
        // A client that resets the stream cancels the request.
        let reset = poll_fn(|c| match lock(&reply).as_mut() {
            Some(r) => r.poll_reset(c).map(|_| ()),
            None => Poll::Pending,
        });
        tokio::select! {
            biased;
            r = handled => r,
            () = reset => return,
        }
    };
    let Some(reply) = lock(&reply).take() else {
        return;
    };
    write(reply, answered, head).await;
}

/// Serves a pushed request on its promised stream.
async fn serve_pushed(
    cx: Arc<ConnCx>,
    parts: http::request::Parts,
    mut reply: SendPushedResponse<Bytes>,
) {
    let guard = cx.state.begin();
    let head = parts.method == Method::HEAD;
    let answered = {
        let handled = serve::handle_parts(&cx, parts, |_| ReqBody::full(Bytes::new()), guard);
        let reset = poll_fn(|c| reply.poll_reset(c).map(|_| ()));
        tokio::select! {
            biased;
            r = handled => r,
            () = reset => return,
        }
    };
    write(reply, answered, head).await;
}

/// A stream's response side: a client-opened stream's or a promised one's.
trait Reply {
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
async fn write(
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
fn prepare(
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

/// The request body of a stream: data (its window released as it is
/// read), then trailers. `h2` checks the data against `Content-Length`.
struct RecvBody {
    stream: RecvStream,
    data_done: bool,
    length: Option<u64>,
}

impl RecvBody {
    fn new(stream: RecvStream, headers: &HeaderMap) -> Self {
        RecvBody {
            stream,
            data_done: false,
            length: declared_length(headers),
        }
    }
}

impl http_body::Body for RecvBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let this = self.get_mut();
        if !this.data_done {
            match ready!(this.stream.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = this.stream.flow_control().release_capacity(data.len());
                    this.length = this.length.map(|n| n.saturating_sub(data.len() as u64));
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => this.data_done = true,
            }
        }
        match ready!(this.stream.poll_trailers(cx)) {
            Ok(Some(t)) => Poll::Ready(Some(Ok(Frame::trailers(t)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match self.length {
            Some(n) if !self.data_done => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}
