//! One HTTP/3 connection: the QUIC handshake (with the server's current
//! QUIC config), the h3 session (`max_header_bytes` as its field-section
//! limit), one task per request, and the end: a GOAWAY when the connection
//! has been idle too long or its socket leaves the config, then a close
//! with `H3_NO_ERROR` once its requests are done (the GOAWAY names the last
//! request taken, so the client knows later ones were not processed and
//! may retry them elsewhere) or the grace period is over. A panic here closes this connection only (`H3_INTERNAL_ERROR`).
//!
//! When the socket was handed to a new process (binary upgrade), both
//! processes read the one UDP socket and each datagram reaches only one of
//! them, so this process must stop reading it soon: after the GOAWAY the
//! requests in flight get at most [`HANDOFF_GRACE`] (or the grace period
//! if shorter) before the close. Its client reconnects, and the new
//! process answers.

use super::Handshake;
use crate::app::Shared;
use crate::http::conn::{ConnInfo, ConnState};
use crate::http::drive::idle_elapsed;
use crate::http::route::catch_panic;
use crate::http::server::ConnSettings;
use crate::listeners::Socket;
use bytes::Bytes;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

/// How long a client may take to finish the QUIC handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// `H3_NO_ERROR`.
pub(super) const H3_NO_ERROR: u32 = 0x100;
/// `H3_INTERNAL_ERROR`.
const H3_INTERNAL_ERROR: u32 = 0x102;
/// How long requests in flight may take once the socket was handed to a
/// new process.
pub(super) const HANDOFF_GRACE: Duration = Duration::from_secs(1);
/// How often a closing connection checks whether its requests are done.
const CLOSING_POLL: Duration = Duration::from_millis(10);
/// How long a finished connection waits for the client to close it, so
/// the last responses are delivered before ours closes it.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Serves one incoming QUIC connection.
pub(super) async fn serve(
    incoming: quinn::Incoming,
    socket: Arc<Socket>,
    shared: Arc<Shared>,
    handshake: Handshake,
) {
    let counter = shared.clone();
    let _counted = counter.conns.enter();
    let current = shared.current().and_then(|i| {
        let s = i.server_for(socket.id)?;
        Some((s.quic.clone()?, s.settings))
    });
    let Some((config, settings)) = current else {
        incoming.refuse();
        return;
    };
    let local_ip = incoming
        .local_ip()
        .or(socket.local.map(|a| a.ip()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let local = SocketAddr::new(local_ip, socket.local.map_or(0, |a| a.port()));
    let remote = incoming.remote_address();
    let connecting = match incoming.accept_with(config) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(%remote, error = %e, "QUIC connection refused");
            return;
        }
    };
    let conn = match tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::debug!(%remote, error = %e, "QUIC handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "QUIC handshake timed out");
            return;
        }
    };
    drop(handshake);
    let info = Arc::new(ConnInfo {
        remote: Some(conn.remote_address()),
        local: Some(local),
        tls: true,
        tls_sni: server_name(&conn),
        alpn_h2: false,
        tls_info: Some(Arc::new(crate::http::tls_info::TlsInfo::from_quic(&conn))),
        state: None,
        remote_value: Default::default(),
    });
    match catch_panic(drive(&conn, info, &socket, &shared, &settings)).await {
        Ok(Ok(linger_until)) => {
            let _ = tokio::time::timeout_at(linger_until, conn.closed()).await;
            conn.close(H3_NO_ERROR.into(), b"");
        }
        Ok(Err(e)) if e.is_h3_no_error() => conn.close(H3_NO_ERROR.into(), b""),
        Ok(Err(e)) => tracing::debug!(%remote, error = %e, "HTTP/3 connection failed"),
        Err(msg) => {
            tracing::error!(%remote, panic = %msg, "HTTP/3 connection panicked; closing it");
            conn.close(H3_INTERNAL_ERROR.into(), b"internal error");
        }
    }
}

fn server_name(conn: &quinn::Connection) -> Option<Arc<str>> {
    let data = conn.handshake_data()?;
    let data = data
        .downcast::<quinn::crypto::rustls::HandshakeData>()
        .ok()?;
    data.server_name.map(Arc::from)
}

/// Runs the h3 session until it ends: its requests are done after a
/// GOAWAY, or the grace period is over. `Ok` holds how long to wait for
/// the client to close before closing it ourselves (no longer than the
/// grace period).
async fn drive(
    conn: &quinn::Connection,
    info: Arc<ConnInfo>,
    socket: &Socket,
    shared: &Arc<Shared>,
    settings: &ConnSettings,
) -> Result<tokio::time::Instant, h3::error::ConnectionError> {
    let mut h3c = h3::server::builder()
        .max_field_section_size(settings.max_header_bytes as u64)
        .build::<_, Bytes>(h3_quinn::Connection::new(conn.clone()))
        .await?;
    let state = ConnState::new();
    let mut stop = socket.stop.clone();
    let mut closing = false;
    let never = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
    let mut grace = pin!(tokio::time::sleep_until(never));
    loop {
        tokio::select! {
            accepted = h3c.accept() => match accepted? {
                Some(resolver) => {
                    let guard = state.begin();
                    tokio::spawn(super::request::serve(
                        resolver,
                        shared.clone(),
                        socket.id,
                        info.clone(),
                        guard,
                        *settings,
                    ));
                }
                None => return Ok(grace.deadline().min(tokio::time::Instant::now() + CLOSE_LINGER)),
            },
            _ = idle_elapsed(&state, settings.idle_timeout), if !closing => {
                closing = true;
                h3c.shutdown(0).await?;
            }
            _ = stop.changed(), if !closing => {
                closing = true;
                let ms = socket.grace_ms.load(std::sync::atomic::Ordering::Acquire);
                let mut limit = (ms != u64::MAX).then(|| Duration::from_millis(ms));
                if socket.is_handed_off() {
                    limit = Some(limit.map_or(HANDOFF_GRACE, |l| l.min(HANDOFF_GRACE)));
                }
                if let Some(limit) = limit {
                    grace.as_mut().reset(tokio::time::Instant::now() + limit);
                }
                h3c.shutdown(0).await?;
            }
            _ = idle_elapsed(&state, CLOSING_POLL), if closing => {
                return Ok(tokio::time::Instant::now());
            }
            _ = grace.as_mut() => return Ok(tokio::time::Instant::now()),
        }
    }
}
