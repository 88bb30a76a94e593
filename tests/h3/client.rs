//! Helpers of the binary tests that speak HTTPS and HTTP/3: a test CA
//! (rcgen) issuing a certificate for `a.test`, a TLS server config in
//! Caddy JSON, an HTTPS GET over HTTP/1.1 (rustls), and a quinn + h3
//! client. Shared by `ports.rs`, `workers.rs` and `upgrade.rs`, each using
//! a part of it.
#![allow(dead_code)]

use bytes::{Buf, Bytes};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Every client step must finish within this.
pub const LIMIT: Duration = Duration::from_secs(5);

/// A certificate authority made for one test.
pub struct TestCa {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut p = CertificateParams::default();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "bellhop test CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    /// A leaf for `a.test`: (PEM certificate, PEM key).
    pub fn leaf(&self) -> (String, String) {
        self.leaf_for(&["a.test"])
    }

    /// A leaf for `names`: (PEM certificate, PEM key).
    pub fn leaf_for(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// The leaf this CA signs for a PEM CSR (its names and key), in PEM.
    pub fn sign_csr(&self, csr_pem: &str) -> String {
        rcgen::CertificateSigningRequestParams::from_pem(csr_pem)
            .unwrap()
            .signed_by(&self.issuer)
            .unwrap()
            .pem()
    }

    /// A rustls client trusting this CA only, offering `alpn`.
    pub fn client(&self, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
        let mut store = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(self.pem.as_bytes()) {
            store.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut c = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(store)
            .with_no_client_auth();
        c.alpn_protocols = vec![alpn.to_vec()];
        Arc::new(c)
    }

    /// The `apps.tls` of a config loading a fresh leaf for `a.test`.
    pub fn tls_app(&self) -> serde_json::Value {
        let (cert, key) = self.leaf();
        serde_json::json!({"certificates": {"load_pem": [{"certificate": cert, "key": key}]}})
    }
}

/// A config of one TLS server (HTTP/1.1, 2 and 3) on 127.0.0.1:`port`
/// answering `body`, with `X-Worker: {env.BELLHOP_WORKER_ID}`; plus the
/// `apps.http` fields in `http`.
pub fn tls_site(ca: &TestCa, port: u16, body: &str, http: serde_json::Value) -> String {
    let mut app = serde_json::json!({"servers": {"s": {
        "listen": [format!("127.0.0.1:{port}")],
        "tls_connection_policies": [{}],
        "routes": [{"handle": [{
            "handler": "static_response",
            "headers": {"X-Worker": ["{env.BELLHOP_WORKER_ID}"]},
            "body": body,
        }]}],
    }}});
    if let serde_json::Value::Object(m) = http {
        for (k, v) in m {
            app[k] = v;
        }
    }
    serde_json::json!({"apps": {"http": app, "tls": ca.tls_app()}}).to_string()
}

/// GET `/` over HTTPS (HTTP/1.1) on a new connection: the body.
pub fn https_get(addr: SocketAddr, ca: &TestCa) -> Result<String, String> {
    https_get_name(addr, ca, "a.test")
}

/// GET `/` over HTTPS (HTTP/1.1) for `host` (SNI and Host) on a new
/// connection: the body.
pub fn https_get_name(addr: SocketAddr, ca: &TestCa, host: &str) -> Result<String, String> {
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(LIMIT))
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let conn =
        rustls::ClientConnection::new(ca.client(b"http/1.1"), name).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(
        format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    // A peer closing without close_notify still delivered the response.
    if let Err(e) = tls.read_to_end(&mut resp) {
        if resp.is_empty() {
            return Err(e.to_string());
        }
    }
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp.split_once("\r\n\r\n").ok_or("no response head")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("unexpected response {head:?}"));
    }
    Ok(body.to_string())
}

/// An HTTP/3 connection.
pub struct H3 {
    send: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    pub conn: quinn::Connection,
    _endpoint: quinn::Endpoint,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for H3 {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A request stream whose response has not been read yet.
pub type H3Stream = h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

/// Connects over QUIC to `addr` with SNI `a.test`, trusting `ca` only.
pub async fn h3_connect(addr: SocketAddr, ca: &TestCa) -> Result<H3, String> {
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(ca.client(b"h3"))
        .map_err(|e| e.to_string())?;
    let mut endpoint =
        quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).map_err(|e| e.to_string())?;
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    let connecting = endpoint
        .connect(addr, "a.test")
        .map_err(|e| e.to_string())?;
    let conn = tokio::time::timeout(LIMIT, connecting)
        .await
        .map_err(|_| "QUIC handshake timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn.clone()))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    Ok(H3 {
        send,
        conn,
        _endpoint: endpoint,
        driver,
    })
}

impl H3 {
    /// Sends `method path` with a body that is not finished yet.
    pub async fn start(&mut self, method: &str, path: &str) -> Result<H3Stream, String> {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("https://a.test{path}"))
            .body(())
            .unwrap();
        self.send.send_request(req).await.map_err(|e| e.to_string())
    }

    /// GET `/`: status, `X-Worker` and body.
    pub async fn get(&mut self) -> Result<(u16, String, String), String> {
        let work = async {
            let mut stream = self.start("GET", "/").await?;
            stream.finish().await.map_err(|e| e.to_string())?;
            read(&mut stream).await
        };
        tokio::time::timeout(LIMIT, work)
            .await
            .map_err(|_| "HTTP/3 request timed out".to_string())?
    }
}

/// Reads a response: status, `X-Worker` and body.
pub async fn read(stream: &mut H3Stream) -> Result<(u16, String, String), String> {
    let resp = stream.recv_response().await.map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.map_err(|e| e.to_string())? {
        while chunk.has_remaining() {
            let c = chunk.chunk();
            body.extend_from_slice(c);
            let n = c.len();
            chunk.advance(n);
        }
    }
    let worker = resp
        .headers()
        .get("x-worker")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok((
        resp.status().as_u16(),
        worker,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

/// One HTTP/3 GET of `/` on a new connection (a runtime of its own).
pub fn h3_get(addr: SocketAddr, ca: &TestCa) -> Result<(u16, String, String), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = h3_connect(addr, ca).await?;
        let r = c.get().await;
        c.conn.close(0u32.into(), b"");
        r
    })
}

/// A port free on 127.0.0.1 for both TCP and UDP right now.
pub fn free_port_pair() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The socket inodes of `pid`'s open descriptors.
pub fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let link = std::fs::read_link(e.path()).ok()?;
            let s = link.to_str()?;
            s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// The inodes of the UDP sockets bound to `port` (`/proc/net/udp{,6}`),
/// or of every UDP socket with `None`.
pub fn udp_inodes(port: Option<u16>) -> Vec<u64> {
    let mut out = Vec::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            let local_port = f[1]
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if port.is_none() || local_port == port {
                out.extend(f[9].parse::<u64>().ok());
            }
        }
    }
    out
}
