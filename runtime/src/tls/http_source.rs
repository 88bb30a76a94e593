//! `tls.ca_pool.source.http`: trusted CA certificates fetched, when the
//! config is provisioned, from each of `endpoints` (a `GET` answered 2xx
//! with PEM; every `CERTIFICATE` block counts). `tls` sets how HTTPS
//! endpoints are trusted: `ca` (another CA pool source),
//! `insecure_skip_verify`, `server_name`, `handshake_timeout` (Caddy's
//! `TLSConfig`; `renegotiation` `once` or `freely` goes through OpenSSL,
//! `tls/renegotiation.rs`). Blocking I/O, so that `validate` fetches as a
//! load does; each endpoint has 10 s.

use super::TlsState;
use crate::error::Error;
use rustls::pki_types::CertificateDer;
use serde_json::{Map, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The certificates of the `http` source at `at`.
pub fn load(
    source: &Map<String, Value>,
    state: &TlsState,
    at: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let endpoints = super::ca_pool::string_list(source, "endpoints", at)?;
    let tls = match source.get("tls") {
        Some(Value::Object(t)) => Some(client(t, state, &format!("{at}.tls"))?),
        Some(_) => return Err(Error::config(format!("{at}.tls"), "must be an object")),
        None => None,
    };
    let mut out = Vec::new();
    for (i, url) in endpoints.iter().enumerate() {
        let p = format!("{at}.endpoints[{i}]");
        let body =
            fetch(url, tls.as_ref()).map_err(|e| Error::config(&p, format!("{url}: {e}")))?;
        out.extend(super::ca_pool::pem_certs(&body, &p)?);
    }
    Ok(out)
}

/// How HTTPS endpoints are trusted.
struct Client {
    config: Arc<rustls::ClientConfig>,
    /// `renegotiation` once or freely: OpenSSL instead of rustls.
    renegotiating: Option<super::renegotiation::Client>,
    server_name: Option<String>,
    timeout: Duration,
}

fn client(t: &Map<String, Value>, state: &TlsState, at: &str) -> Result<Client, Error> {
    let known = [
        "ca",
        "insecure_skip_verify",
        "server_name",
        "handshake_timeout",
        "renegotiation",
    ];
    if let Some(k) = t.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::config(format!("{at}.{k}"), "unknown field"));
    }
    let level = super::renegotiation::Level::parse(
        t.get("renegotiation").and_then(Value::as_str).unwrap_or(""),
        &format!("{at}.renegotiation"),
    )?;
    let builder = rustls::ClientConfig::builder_with_provider(super::policy::ring())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(at, e.to_string()))?;
    let skip = t.get("insecure_skip_verify").and_then(Value::as_bool) == Some(true);
    let mut custom = None;
    let config = if skip {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(
                crate::http::handlers::reverse_proxy::NoVerify,
            ))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match t.get("ca") {
            Some(Value::Object(ca)) => {
                let certs = super::ca_pool::load(ca, state, &format!("{at}.ca"))?;
                for c in &certs {
                    let _ = roots.add(c.clone());
                }
                custom = Some(certs.into_iter().map(|c| (c, "ca")).collect());
            }
            Some(_) => {
                return Err(Error::config(
                    format!("{at}.ca"),
                    "must be a CA pool source",
                ))
            }
            None => {
                for c in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(c);
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    let timeout = match t.get("handshake_timeout") {
        Some(v) => {
            let d: crate::config::CaddyDuration =
                crate::config::decode(v, &format!("{at}.handshake_timeout"))?;
            Some(d.0).filter(|d| !d.is_zero()).unwrap_or(TIMEOUT)
        }
        None => TIMEOUT,
    };
    let renegotiating = match level {
        super::renegotiation::Level::Never => None,
        level => {
            let spec = super::renegotiation::Spec {
                roots: custom,
                insecure_skip_verify: skip,
                ..Default::default()
            };
            Some(super::renegotiation::Client::new(level, &spec, at)?)
        }
    };
    Ok(Client {
        renegotiating,
        config: Arc::new(config),
        server_name: t
            .get("server_name")
            .and_then(Value::as_str)
            .map(str::to_string),
        timeout,
    })
}

/// GETs `url`; the body of a 2xx answer.
fn fetch(url: &str, tls: Option<&Client>) -> Result<Vec<u8>, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err("not an http(s) URL".into()),
    };
    let (host, port) = crate::util::http_post::host_port(&uri, https).ok_or("no host")?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map_or(host.as_str(), |a| a.as_str());
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: {authority}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    let mut raw = Vec::new();
    if https {
        let default = Client {
            config: Arc::new(
                rustls::ClientConfig::builder_with_provider(super::policy::ring())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .with_root_certificates(native_roots())
                    .with_no_client_auth(),
            ),
            renegotiating: None,
            server_name: None,
            timeout: TIMEOUT,
        };
        let c = tls.unwrap_or(&default);
        let name = c.server_name.clone().unwrap_or(host);
        tcp.set_read_timeout(Some(c.timeout))
            .map_err(|e| e.to_string())?;
        if let Some(r) = &c.renegotiating {
            let mut s = r.connect_blocking(&name, tcp).map_err(|e| e.to_string())?;
            s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
            read_all(&mut s, &mut raw)?;
            return parse(&raw);
        }
        let name = rustls::pki_types::ServerName::try_from(name).map_err(|e| e.to_string())?;
        let mut conn =
            rustls::ClientConnection::new(c.config.clone(), name).map_err(|e| e.to_string())?;
        // A request to renegotiate fails the fetch at once (rustls would
        // ignore it, and the server might wait for an answer).
        let mut sock = super::renegotiation::watch::Watched::never(tcp);
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
        }
        sock.records.established();
        let mut s = rustls::StreamOwned::new(conn, sock);
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        read_all(&mut s, &mut raw)?;
    } else {
        let mut s = tcp;
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        read_all(&mut s, &mut raw)?;
    }
    parse(&raw)
}

/// The body of a 2xx response.
fn parse(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(at) = resp.parse(raw).map_err(|e| e.to_string())? else {
        return Err("incomplete response".into());
    };
    let code = resp.code.unwrap_or(0);
    if !(200..300).contains(&code) {
        return Err(format!("HTTP {code} fetching CA certificate bundle"));
    }
    let chunked = resp.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
    });
    let body = &raw[at..];
    Ok(if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    })
}

/// Reads to the end; a TLS peer that closes without `close_notify` after
/// the body counts as the end.
fn read_all(s: &mut impl Read, out: &mut Vec<u8>) -> Result<(), String> {
    match s.read_to_end(out) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

fn native_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(c);
    }
    roots
}

/// A chunked body's data.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..i]).unwrap_or("0");
        let n =
            usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if n == 0 || b.len() < i + 2 + n {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[(i + 4 + n).min(b.len())..];
    }
    out
}
