//! Serving one connection (its socket's accept loop is [`super::accept`]).
//! HTTP/1.1 starts on bellhop's own server ([`super::h1`]),
//! which hands the connection to hyper at the first request it does not
//! serve itself; HTTP/2 (with prior knowledge when the server allows
//! `h2c`) is hyper's, through hyper-util's auto builder.
//!
//! Each request looks up the config that is current when it arrives
//! ([`super::route`]), so a keep-alive connection moves to a new config
//! after a reload while a request in flight finishes on its own. The
//! driver ([`super::drive`]) enforces what hyper does not: the idle timeout
//! between keep-alive requests, and a graceful close (bounded by the grace
//! period) when the socket leaves the config.

use super::body::{Body, BoxError, ReqBody};
use super::conn::{ActiveGuard, ConnInfo, ConnState, TimedIo};
use super::handlers::status_response;
use super::server::{Abort, ConnSettings};
use super::streams::{StreamExec, WithStreams};
use crate::app::Shared;
use crate::listeners::prefixed::Prefixed;
use crate::listeners::Socket;
use bytes::Bytes;
use futures_util::future::Either;
use futures_util::FutureExt;
use http::StatusCode;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// hyper's HTTP/1 read buffer limit: a request head must fit in it.
pub(crate) fn h1_buf_size(s: &ConnSettings) -> usize {
    s.max_header_bytes.max(8192) + 1024
}

fn h1_builder(s: &ConnSettings) -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(s.read_header_timeout)
        .max_buf_size(h1_buf_size(s))
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    b
}

/// How many header lines an HTTP/1 request may have. hyper's default
/// (100) refuses requests Caddy and nginx serve; `max_header_bytes` is the
/// limit that counts, this only bounds the parser's index.
const MAX_HEADERS: usize = 1024;

fn h2_builder(
    s: &ConnSettings,
    exec: StreamExec,
) -> hyper::server::conn::http2::Builder<StreamExec> {
    let mut b = hyper::server::conn::http2::Builder::new(exec);
    b.timer(TokioTimer::new())
        .max_header_list_size(s.max_header_bytes as u32)
        // RFC 8441: WebSocket over HTTP/2 (`:protocol`), for the proxy.
        .enable_connect_protocol();
    b
}

/// Serves HTTP on an accepted (and, for TLS, handshaken) connection.
pub(crate) async fn serve_conn<I>(
    io: I,
    mut info: ConnInfo,
    socket: Arc<Socket>,
    shared: Arc<Shared>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some(mut settings) = shared
        .current()
        .and_then(|i| i.server_for(socket.id).map(|s| s.settings))
    else {
        return;
    };
    if info.tls {
        // ALPN decided the protocol.
        (settings.h1, settings.h2c) = (!info.alpn_h2, info.alpn_h2);
    }
    let counter = shared.clone();
    let _counted = counter.conns.enter();
    let state = ConnState::new();
    info.state = Some(state.clone());
    let alt_svc = super::h3::alt_svc(&shared, socket.id, &info);
    // Everything a request needs from its connection, behind one pointer
    // that only this connection's thread touches: cloning it per request
    // does not bounce a cache line shared with other threads the way
    // cloning `shared` or `socket` would.
    let conn_cx = Arc::new(ConnCx {
        shared,
        socket: socket.clone(),
        info,
        alt_svc,
        state: state.clone(),
    });
    let io = TimedIo::new(io, Some(settings.write_stall), settings.max_write_chunk)
        .with_min_rate(settings.write_min_rate)
        .with_state(state.clone());
    if settings.push && settings.h2c {
        let svc = service(conn_cx.clone());
        return serve_pushing(io, conn_cx, svc, &settings, &socket).await;
    }
    // HTTP/1.1 starts on bellhop's own server, which hands to hyper what
    // it does not serve itself.
    let io = if settings.h1 {
        let conn = super::h1::Conn::new(io, conn_cx.clone(), &settings);
        match super::drive::drive(conn, &state, &settings, &socket).await {
            Some(super::h1::Ended::Hyper(io, read)) => Prefixed::new(read.to_vec(), io),
            _ => return,
        }
    } else {
        Prefixed::new(Vec::new(), io)
    };
    let svc = service(conn_cx);
    let io = TokioIo::new(io);
    match (settings.h1, settings.h2c) {
        (_, false) => {
            let conn = h1_builder(&settings)
                .serve_connection(io, svc)
                .with_upgrades();
            super::drive::drive(conn, &state, &settings, &socket).await;
        }
        (false, true) => {
            let (exec, queue) = WithStreams::<()>::executor();
            let conn = h2_builder(&settings, exec).serve_connection(io, svc);
            super::drive::drive(WithStreams::new(conn, queue), &state, &settings, &socket).await;
        }
        (true, true) => {
            let (exec, queue) = WithStreams::<()>::executor();
            let mut b = auto::Builder::new(exec);
            b.http1()
                .timer(TokioTimer::new())
                .header_read_timeout(settings.read_header_timeout)
                .max_buf_size(h1_buf_size(&settings))
                .max_headers(MAX_HEADERS)
                .keep_alive(true);
            b.http2()
                .timer(TokioTimer::new())
                .max_header_list_size(settings.max_header_bytes as u32)
                .enable_connect_protocol();
            let conn = b.serve_connection_with_upgrades(io, svc);
            super::drive::drive(WithStreams::new(conn, queue), &state, &settings, &socket).await;
        }
    }
}

/// hyper's service for the requests of a connection.
fn service(
    conn_cx: Arc<ConnCx>,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = http::Response<ServedBody>,
    Error = Abort,
    Future: Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let cx = conn_cx.clone();
        let guard = cx.state.begin();
        let fut = async move {
            let h1 = req.version() < http::Version::HTTP_2;
            let mut r = handle(&cx, req, guard).await;
            if let Ok(resp) = &mut r {
                if h1 && cx.socket.is_handed_off() {
                    close_after(resp);
                }
            }
            r
        };
        // Boxed: hyper moves the service future into place for every
        // request (and HTTP/2 spawns it as a task); a pointer moves cheaply.
        Box::pin(fut)
    })
}

/// Serves a connection of a server that pushes, where HTTP/2 is allowed:
/// HTTP/2 on [`super::h2`], or, when HTTP/1.1 is allowed too (h2c on a
/// plain socket) and the client does not open with the HTTP/2 preface,
/// HTTP/1.1 on hyper as for any server.
async fn serve_pushing<I, S>(
    io: I,
    cx: Arc<ConnCx>,
    svc: S,
    settings: &ConnSettings,
    socket: &Socket,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = ServedBody, Error = Abort>,
{
    let state = cx.state.clone();
    let io = if settings.h1 {
        let sniffed = tokio::time::timeout(settings.read_header_timeout, super::h2::sniff(io));
        match sniffed.await {
            Ok(Ok((true, io))) => io,
            Ok(Ok((false, io))) => {
                let conn = h1_builder(settings)
                    .serve_connection(TokioIo::new(io), svc)
                    .with_upgrades();
                super::drive::drive(conn, &state, settings, socket).await;
                return;
            }
            _ => return,
        }
    } else {
        Prefixed::new(Vec::new(), io)
    };
    let (exec, queue) = WithStreams::<()>::executor();
    let conn = super::h2::Conn::new(io, settings, exec, cx);
    super::drive::drive(WithStreams::new(conn, queue), &state, settings, socket).await;
}

/// Asks the client to close after this response (not for a 101).
fn close_after(resp: &mut http::Response<ServedBody>) {
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        resp.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
}

/// What the requests of one connection share.
pub(crate) struct ConnCx {
    shared: Arc<Shared>,
    socket: Arc<Socket>,
    pub(crate) info: ConnInfo,
    alt_svc: Option<http::HeaderValue>,
    pub(crate) state: Arc<ConnState>,
}

impl ConnCx {
    /// The connection's socket was handed to a new process: each HTTP/1
    /// response closes its connection.
    pub(crate) fn socket_handed_off(&self) -> bool {
        self.socket.is_handed_off()
    }
}

fn handle(
    cx: &ConnCx,
    req: http::Request<Incoming>,
    guard: ActiveGuard,
) -> impl Future<Output = Result<http::Response<ServedBody>, Abort>> + '_ {
    let (parts, body) = req.into_parts();
    handle_parts(cx, parts, move |t| ReqBody::incoming(body, t), guard, None)
}

/// Answers one request of the connection `cx`: framing checks, then
/// [`route`], then what the connection adds (`Connection: close`,
/// `Alt-Svc`). `body` makes the request body from the server's
/// `read_timeout`; `own`: for bellhop's own HTTP/1.1 server, what its
/// parser noted of the head's fields (its own writer writes the response:
/// `Cx::own_writer`). (Not an async fn: the checks are done before the
/// future is made, which then holds no `parts` beside `route`'s.)
pub(crate) fn handle_parts<'c>(
    cx: &'c ConnCx,
    mut parts: http::request::Parts,
    body: impl FnOnce(Option<Duration>) -> ReqBody + 'c,
    guard: ActiveGuard,
    own: Option<super::framing::Facts>,
) -> impl Future<Output = Result<http::Response<ServedBody>, Abort>> + 'c {
    let close = match super::framing::check(&parts, own.as_ref()) {
        super::framing::Verdict::Refuse(status) => {
            let mut r = respond(status_response(status), guard);
            close_after(&mut r);
            return Either::Left(std::future::ready(Ok(r)));
        }
        super::framing::Verdict::Serve {
            close_after,
            fresh_upstream,
        } => {
            if fresh_upstream {
                parts.extensions.insert(super::framing::FreshUpstream);
            }
            close_after
        }
    };
    let own_writer = own.is_some();
    let separator = own.map(|f| f.separator);
    let routed = super::route::route(
        &cx.shared,
        cx.socket.id,
        &cx.info,
        parts,
        body,
        own_writer,
        separator,
        guard.started(),
    );
    // `map`, not an async block: a block would hold `routed` twice, as
    // what it captured and as what it awaits (4 KB, not 2), and copy it
    // from one to the other on its first poll.
    Either::Right(routed.map(move |r| {
        let mut r = r?;
        if close {
            r.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        if let Some(v) = &cx.alt_svc {
            let h = r.headers_mut();
            if !h.contains_key(http::header::ALT_SVC) {
                h.insert(http::header::ALT_SVC, v.clone());
            }
        }
        Ok(respond(r, guard))
    }))
}

fn respond(r: super::Response, guard: ActiveGuard) -> http::Response<ServedBody> {
    r.map(|inner| ServedBody {
        inner,
        _guard: guard,
        failed: None,
    })
}

/// A response body that keeps its request counted as active until done.
///
/// A body that fails is given one more turn first: hyper's connection
/// drops what it has not flushed when a body fails, so the head and data
/// read just before the failure (an upstream that died mid-body) would
/// never reach the client, which would see no response instead of a
/// broken one.
pub struct ServedBody {
    inner: Body,
    _guard: ActiveGuard,
    failed: Option<BoxError>,
}

impl http_body::Body for ServedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(e) = this.failed.take() {
            return Poll::Ready(Some(Err(e)));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Err(e))) => {
                this.failed = Some(e);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
