//! The TLS accept path: a TCP connection on a server with connection
//! policies is handshaken here (ClientHello read first, policy chosen by
//! SNI and addresses, TLS-ALPN-01 validations answered), then served like
//! any other connection with the negotiated ALPN deciding h1 or h2.
//!
//! Also the request-time checks TLS brings: `strict_sni_host` (421 when
//! the Host differs from the SNI) and HTTP-01 challenge answers.

use super::challenge;
use super::policy::ServerTls;
use crate::app::Shared;
use crate::http::conn::ConnInfo;
use crate::listeners::prefixed::Prefixed;
use crate::listeners::wrappers::{self, Wrapper};
use crate::listeners::Socket;
use http::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The extra time a handshake may wait for an on-demand certificate.
const ON_DEMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Serves one accepted TCP connection, with TLS when its server has it,
/// running the server's listener wrappers before and after the handshake.
pub async fn serve_tcp(
    mut s: TcpStream,
    mut info: ConnInfo,
    socket: Arc<Socket>,
    shared: Arc<Shared>,
) {
    let (tls, wrappers) = shared
        .current()
        .and_then(|i| {
            i.server_for(socket.id)
                .map(|srv| (srv.tls.clone(), srv.wrappers.clone()))
        })
        .unwrap_or_default();
    if let Some(ws) = &wrappers {
        // without TLS, the wrappers after the handshake run on the socket too
        let raw: &[&[Wrapper]] = match tls {
            Some(_) => &[&ws.before_tls],
            None => &[&ws.before_tls, &ws.after_tls],
        };
        for list in raw {
            match wrappers::run_tcp(list, &mut s, info.remote).await {
                Ok(addrs) => from_proxy(&mut info, addrs),
                Err(e) => {
                    tracing::debug!(remote = ?info.remote, error = %e, "listener wrapper closed the connection");
                    return;
                }
            }
        }
    }
    let Some(tls) = tls else {
        crate::http::serve::serve_conn(s, info, socket, shared).await;
        return;
    };
    let remote = info.remote;
    let limit = match tls.state.on_demand {
        Some(_) => HANDSHAKE_TIMEOUT + ON_DEMAND_TIMEOUT,
        None => HANDSHAKE_TIMEOUT,
    };
    match tokio::time::timeout(limit, handshake(&tls, s, &info)).await {
        Ok(Ok((mut stream, sni, h2))) => {
            info.tls = true;
            info.tls_sni = sni;
            info.alpn_h2 = h2;
            info.tls_info = Some(Arc::new(crate::http::tls_info::TlsInfo::from_server(
                stream.get_ref().1,
            )));
            let Some(after) = wrappers.filter(|w| !w.after_tls.is_empty()) else {
                crate::http::serve::serve_conn(stream, info, socket, shared).await;
                return;
            };
            let mut read = Vec::new();
            match wrappers::run_stream(&after.after_tls, &mut stream, info.remote, &mut read).await
            {
                Ok(addrs) => {
                    from_proxy(&mut info, addrs);
                    let stream = Prefixed::new(read, stream);
                    crate::http::serve::serve_conn(stream, info, socket, shared).await;
                }
                Err(e) => {
                    tracing::debug!(remote = ?remote, error = %e, "listener wrapper closed the connection")
                }
            }
        }
        Ok(Err(e)) => tracing::debug!(remote = ?remote, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(remote = ?remote, "TLS handshake timed out"),
    }
}

/// Serves the connection as from the addresses a PROXY header gave.
pub fn from_proxy(info: &mut ConnInfo, addrs: wrappers::Addrs) {
    if let Some((source, destination)) = addrs {
        info.remote = Some(source);
        info.local = Some(destination);
    }
}

type Handshaken = (TlsStream<TcpStream>, Option<Arc<str>>, bool);

/// Go's answer to plain HTTP on a TLS port, which Caddy gives.
const HTTP_ON_TLS: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

async fn handshake(tls: &ServerTls, s: TcpStream, info: &ConnInfo) -> std::io::Result<Handshaken> {
    let mut s = s;
    if wrappers::looks_like_http(&s).await {
        use tokio::io::AsyncWriteExt;
        let _ = s.write_all(HTTP_ON_TLS).await;
        let _ = s.shutdown().await;
        return Err(other("client sent an HTTP request to an HTTPS server"));
    }
    let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), s);
    let start = acceptor.await?;
    let hello = start.client_hello();
    let sni: Option<Arc<str>> = hello.server_name().map(Arc::from);
    let alpn_only_acme = hello
        .alpn()
        .is_some_and(|mut a| a.next() == Some(challenge::ACME_TLS_ALPN) && a.next().is_none());
    if alpn_only_acme {
        let cert = sni.as_deref().and_then(|name| {
            challenge::tls_alpn_cert(name).or_else(|| {
                let key_auth = challenge::tls_alpn_from_storage(&tls.state.storage, name)?;
                let digest = ring::digest::digest(&ring::digest::SHA256, key_auth.as_bytes());
                super::acme::alpn_cert(name, digest.as_ref()).ok()
            })
        });
        let Some(cert) = cert else {
            return Err(other("acme-tls/1 ClientHello without a live challenge"));
        };
        tracing::info!(name = ?sni, "answering a TLS-ALPN-01 challenge");
        let stream = start.into_stream(challenge::tls_alpn_config(cert)).await?;
        return Ok((stream, sni, false));
    }
    let local = info.local.map(|a| a.ip());
    let managed = match sni.as_deref() {
        Some(name) => from_manager(tls, name, hello, local).await,
        None => None,
    };
    if let Some(name) = sni.as_deref().filter(|_| tls.state.on_demand.is_some()) {
        if managed.is_none() {
            super::on_demand::ensure(&tls.state, name)
                .await
                .map_err(std::io::Error::other)?;
        }
    }
    let remote = info.remote.map(|a| a.ip());
    let Some(policy) = tls.select(sni.as_deref(), remote, local) else {
        return Err(other("no TLS connection policy matches the ClientHello"));
    };
    if policy.drop {
        return Err(other("connection policy drops the connection"));
    }
    let config = match (managed, sni.is_none()) {
        (Some(key), _) => {
            // the manager's certificate, for this handshake only
            let mut c = (*policy.config).clone();
            c.cert_resolver = Arc::new(super::managers::Fixed(key));
            Arc::new(c)
        }
        (None, true) => policy.config_without_sni(local),
        (None, false) => policy.config.clone(),
    };
    let stream = start.into_stream(config).await?;
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    Ok((stream, sni, h2))
}

/// A certificate for `name` from the managers (`get_certificate`) of the
/// first automation policy covering it, when no cached certificate
/// matches; a manager's failure is logged and the next one asked.
async fn from_manager(
    tls: &ServerTls,
    name: &str,
    hello: rustls::server::ClientHello<'_>,
    local: Option<std::net::IpAddr>,
) -> Option<Arc<rustls::sign::CertifiedKey>> {
    let state = &tls.state;
    let name = name.to_ascii_lowercase();
    let policy = state.policies.iter().find(|p| p.covers(&name))?;
    if policy.managers.is_empty() || state.cache.has_match(&name) {
        return None;
    }
    let asked = super::managers::Hello {
        server_name: name.clone(),
        signature_schemes: hello
            .signature_schemes()
            .iter()
            .map(|s| u16::from(*s))
            .collect(),
        cipher_suites: hello
            .cipher_suites()
            .iter()
            .map(|s| u16::from(*s))
            .collect(),
        local_ip: local,
    };
    for m in &policy.managers {
        match m.get(&asked).await {
            Ok(Some(key)) => return Some(key),
            Ok(None) => {}
            Err(e) => tracing::error!(name = %name, error = %e, "certificate manager failed"),
        }
    }
    None
}

fn other(msg: &str) -> std::io::Error {
    std::io::Error::other(msg.to_string())
}

/// Answers what TLS settles before the routes run: an ACME HTTP-01
/// challenge (this process's own, or one another instance on `storage`
/// is solving), or 421 when `strict_sni_host` finds Host and SNI differ.
pub fn pre_route(
    tls: Option<&ServerTls>,
    storage: Option<&super::storage::Storage>,
    info: &ConnInfo,
    parts: &http::request::Parts,
) -> Option<crate::http::Response> {
    let path = parts.uri.path();
    if challenge::is_challenge_path(path) {
        let answer = challenge::http01_answer(path).or_else(|| {
            let host = Some(request_host(parts)).filter(|h| !h.is_empty())?;
            challenge::http01_from_storage(storage?, host, path)
        });
        if let Some(answer) = answer {
            tracing::info!(path, "answering an HTTP challenge");
            let mut r = crate::http::Response::new(crate::http::Body::from_bytes(answer));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain"),
            );
            return Some(r);
        }
    }
    let tls = tls?;
    if !tls.strict_sni_host || !info.tls {
        return None;
    }
    let host = request_host(parts);
    let sni = info.tls_sni.as_deref().unwrap_or("");
    if host.eq_ignore_ascii_case(sni) {
        return None;
    }
    tracing::debug!(
        host,
        sni,
        "strict_sni_host: Host differs from the TLS server name"
    );
    Some(crate::http::handlers::status_response(
        StatusCode::MISDIRECTED_REQUEST,
    ))
}

/// The host a request names (its URI's, else its `Host` header's), without
/// the port; empty when it names none.
fn request_host(parts: &http::request::Parts) -> &str {
    let host = parts
        .uri
        .host()
        .or_else(|| parts.headers.get(http::header::HOST)?.to_str().ok())
        .unwrap_or("");
    strip_port(host)
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}
