//! What a TLS connection negotiated, kept for `{http.request.tls.*}`: the
//! protocol version and cipher suite under Go's names, resumption, ALPN,
//! the server name, and the client's certificate. Filled once per
//! connection by the TLS accept path (TCP) or the QUIC endpoint (HTTP/3).

use rustls::pki_types::CertificateDer;

/// A TLS connection's facts.
#[derive(Debug, Default)]
pub struct TlsInfo {
    /// `tls1.2`, `tls1.3` (Caddy's `ProtocolName`).
    pub version: &'static str,
    /// The suite under Go's name (`TLS_AES_128_GCM_SHA256`); empty when
    /// the transport does not say.
    pub cipher_suite: &'static str,
    pub resumed: bool,
    /// The ALPN protocol (`h2`, `http/1.1`, `h3`), or empty.
    pub proto: Box<str>,
    pub server_name: Box<str>,
    /// The client's leaf certificate, when it sent one.
    pub client_cert: Option<CertificateDer<'static>>,
}

impl TlsInfo {
    /// The facts of a finished server handshake.
    pub fn from_server(conn: &rustls::ServerConnection) -> TlsInfo {
        TlsInfo {
            version: conn.protocol_version().map_or("", version_name),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .map_or("", go_suite_name),
            resumed: matches!(conn.handshake_kind(), Some(rustls::HandshakeKind::Resumed)),
            proto: conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into())
                .unwrap_or_default(),
            server_name: conn.server_name().unwrap_or("").into(),
            client_cert: conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.clone().into_owned()),
        }
    }

    /// The facts of a QUIC connection (always TLS 1.3; quinn does not tell
    /// the suite).
    pub fn from_quic(conn: &quinn::Connection) -> TlsInfo {
        let data = conn
            .handshake_data()
            .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok());
        let client_cert = conn
            .peer_identity()
            .and_then(|p| p.downcast::<Vec<CertificateDer<'static>>>().ok())
            .and_then(|certs| certs.first().cloned());
        TlsInfo {
            version: "tls1.3",
            cipher_suite: "",
            resumed: false,
            proto: data
                .as_ref()
                .and_then(|d| d.protocol.as_ref())
                .map(|p| String::from_utf8_lossy(p).into())
                .unwrap_or_default(),
            server_name: data.and_then(|d| d.server_name).unwrap_or_default().into(),
            client_cert,
        }
    }
}

fn version_name(v: rustls::ProtocolVersion) -> &'static str {
    match v {
        rustls::ProtocolVersion::TLSv1_0 => "tls1.0",
        rustls::ProtocolVersion::TLSv1_1 => "tls1.1",
        rustls::ProtocolVersion::TLSv1_2 => "tls1.2",
        rustls::ProtocolVersion::TLSv1_3 => "tls1.3",
        _ => "",
    }
}

/// rustls names TLS 1.3 suites `TLS13_…`; Go (IANA) names them `TLS_…`.
fn go_suite_name(name: &'static str) -> &'static str {
    match name {
        "TLS13_AES_128_GCM_SHA256" => "TLS_AES_128_GCM_SHA256",
        "TLS13_AES_256_GCM_SHA384" => "TLS_AES_256_GCM_SHA384",
        "TLS13_CHACHA20_POLY1305_SHA256" => "TLS_CHACHA20_POLY1305_SHA256",
        other => other,
    }
}
