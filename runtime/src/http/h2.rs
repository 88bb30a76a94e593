//! HTTP/2 on the `h2` crate, for the servers whose routes push
//! (`http.handlers.push`). hyper's HTTP/2 server keeps each stream's
//! `SendResponse` to itself, so nothing behind it can send a PUSH_PROMISE;
//! every other server stays on hyper (see `serve`).
//!
//! The settings are hyper's defaults (windows, frame size, send buffer,
//! stream limit, reset limits), so a client meets the same server either
//! way, RFC 8441's extended CONNECT included (see `tunnel`).
//! Streams run beside their connection, in its task (see `streams`), and
//! enter the same pipeline as every request ([`serve::handle_parts`]); the
//! response is written as hyper writes it (see `write`).

mod pusher;
mod tunnel;
mod write;

pub(crate) use pusher::Pusher;
use pusher::{OpenPush, PushLimit};
pub use tunnel::{PendingTunnel, Tunnel};
pub(crate) use write::strip_connection_fields;
use write::{prepare, write};

use super::body::{declared_length, ReqBody};
use super::serve::{self, ConnCx, ServedBody};
use super::server::{Abort, ConnSettings};
use super::streams::StreamExec;
use crate::util::lock;
use bytes::Bytes;
use h2::server::{Connection, Handshake, SendPushedResponse, SendResponse};
use h2::RecvStream;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Method};
use http_body::{Frame, SizeHint};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
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
    limit: Arc<PushLimit>,
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
            .max_header_list_size(u32::try_from(s.max_header_bytes).unwrap_or(u32::MAX))
            // RFC 8441: WebSocket over HTTP/2 (`:protocol`), for the proxy.
            .enable_connect_protocol();
        Conn {
            state: State::Handshake(Box::pin(b.handshake(io))),
            exec,
            cx,
            limit: Arc::default(),
            closing: false,
        }
    }

    fn accept(&self, req: http::Request<RecvStream>, reply: SendResponse<Bytes>) {
        let (cx, limit) = (self.cx.clone(), self.limit.clone());
        let stream = serve_stream(cx, self.exec.clone(), limit, req, reply);
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
                State::Serving(conn) => {
                    let accepted = conn.poll_accept(cx);
                    // The client's SETTINGS arrive while polling.
                    this.limit.set_peer_max(conn.max_concurrent_send_streams());
                    match ready!(accepted) {
                        Some(Ok((req, reply))) => this.accept(req, reply),
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "HTTP/2 connection failed");
                            return Poll::Ready(());
                        }
                        None => return Poll::Ready(()),
                    }
                }
            }
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> super::drive::Graceful for Conn<I> {
    fn shutdown(self: Pin<&mut Self>) {
        let this = self.get_mut();
        this.closing = true;
        if let State::Serving(conn) = &mut this.state {
            conn.graceful_shutdown();
        }
    }
}

/// Serves one client-opened stream; its handler may push (see [`Pusher`]).
async fn serve_stream(
    cx: Arc<ConnCx>,
    exec: StreamExec,
    limit: Arc<PushLimit>,
    req: http::Request<RecvStream>,
    reply: SendResponse<Bytes>,
) {
    let guard = cx.state.begin();
    let (mut parts, recv) = req.into_parts();
    let head = parts.method == Method::HEAD;
    let reply = Arc::new(Mutex::new(Some(reply)));
    let pusher = Pusher::new(&cx, exec, limit, &reply, &parts);
    parts.extensions.insert(pusher);
    // An extended CONNECT has no body: its stream becomes the tunnel.
    let (body, tunnel) = match parts.extensions.remove::<h2::ext::Protocol>() {
        Some(p) if parts.method == Method::CONNECT => {
            parts
                .extensions
                .insert(hyper::ext::Protocol::from(p.as_str()));
            let (opened, pending) = PendingTunnel::new();
            parts.extensions.insert(pending);
            (None, Some((opened, recv)))
        }
        _ => (Some(RecvBody::new(recv, &parts.headers)), None),
    };
    let handled = serve::handle_parts(
        &cx,
        parts,
        |t| match body {
            Some(b) => ReqBody::stream(b, t),
            None => ReqBody::full(Bytes::new()),
        },
        guard,
        None,
    );
    let reset = |c: &mut Context<'_>| match lock(&reply).as_mut() {
        Some(r) => r.poll_reset(c).map(|_| ()),
        None => Poll::Pending,
    };
    let Some(answered) = unless_reset(handled, reset).await else {
        return;
    };
    let Some(reply) = lock(&reply).take() else {
        return;
    };
    match tunnel {
        Some((opened, recv)) => open_tunnel(reply, answered, opened, recv).await,
        None => write(reply, answered, head).await,
    }
}

/// The request's answer, or `None` when the client resets the stream
/// first (`reset` is ready), which cancels the request.
async fn unless_reset<T>(
    handled: impl Future<Output = T>,
    reset: impl FnMut(&mut Context<'_>) -> Poll<()>,
) -> Option<T> {
    tokio::select! {
        biased;
        r = handled => Some(r),
        () = poll_fn(reset) => None,
    }
}

/// Answers an extended CONNECT: a 2xx opens the stream (no body, no
/// `Content-Length`) and hands it over as a [`Tunnel`]; any other answer
/// is written as usual.
async fn open_tunnel(
    mut reply: SendResponse<Bytes>,
    answered: Result<http::Response<ServedBody>, Abort>,
    opened: tokio::sync::oneshot::Sender<Tunnel>,
    recv: RecvStream,
) {
    match answered {
        Ok(response) if response.status().is_success() => {
            let (mut head, _body, _) = prepare(response, false);
            head.headers_mut().remove(CONTENT_LENGTH);
            match reply.send_response(head, false) {
                Ok(send) => {
                    let _ = opened.send(Tunnel::new(send, recv));
                }
                Err(e) => tracing::debug!(error = %e, "HTTP/2 CONNECT answer not sent"),
            }
        }
        other => write(reply, other, false).await,
    }
}

/// Serves a pushed request on its promised stream (counted open until
/// this ends).
async fn serve_pushed(
    cx: Arc<ConnCx>,
    parts: http::request::Parts,
    mut reply: SendPushedResponse<Bytes>,
    _open: OpenPush,
) {
    let guard = cx.state.begin();
    let head = parts.method == Method::HEAD;
    let handled = serve::handle_parts(&cx, parts, |_| ReqBody::full(Bytes::new()), guard, None);
    let reset = |c: &mut Context<'_>| reply.poll_reset(c).map(|_| ());
    let Some(answered) = unless_reset(handled, reset).await else {
        return;
    };
    write(reply, answered, head).await;
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
