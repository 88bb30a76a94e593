//! Helpers of the HTTP/3 tests: a quinn + h3 client trusting a test CA,
//! an HTTPS client over HTTP/1.1 or HTTP/2 that returns the response
//! headers (for `Alt-Svc`), and a config of one TLS server on 127.0.0.1:0.

#![allow(dead_code)]

use crate::tls_support::{client, TestCa};
use bytes::{Buf, Bytes};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Every client step must finish within this.
pub const LIMIT: Duration = Duration::from_secs(5);

/// A config of one TLS server (certificate for `a.test` from `ca`) on
/// 127.0.0.1:0 with `routes`, plus `extra` server fields.
pub fn h3_config(storage: &std::path::Path, ca: &TestCa, routes: Value, extra: Value) -> Value {
    let (cert, key) = ca.leaf(&["a.test"]);
    let mut server = json!({
        "listen": ["127.0.0.1:0"],
        "tls_connection_policies": [{}],
        "routes": routes,
    });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            server[k] = v;
        }
    }
    json!({
        "storage": {"module": "file_system", "root": storage.display().to_string()},
        "apps": {
            "tls": {"certificates": {"load_pem": [{"certificate": cert, "key": key}]}},
            "http": {"servers": {"srv0": server}}
        }
    })
}

/// An HTTP/3 connection.
pub struct H3Client {
    send: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    pub conn: quinn::Connection,
    _endpoint: quinn::Endpoint,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for H3Client {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A response read over HTTP/3.
#[derive(Debug)]
pub struct H3Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
    pub trailers: Option<http::HeaderMap>,
}

/// Connects over QUIC to `addr` with SNI `a.test`, trusting `ca` only.
pub async fn h3_connect(addr: SocketAddr, ca: &TestCa) -> Result<H3Client, String> {
    let tls = client(&[&ca.pem], None, &[b"h3"]);
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| e.to_string())?;
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
    Ok(H3Client {
        send,
        conn,
        _endpoint: endpoint,
        driver,
    })
}

/// A request stream whose response has not been read yet.
pub type H3Stream = h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

impl H3Client {
    /// Sends a request with `body` (and ends it).
    pub async fn start(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<H3Stream, String> {
        let mut b = http::Request::builder()
            .method(method)
            .uri(format!("https://a.test{path}"));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(()).unwrap();
        let mut stream = self
            .send
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        if !body.is_empty() {
            stream
                .send_data(Bytes::copy_from_slice(body))
                .await
                .map_err(|e| e.to_string())?;
        }
        stream.finish().await.map_err(|e| e.to_string())?;
        Ok(stream)
    }

    /// Sends a request and reads the whole response.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<H3Resp, String> {
        let work = async {
            let mut stream = self.start(method, path, headers, body).await?;
            read_all(&mut stream).await
        };
        tokio::time::timeout(LIMIT, work)
            .await
            .map_err(|_| "HTTP/3 request timed out".to_string())?
    }
}

/// Reads a response head, body and trailers.
pub async fn read_all(stream: &mut H3Stream) -> Result<H3Resp, String> {
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
    let trailers = stream.recv_trailers().await.map_err(|e| e.to_string())?;
    Ok(H3Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
        trailers,
    })
}

/// GET `/` over HTTPS with ALPN `alpn` (`h2` or `http/1.1`); the response
/// head's version and headers.
pub async fn https_head(
    addr: SocketAddr,
    ca: &TestCa,
    alpn: &[u8],
) -> Result<(http::Version, http::HeaderMap), String> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let tls = client(&[&ca.pem], None, &[alpn]);
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("a.test").unwrap();
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let io = TokioIo::new(stream);
    let mut req = http::Request::get("https://a.test/");
    if alpn != b"h2" {
        // HTTP/1.1 needs Host (RFC 9112 3.2); hyper's connection-level
        // client does not add it
        req = req.header(http::header::HOST, "a.test");
    }
    let req = req.body(http_body_util::Empty::<Bytes>::new()).unwrap();
    let resp = if alpn == b"h2" {
        let (mut send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        send.send_request(req).await.map_err(|e| e.to_string())?
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        send.send_request(req).await.map_err(|e| e.to_string())?
    };
    Ok((resp.version(), resp.headers().clone()))
}

/// A small deterministic generator for test noise (xorshift64*).
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Noise(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next() as u8;
        }
    }
}

/// Starts a runtime with one TLS server (`routes`, plus `extra` server
/// fields) and returns once its QUIC endpoint runs (within 5 s).
pub async fn start_h3_server(
    routes: Value,
    extra: Value,
) -> (
    bellhop_runtime::Runtime,
    SocketAddr,
    TestCa,
    tempfile::TempDir,
) {
    use bellhop_runtime::http::h3::admission;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("H3 Test CA");
    let rt = bellhop_runtime::Runtime::new();
    rt.load(
        h3_config(dir.path(), &ca, routes, extra)
            .to_string()
            .as_bytes(),
    )
    .expect("config loads");
    let addr = rt.listen_addrs()[0];
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while admission::handshakes_in_progress(addr).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the QUIC endpoint: not within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (rt, addr, ca, dir)
}
