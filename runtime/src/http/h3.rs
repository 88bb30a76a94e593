//! HTTP/3: a QUIC endpoint (quinn + h3) on the UDP socket beside each TCP
//! listener of a TLS server whose `protocols` include `h3` (Caddy's default).
//!
//! - The UDP socket comes from the listener pool under `udp/host:port`, so a
//!   reload that keeps the address keeps the socket and its endpoint. An
//!   inherited datagram socket (`fdgram/N`) is pooled under its own key and
//!   served the same way, binding nothing. Which listeners serve HTTP/3 is
//!   per listener (`listen_protocols`, `h3/listen.rs`).
//! - The endpoint runs supervised: its accept task failing (or panicking)
//!   is logged, the endpoint closed and rebuilt from a duplicate of the
//!   pooled socket (same port, nothing rebound). Each connection (`h3/conn.rs`) and each request
//!   (`h3/request.rs`) runs in its own task; requests go through the same
//!   [`super::route::route`] as HTTP/1.1 and HTTP/2.
//! - quinn drops datagrams it cannot parse and Initials shorter than 1200
//!   bytes without keeping state; when many handshakes are in flight, new
//!   clients must prove their address first (a Retry, `h3/admission.rs`,
//!   which also holds the test hooks: counters, a lower threshold, an
//!   injected endpoint fault).
//! - When the socket is handed to a new process (binary upgrade), the
//!   endpoint stops taking connections, closes its own with `H3_NO_ERROR`
//!   within a second (GOAWAY first, see `h3/conn.rs`) and ends, so the
//!   new process alone reads the shared socket.
//! - HTTP/1.1 and HTTP/2 responses of such servers advertise
//!   `Alt-Svc: h3=":PORT"; ma=2592000`, as Caddy does.

pub mod admission;
mod conn;
pub(crate) mod listen;
mod request;

use super::conn::ConnInfo;
use super::server::Server;
use crate::app::Shared;
use crate::error::Error;
use crate::listeners::{Lease, ListenAddr, Listener, Network, Pool, Socket};
use admission::{Admission, EndpointFault, Handshake};
use std::sync::Arc;
use std::time::Duration;

/// Builds the server's QUIC config when it serves HTTP/3; logs why not
/// where its TLS settings rule it out.
pub fn provision(server: &mut Server) {
    let Some(tls) = &server.tls else { return };
    if !server.listen_protocols.iter().any(|p| p.h3) {
        return;
    }
    match crate::tls::quic::server_config(tls, &server.settings) {
        Ok(c) => server.quic = Some(Arc::new(c)),
        Err(why) => {
            tracing::warn!(server = %server.name, reason = %why, "HTTP/3 disabled for this server")
        }
    }
}

/// The UDP lease beside `tcp` (a lease on `addr`) when `server` serves
/// HTTP/3 there (`h3`: the listener's protocols include it).
pub fn lease(
    pool: &Pool,
    server: &Server,
    addr: &ListenAddr,
    tcp: &Lease,
    h3: bool,
) -> Result<Option<Lease>, Error> {
    let (Some(_), Some(local), true) = (&server.quic, tcp.socket.local, h3) else {
        return Ok(None);
    };
    if addr.network == Network::Unix {
        return Ok(None);
    }
    let udp = ListenAddr {
        port: local.port(),
        ..addr.clone()
    };
    pool.obtain_udp(&udp).map(Some)
}

/// The lease on an inherited datagram socket (`fdgram/N`) of `server`,
/// served by a QUIC endpoint like a bound UDP socket. Without TLS there is
/// no HTTP/3 to serve: the descriptor is checked, and left unused with a
/// warning.
pub fn lease_datagram(
    pool: &Pool,
    server: &Server,
    addr: &ListenAddr,
) -> Result<Option<Lease>, Error> {
    if server.quic.is_some() {
        return pool.obtain_datagram(addr).map(Some);
    }
    crate::listeners::inherited::datagram(addr).map_err(|e| Error::Listen {
        address: addr.key(),
        message: e.to_string(),
    })?;
    tracing::warn!(server = %server.name, listener = %addr.key(), "inherited datagram socket left unused: HTTP/3 needs TLS on this server");
    Ok(None)
}

/// The `Alt-Svc` value for responses on a connection of this socket, when
/// its server serves HTTP/3.
pub fn alt_svc(shared: &Shared, socket_id: u64, info: &ConnInfo) -> Option<http::HeaderValue> {
    if !info.tls {
        return None;
    }
    let instance = shared.current()?;
    instance.server_for(socket_id)?.quic.as_ref()?;
    let v = format!("h3=\":{}\"; ma=2592000", info.local_port());
    http::HeaderValue::from_str(&v).ok()
}

/// Starts the supervised endpoint of a pooled UDP socket.
pub fn spawn_endpoint(socket: Arc<Socket>, shared: Arc<Shared>) {
    tokio::spawn(supervise(socket, shared));
}

async fn supervise(socket: Arc<Socket>, shared: Arc<Shared>) {
    // Held for the life of this task: the UDP port closes when it ends.
    let Some(listener) = socket.take_listener() else {
        return;
    };
    let admission = Admission::register(socket.local);
    let mut backoff = Duration::from_millis(100);
    while !*socket.stop.borrow() {
        let endpoint = match build_endpoint(&listener, &socket, &shared) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(listener = %socket.key, error = %e, "HTTP/3 endpoint could not start");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        tracing::debug!(listener = %socket.key, "HTTP/3 endpoint serving");
        let task = tokio::spawn(accept_loop(
            endpoint.clone(),
            socket.clone(),
            shared.clone(),
            admission.clone(),
        ));
        let why = match task.await {
            Ok(Ok(())) => break,
            Ok(Err(e)) => e,
            Err(e) => format!("the accept task failed: {e}"),
        };
        tracing::error!(listener = %socket.key, error = %why, "HTTP/3 endpoint failed; restarting it");
        endpoint.close(quinn::VarInt::from_u32(0x102), b"endpoint restart");
        admission.restarted();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
    tracing::debug!(listener = %socket.key, "HTTP/3 endpoint closed");
}

fn build_endpoint(
    listener: &Listener,
    socket: &Socket,
    shared: &Shared,
) -> std::io::Result<quinn::Endpoint> {
    let Listener::Udp(udp) = listener else {
        return Err(std::io::Error::other("not a UDP socket"));
    };
    let udp = udp.try_clone()?;
    let config = shared
        .current()
        .and_then(|i| i.server_for(socket.id).and_then(|s| s.quic.clone()))
        .map(|c| (*c).clone());
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        config,
        udp,
        Arc::new(quinn::TokioRuntime),
    )
}

/// Accepts connections until the socket leaves the config, then refuses
/// new ones and waits for the open ones to finish. `Err` when the endpoint
/// closed unexpectedly.
async fn accept_loop(
    endpoint: quinn::Endpoint,
    socket: Arc<Socket>,
    shared: Arc<Shared>,
    admission: Arc<Admission>,
) -> Result<(), String> {
    let mut stop = socket.stop.clone();
    while !*stop.borrow_and_update() {
        let incoming = tokio::select! {
            _ = stop.changed() => break,
            i = endpoint.accept() => i,
        };
        let Some(incoming) = incoming else {
            return Err("the endpoint closed".into());
        };
        match admission.take_fault() {
            None => {}
            Some(EndpointFault::Panic) => panic!("injected fault in the HTTP/3 accept task"),
            Some(EndpointFault::Close) => {
                endpoint.close(quinn::VarInt::from_u32(0x102), b"injected fault");
                continue;
            }
        }
        let Some((incoming, handshake)) = admission.admit(incoming) else {
            continue;
        };
        let (socket, shared) = (socket.clone(), shared.clone());
        tokio::spawn(conn::serve(incoming, socket, shared, handshake));
    }
    endpoint.set_server_config(None);
    if socket.is_handed_off() {
        // Another process reads this socket now: the connections close
        // within the hand-off grace (`h3/conn.rs`); then the endpoint
        // closes whatever is left, so its reads stop.
        let limit = conn::HANDOFF_GRACE + Duration::from_millis(250);
        let _ = tokio::time::timeout(limit, endpoint.wait_idle()).await;
        endpoint.close(quinn::VarInt::from_u32(conn::H3_NO_ERROR), b"");
    }
    endpoint.wait_idle().await;
    Ok(())
}
