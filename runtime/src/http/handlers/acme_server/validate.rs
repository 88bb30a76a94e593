//! Challenge validation (RFC 8555 §8.3–8.4, RFC 8737, RFC 8738): what the
//! ACME server does when a client says a challenge is ready.
//!
//! - `http-01`: `GET http://<name>/.well-known/acme-challenge/<token>` on
//!   port 80 of each address the name resolves to (an IP identifier is its
//!   own address), until one answers 200 with the key authorization
//!   (surrounding whitespace ignored). Redirects are not followed.
//! - `tls-alpn-01`: a TLS handshake with port 443 offering only the
//!   `acme-tls/1` protocol over TLS 1.3, with the name as SNI (an IP's reverse-DNS name,
//!   RFC 8738); the certificate must name the identifier and carry the
//!   critical acmeIdentifier extension holding SHA-256 of the key
//!   authorization.
//! - `dns-01`: a TXT record at `_acme-challenge.<name>` (without a
//!   wildcard's `*.`) holding base64url(SHA-256(key authorization)).
//!
//! Names resolve through the handler's `resolvers`, else the system's name
//! servers, with no cache (a record just changed is seen at once). Each
//! attempt has 10 s.

use super::store::Identifier;
use crate::http::handlers::reverse_proxy::resolver::DnsResolver;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_RESPONSE: usize = 16 * 1024;
const ACME_IDENTIFIER_OID: &str = "1.3.6.1.5.5.7.1.31";

/// Validates one challenge; the error is the problem detail.
pub async fn validate(
    kind: &str,
    id: &Identifier,
    token: &str,
    key_auth: &str,
    resolver: &DnsResolver,
) -> Result<(), String> {
    let attempt = async {
        match kind {
            "http-01" => http01(id, token, key_auth, resolver).await,
            "tls-alpn-01" => tls_alpn01(id, key_auth, resolver).await,
            "dns-01" => dns01(id, key_auth, resolver).await,
            other => Err(format!("unknown challenge type {other}")),
        }
    };
    tokio::time::timeout(TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("{kind}: no answer within {TIMEOUT:?}")))
}

async fn addresses(id: &Identifier, resolver: &DnsResolver) -> Result<Vec<IpAddr>, String> {
    if id.kind == "ip" {
        return id
            .value
            .parse()
            .map(|ip| vec![ip])
            .map_err(|_| format!("{:?} is not an IP address", id.value));
    }
    let ips = resolver.lookup_ip(&id.value).await?;
    if ips.is_empty() {
        return Err(format!("{} has no address", id.value));
    }
    Ok(ips)
}

async fn http01(
    id: &Identifier,
    token: &str,
    key_auth: &str,
    resolver: &DnsResolver,
) -> Result<(), String> {
    let mut last = String::new();
    for ip in addresses(id, resolver).await? {
        match fetch_token(SocketAddr::new(ip, 80), &id.value, token).await {
            Ok(body) if body.trim() == key_auth => return Ok(()),
            Ok(body) => {
                last = format!(
                    "{ip}: the response is not the key authorization (got {:?})",
                    body.chars().take(100).collect::<String>()
                )
            }
            Err(e) => last = format!("{ip}: {e}"),
        }
    }
    Err(format!("http-01 for {}: {last}", id.value))
}

/// One `GET` of the token over HTTP/1.1; the body of a 200 answer.
async fn fetch_token(addr: SocketAddr, host: &str, token: &str) -> Result<String, String> {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let host = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => host.to_string(),
    };
    let req = format!(
        "GET /.well-known/acme-challenge/{token} HTTP/1.1\r\nHost: {host}\r\n\
         User-Agent: bellhop-acme-server\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    (&mut s)
        .take(MAX_RESPONSE as u64)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head = match resp.parse(&buf) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err("the answer is not an HTTP response".into()),
    };
    if resp.code != Some(200) {
        return Err(format!("status {}", resp.code.unwrap_or(0)));
    }
    let chunked = resp.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked")
    });
    let body = &buf[head..];
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    String::from_utf8(body).map_err(|_| "the body is not UTF-8".into())
}

/// The data of a chunked body (as far as it is well formed).
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
        let Some(size) = size.filter(|s| *s > 0) else {
            break;
        };
        let data = &b[eol + 2..];
        if data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        b = data.get(size + 2..).unwrap_or_default();
    }
    out
}

/// The SNI a TLS-ALPN-01 validation sends for `id` (RFC 8738 §6 for IPs).
fn sni_for(id: &Identifier) -> String {
    match id.value.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        Ok(IpAddr::V6(v6)) => {
            let mut labels: Vec<String> = v6
                .octets()
                .iter()
                .flat_map(|b| [b >> 4, b & 0xf])
                .map(|n| format!("{n:x}"))
                .collect();
            labels.reverse();
            format!("{}.ip6.arpa", labels.join("."))
        }
        Err(_) => id.value.clone(),
    }
}

async fn tls_alpn01(id: &Identifier, key_auth: &str, resolver: &DnsResolver) -> Result<(), String> {
    let want = ring::digest::digest(&ring::digest::SHA256, key_auth.as_bytes());
    // TLS 1.3 only: its handshake signature is checked against the
    // certificate's raw key (webpki refuses to parse a certificate with
    // the critical acmeIdentifier extension, which TLS 1.2 would need).
    let mut cfg = rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let sni = rustls::pki_types::ServerName::try_from(sni_for(id))
        .map_err(|e| format!("SNI for {}: {e}", id.value))?;
    let mut last = String::new();
    for ip in addresses(id, resolver).await? {
        let attempt = async {
            let tcp = tokio::net::TcpStream::connect(SocketAddr::new(ip, 443))
                .await
                .map_err(|e| format!("connecting: {e}"))?;
            let tls = connector
                .connect(sni.clone(), tcp)
                .await
                .map_err(|e| format!("TLS handshake: {e}"))?;
            let (_, conn) = tls.get_ref();
            if conn.alpn_protocol() != Some(b"acme-tls/1") {
                return Err("the server did not negotiate acme-tls/1".to_string());
            }
            let cert = conn
                .peer_certificates()
                .and_then(|c| c.first())
                .ok_or("no certificate")?;
            check_alpn_cert(cert, id, want.as_ref())
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(e) => last = format!("{ip}: {e}"),
        }
    }
    Err(format!("tls-alpn-01 for {}: {last}", id.value))
}

/// RFC 8737 §3: the certificate names exactly the identifier and carries
/// the critical acmeIdentifier extension with the digest.
fn check_alpn_cert(der: &[u8], id: &Identifier, digest: &[u8]) -> Result<(), String> {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let mut named = false;
    let mut proof = false;
    for ext in cert.extensions() {
        if ext.oid.to_id_string() == ACME_IDENTIFIER_OID {
            // The value is an OCTET STRING of the 32-byte digest.
            proof = ext.critical
                && ext.value.len() == 34
                && ext.value[..2] == [0x04, 0x20]
                && ext.value[2..] == *digest;
        }
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            named = san.general_names.len() == 1
                && match &san.general_names[0] {
                    GeneralName::DNSName(d) => d.eq_ignore_ascii_case(&id.value),
                    GeneralName::IPAddress(b) => ip_bytes(&id.value).as_deref() == Some(*b),
                    _ => false,
                };
        }
    }
    match (named, proof) {
        (false, _) => Err(format!("the certificate does not name {} alone", id.value)),
        (_, false) => Err("the certificate lacks the acmeIdentifier proof".into()),
        _ => Ok(()),
    }
}

fn ip_bytes(s: &str) -> Option<Vec<u8>> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(v4.octets().to_vec()),
        IpAddr::V6(v6) => Some(v6.octets().to_vec()),
    }
}

async fn dns01(id: &Identifier, key_auth: &str, resolver: &DnsResolver) -> Result<(), String> {
    let want = B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        key_auth.as_bytes(),
    ));
    let base = id.value.strip_prefix("*.").unwrap_or(&id.value);
    let name = format!("_acme-challenge.{base}");
    let records = resolver.lookup_txt(&name).await?;
    if records.iter().any(|r| r == &want) {
        Ok(())
    } else {
        Err(format!(
            "dns-01: no TXT record at {name} holds the expected digest (found {records:?})"
        ))
    }
}

/// Accepts any server certificate: TLS-ALPN-01 checks it itself.
#[derive(Debug)]
struct AnyCert;

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(
            "TLS-ALPN-01 is validated over TLS 1.3".into(),
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert)
            .map_err(|e| rustls::Error::General(format!("the certificate: {e}")))?;
        let spki = rustls::pki_types::SubjectPublicKeyInfoDer::from(parsed.public_key().raw);
        rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, &algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        algorithms().supported_schemes()
    }
}

fn algorithms() -> rustls::crypto::WebPkiSupportedAlgorithms {
    rustls::crypto::ring::default_provider().signature_verification_algorithms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names_for_ip_identifiers() {
        let id = |v: &str| Identifier {
            kind: "ip".into(),
            value: v.into(),
        };
        assert_eq!(sni_for(&id("127.0.0.9")), "9.0.0.127.in-addr.arpa");
        assert!(sni_for(&id("::1")).starts_with("1.0.0.0."));
        assert!(sni_for(&id("::1")).ends_with(".0.ip6.arpa"));
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
    }
}
