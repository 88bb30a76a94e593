//! The `tailscale` certificate manager (`tls.get_certificate.tailscale`):
//! certificates for a tailnet's `*.ts.net` names from the local
//! `tailscaled`, through its LocalAPI on a unix socket, as Caddy gets
//! them with `tailscale/tscert`. A name not ending in `.ts.net`, or not
//! among the node's `CertDomains` (`GET /localapi/v0/status`), is passed
//! over; for the others `GET /localapi/v0/cert/NAME?type=pair` answers
//! the key PEM, then the certificate PEM. When the status cannot be read
//! the certificate is asked for anyway (as Caddy does).
//!
//! The socket: `TS_SOCKET`, else `/var/run/tailscale/tailscaled.sock`
//! (tscert's choice on Linux).

use super::super::policy::name_matches;
use rustls::sign::CertifiedKey;
use std::sync::Arc;
use std::time::Duration;

/// What tscert allows one certificate fetch (its context timeout).
const LIMIT: Duration = Duration::from_secs(60);

/// The LocalAPI socket, as tscert picks it.
fn socket_path() -> String {
    if let Some(s) = std::env::var("TS_SOCKET").ok().filter(|s| !s.is_empty()) {
        return s;
    }
    if std::path::Path::new("/var/run").is_dir() {
        return "/var/run/tailscale/tailscaled.sock".into();
    }
    "tailscaled.sock".into()
}

/// The certificate tailscaled has for `name`, if it is one of its names.
pub async fn get(name: &str) -> Result<Option<Arc<CertifiedKey>>, String> {
    let name = name.to_ascii_lowercase();
    if !name.ends_with(".ts.net") {
        return Ok(None);
    }
    match tokio::time::timeout(LIMIT, fetch(&name)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "tailscaled gave no certificate within {}s",
            LIMIT.as_secs()
        )),
    }
}

async fn fetch(name: &str) -> Result<Option<Arc<CertifiedKey>>, String> {
    match cert_domains().await {
        Ok(domains) => {
            if !domains
                .iter()
                .any(|d| name_matches(&d.to_ascii_lowercase(), name))
            {
                return Ok(None);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not get status; will try to get certificate anyway")
        }
    }
    let pair = local_get(&format!("/localapi/v0/cert/{name}?type=pair")).await?;
    let (key, cert) = split_pair(&pair)?;
    let mut pem = cert.to_vec();
    pem.push(b'\n');
    pem.extend_from_slice(key);
    super::bundle(&pem).map(Some)
}

/// The node's certificate domains from the LocalAPI status.
async fn cert_domains() -> Result<Vec<String>, String> {
    let body = local_get("/localapi/v0/status").await?;
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("decoding the status: {e}"))?;
    Ok(v.get("CertDomains")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

/// tscert's split of a `type=pair` answer: the key PEM ends where the
/// certificate PEM begins (`--\n--`).
fn split_pair(pair: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let at = pair
        .windows(5)
        .position(|w| w == b"--\n--")
        .ok_or("unexpected output: no delimiter")?
        + 3;
    let (key, cert) = pair.split_at(at);
    if cert.windows(17).any(|w| w == b" PRIVATE KEY-----") {
        return Err("unexpected output: key in cert".into());
    }
    Ok((key, cert))
}

/// One GET to the LocalAPI; a non-200 answer is an error carrying the
/// API's `{"error": …}` message (or its body).
async fn local_get(path: &str) -> Result<Vec<u8>, String> {
    let socket = socket_path();
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .map_err(|e| format!("connecting to tailscaled at {socket}: {e}"))?;
    let req = http::Request::get(path)
        .header(http::header::HOST, "local-tailscaled.sock")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (status, body) = crate::util::http_post::exchange(io, req).await?;
    match status.as_u16() {
        200 => Ok(body.to_vec()),
        403 => Err(format!("Access denied: {}", message(&body))),
        _ => Err(message(&body)),
    }
}

fn message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(String::from))
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_where_tscert_splits_them() {
        let pair = b"-----BEGIN EC PRIVATE KEY-----\nk\n-----END EC PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----\n";
        let (key, cert) = split_pair(pair).unwrap();
        assert!(key.ends_with(b"-----END EC PRIVATE KEY-----\n"));
        assert!(cert.starts_with(b"-----BEGIN CERTIFICATE-----"));
        assert_eq!(
            split_pair(b"nothing").unwrap_err(),
            "unexpected output: no delimiter"
        );
        let twice = b"-----END X-----\n-----BEGIN EC PRIVATE KEY-----";
        assert_eq!(
            split_pair(twice).unwrap_err(),
            "unexpected output: key in cert"
        );
        assert_eq!(message(br#"{"error":"no cert"}"#), "no cert");
        assert_eq!(message(b" plain \n"), "plain");
    }
}
