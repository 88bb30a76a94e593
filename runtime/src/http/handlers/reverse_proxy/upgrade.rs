//! Protocol upgrades (WebSocket over HTTP/1.1): when the upstream answers
//! 101, the client gets the 101 too, and once both sides have switched a
//! task copies bytes both ways until either side closes or
//! `stream_timeout` elapses. When the config is unloaded, open tunnels
//! are closed — after `stream_close_delay` when one is set.

use super::respond::Shared;
use crate::http::{Body, Cx, Response};
use hyper_util::rt::TokioIo;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::AbortHandle;

/// The open tunnels of one handler.
#[derive(Default)]
pub struct Tunnels(Mutex<Vec<AbortHandle>>);

impl Tunnels {
    fn add(&self, h: AbortHandle) {
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

/// Answers 101 to the client and tunnels the two upgraded connections.
pub fn tunnel(shared: &Shared, cx: &mut Cx<'_>, mut resp: http::Response<Body>) -> Response {
    let mut tmp = http::Request::new(());
    std::mem::swap(tmp.extensions_mut(), &mut cx.parts.extensions);
    let client_up = hyper::upgrade::on(&mut tmp);
    std::mem::swap(tmp.extensions_mut(), &mut cx.parts.extensions);
    let upstream_up = hyper::upgrade::on(&mut resp);
    let (timeout, size) = (shared.stream_timeout, shared.stream_buffer);
    let task = tokio::spawn(async move {
        let (Ok(c), Ok(u)) = (client_up.await, upstream_up.await) else {
            return;
        };
        let (mut c, mut u) = (TokioIo::new(c), TokioIo::new(u));
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
    let (parts, _) = resp.into_parts();
    http::Response::from_parts(parts, Body::Empty)
}
