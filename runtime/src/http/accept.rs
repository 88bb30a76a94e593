//! The accept loop of a pooled TCP or unix socket: each connection is
//! counted from accept on ([`Accepted`], so a drain never misses one) and
//! served on a serving thread ([`super::serve_threads`]) by
//! [`super::serve::serve_conn`], after TLS and the listener wrappers. A
//! UDP socket gets an HTTP/3 endpoint instead. The loop ends when the
//! socket's stop signal fires, and takes nothing more from the queue
//! after that (a new process may share it: binary upgrade).

use super::conn::ConnInfo;
use super::serve::serve_conn;
use crate::app::{Accepted, Shared};
use crate::listeners::prefixed::Prefixed;
use crate::listeners::{Listener, Socket};
use std::sync::Arc;
use std::time::Duration;

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
