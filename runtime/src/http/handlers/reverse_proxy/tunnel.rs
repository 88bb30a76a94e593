//! The tunnel a proxied upgrade becomes (WebSocket and other `Upgrade`
//! protocols, and WebSocket over HTTP/2): the client's side (hyper's
//! upgraded connection, or an extended CONNECT stream of `http::h2`) and
//! the upstream's, copied both ways by a task the server tracks (closed by
//! `stream_close_delay` on reload), bounded by `stream_timeout`; and the
//! upstream 101 that starts one ([`switch_protocols`]).

use super::headers::strip_hop;
use super::respond::Shared;
use crate::http::{Body, BoxFuture, Cx, Response};
use http::StatusCode;
use hyper_util::rt::TokioIo;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::AbortHandle;
use tokio_util::either::Either;

/// Answers 101 to the client and tunnels the two upgraded connections.
pub fn tunnel(shared: &Shared, cx: &mut Cx<'_>, mut resp: http::Response<Body>) -> Response {
    let client_up = client_upgrade(cx);
    let upstream_up = hyper::upgrade::on(&mut resp);
    let (timeout, size) = (shared.stream_timeout, shared.stream_buffer);
    let task = tokio::spawn(async move {
        let (Some(mut c), Ok(u)) = (client_up.await, upstream_up.await) else {
            return;
        };
        let mut u = TokioIo::new(u);
        let copy = tokio::io::copy_bidirectional_with_sizes(&mut c, &mut u, size, size);
        match timeout {
            Some(t) => {
                let _ = tokio::time::timeout(t, copy).await;
            }
            None => {
                let _ = copy.await;
            }
        }
    });
    shared.tunnels.add(task.abort_handle());
    let (mut parts, _) = resp.into_parts();
    if super::headers::h2_websocket(&cx.parts) {
        // An HTTP/2 client is answered 200, which opens its stream.
        parts.status = StatusCode::OK;
        strip_hop(&mut parts.headers, false);
        parts.headers.remove(http::header::SEC_WEBSOCKET_ACCEPT);
    }
    http::Response::from_parts(parts, Body::Empty)
}

/// The client's side of a tunnel once the answer is sent: hyper's
/// upgraded connection, or the stream of an extended CONNECT served by
/// `http::h2`.
fn client_upgrade(cx: &mut Cx<'_>) -> BoxFuture<'static, Option<ClientIo>> {
    if let Some(rx) = cx
        .parts
        .extensions
        .get::<crate::http::h2::PendingTunnel>()
        .and_then(|p| p.take())
    {
        return Box::pin(async move { rx.await.ok().map(Either::Right) });
    }
    let mut tmp = http::Request::new(());
    std::mem::swap(tmp.extensions_mut(), &mut cx.parts.extensions);
    let up = hyper::upgrade::on(&mut tmp);
    std::mem::swap(tmp.extensions_mut(), &mut cx.parts.extensions);
    Box::pin(async move { up.await.ok().map(|u| Either::Left(TokioIo::new(u))) })
}

/// The client's side of a tunnel: hyper's upgraded connection, or an
/// extended CONNECT stream of `http::h2`.
type ClientIo = Either<TokioIo<hyper::upgrade::Upgraded>, crate::http::h2::Tunnel>;

/// The open tunnels of one handler.
#[derive(Default)]
pub struct Tunnels(Mutex<Vec<AbortHandle>>);

impl Tunnels {
    pub(super) fn add(&self, h: AbortHandle) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|h| !h.is_finished());
        v.push(h);
    }

    /// Closes every tunnel, after `delay` when given.
    pub fn close_all(&self, delay: Option<Duration>) {
        let handles = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        if handles.is_empty() {
            return;
        }
        let close = move || handles.iter().for_each(AbortHandle::abort);
        match (delay, tokio::runtime::Handle::try_current()) {
            (Some(d), Ok(rt)) => {
                rt.spawn(async move {
                    tokio::time::sleep(d).await;
                    close();
                });
            }
            _ => close(),
        }
    }
}

/// An upstream's 101, as Caddy's `finalizeResponse` and
/// `handleUpgradeResponse`: hop-by-hop fields go (but `Upgrade` and
/// `Connection: Upgrade`), and the client's connection is switched only to
/// the protocol it asked for; otherwise nothing is switched and the client
/// gets an empty 200, as from Caddy.
pub(super) fn switch_protocols(
    shared: &Shared,
    cx: &mut Cx<'_>,
    mut resp: http::Response<Body>,
) -> Response {
    // The upstream's `Upgrade` counts whatever its `Connection` says.
    let offered = resp.headers().get(http::header::UPGRADE).cloned();
    strip_hop(resp.headers_mut(), false);
    let asked = if super::headers::h2_websocket(&cx.parts) {
        Some("websocket".to_string())
    } else {
        super::headers::upgrade_type(&cx.parts.headers)
    };
    let printable = |v: &http::HeaderValue| v.as_bytes().iter().all(|b| (0x20..0x7f).contains(b));
    match (offered, asked) {
        (Some(up), Some(asked))
            if printable(&up) && up.as_bytes().eq_ignore_ascii_case(asked.as_bytes()) =>
        {
            let h = resp.headers_mut();
            h.insert(http::header::UPGRADE, up);
            h.insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("Upgrade"),
            );
            super::tunnel::tunnel(shared, cx, resp)
        }
        (offered, asked) => {
            tracing::debug!(backend_upgrade = ?offered, requested_upgrade = ?asked,
                "backend tried to switch to unexpected protocol via Upgrade header");
            cx.omit_server = false;
            http::Response::new(Body::Empty)
        }
    }
}
