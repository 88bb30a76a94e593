//! Serving sockets: the accept loop of a pooled socket and the driver of
//! one connection. HTTP/1.1 starts on bellhop's own server ([`super::h1`]),
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
use crate::app::{Accepted, Shared};
use crate::listeners::prefixed::Prefixed;
use crate::listeners::{Listener, Socket};
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

/// Starts the accept loop of `socket` unless one runs already.
pub fn spawn_accept(socket: Arc<Socket>, shared: Arc<Shared>) {
    if socket
        .serving
        .swap(true, std::sync::atomic::Ordering::AcqRel)
    {
        return;
    }
    if socket.kind() == "udp" {
        super::h3::spawn_endpoint(socket, shared);
        return;
    }
    tokio::spawn(accept_loop(socket, shared));
}

async fn accept_loop(socket: Arc<Socket>, shared: Arc<Shared>) {
    let Some(listener) = socket.take_listener() else {
        return;
    };
    let mut stop = socket.stop.clone();
    while !*stop.borrow_and_update() {
        let accepted = tokio::select! {
            // A stopped loop takes nothing more from a queue it may share
            // with a new process (binary upgrade).
            biased;
            _ = stop.changed() => break,
            a = accept(&listener) => a,
        };
        match accepted {
            Ok((Stream::Tcp(s), info)) => {
                let _ = s.set_nodelay(true);
                let (socket, shared) = (socket.clone(), shared.clone());
                let accepted = Accepted::new(&shared);
                serve_tcp_on_thread(s, info, socket, shared, accepted);
            }
            Ok((Stream::Unix(s), info)) => {
                let accepted = Accepted::new(&shared);
                let (socket, shared) = (socket.clone(), shared.clone());
                tokio::spawn(async move {
                    serve_unix(s, info, socket, shared).await;
                    drop(accepted);
                });
            }
            Err(e) => {
                tracing::error!(listener = %socket.key, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    tracing::debug!(listener = %socket.key, "listener closed");
}

/// Serves an accepted TCP connection on a serving thread (see
/// `serve_threads`), or here when there are none.
fn serve_tcp_on_thread(
    s: tokio::net::TcpStream,
    info: ConnInfo,
    socket: Arc<Socket>,
    shared: Arc<Shared>,
    accepted: Accepted,
) {
    // The stream moves to the serving thread's reactor.
    let std = match s.into_std() {
        Ok(std) => std,
        Err(e) => {
            tracing::warn!(error = %e, "cannot hand an accepted connection to a serving thread");
            return;
        }
    };
    let owner = shared.clone();
    let serve = async move {
        match tokio::net::TcpStream::from_std(std) {
            Ok(s) => crate::tls::accept::serve_tcp(s, info, socket, shared).await,
            Err(e) => tracing::warn!(error = %e, "cannot register an accepted connection"),
        }
        drop(accepted);
    };
    if let Err(serve) = owner.serving.spawn(serve) {
        tokio::spawn(serve);
    }
}

/// Serves a unix-socket connection, after the server's listener wrappers
/// (a unix peer is trusted: a PROXY header from it is used).
async fn serve_unix(
    mut s: tokio::net::UnixStream,
    mut info: ConnInfo,
    socket: Arc<Socket>,
    shared: Arc<Shared>,
) {
    let wrappers = shared
        .current()
        .and_then(|i| i.server_for(socket.id).and_then(|srv| srv.wrappers.clone()));
    let mut read = Vec::new();
    if let Some(ws) = wrappers {
        for list in [&ws.before_tls, &ws.after_tls] {
            match crate::listeners::wrappers::run_stream(list, &mut s, info.remote, &mut read).await
            {
                Ok(addrs) => crate::tls::accept::from_proxy(&mut info, addrs),
                Err(e) => {
                    tracing::debug!(error = %e, "listener wrapper closed the connection");
                    return;
                }
            }
        }
    }
    let s = Prefixed::new(read, s);
    serve_conn(s, info, socket, shared).await;
}

enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(l: &Listener) -> std::io::Result<(Stream, ConnInfo)> {
    match l {
        Listener::Tcp(t) => {
            let (s, remote) = t.accept().await?;
            let local = s.local_addr().ok();
            Ok((
                Stream::Tcp(s),
                ConnInfo {
                    remote: Some(remote),
                    local,
                    tls: false,
                    tls_sni: None,
                    alpn_h2: false,
                    tls_info: None,
                    state: None,
                    remote_value: Default::default(),
                },
            ))
        }
        Listener::Unix(u) => {
            let (s, _) = u.accept().await?;
            Ok((
                Stream::Unix(s),
                ConnInfo {
                    remote: None,
                    local: None,
                    tls: false,
                    tls_sni: None,
                    alpn_h2: false,
                    tls_info: None,
                    state: None,
                    remote_value: Default::default(),
                },
            ))
        }
        Listener::Udp(_) => Err(std::io::Error::other("UDP sockets are served by HTTP/3")),
    }
}

/// A served connection that can be asked to finish gracefully.
pub(crate) trait Graceful: Future {
    fn shutdown(self: Pin<&mut Self>);
}

impl<I, S, E> Graceful for auto::UpgradeableConnection<'_, I, S, E>
where
    Self: Future,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<BoxError>,
    S::ResBody: http_body::Body + 'static,
    <S::ResBody as http_body::Body>::Error: Into<BoxError>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S> Graceful for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    Self: Future,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<BoxError>,
    S::ResBody: http_body::Body + 'static,
    <S::ResBody as http_body::Body>::Error: Into<BoxError>,
{
    fn shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, E> Graceful for hyper::server::conn::http2::Connection<I, S, E>
where
    Self: Future,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<BoxError>,
    S::ResBody: http_body::Body + 'static,
    <S::ResBody as http_body::Body>::Error: Into<BoxError>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

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
