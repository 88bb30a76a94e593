//! Backends for the reverse_proxy tests, all on 127.0.0.1 port 0: a
//! hyper server (HTTP/1.1 and h2c, optionally TLS with a test CA made by
//! rcgen, offering h2 by ALPN) that counts its connections and runs a
//! closure per request, and a raw TCP server for misbehaving upstreams.

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// A response body for backends.
pub type RespBody = BoxBody<Bytes, std::io::Error>;
type Handler = Arc<
    dyn Fn(
            http::Request<Incoming>,
        ) -> Pin<Box<dyn Future<Output = http::Response<RespBody>> + Send>>
        + Send
        + Sync,
>;

/// A running backend.
pub struct Backend {
    pub addr: SocketAddr,
    pub conns: Arc<AtomicUsize>,
    pub hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    /// Connections accepted so far.
    pub fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }

    /// Requests served so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A body of one string.
pub fn text(s: impl Into<String>) -> RespBody {
    Full::new(Bytes::from(s.into()))
        .map_err(|e: std::convert::Infallible| match e {})
        .boxed()
}

/// A 200 response with `body`.
pub fn ok(body: impl Into<String>) -> http::Response<RespBody> {
    http::Response::new(text(body))
}

/// Starts a plain backend (HTTP/1.1 and h2c).
pub async fn backend<F, Fut>(f: F) -> Backend
where
    F: Fn(http::Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = http::Response<RespBody>> + Send + 'static,
{
    serve(f, None).await
}

/// A backend answering every request with `name`.
pub async fn named(name: &'static str) -> Backend {
    backend(move |_| async move { ok(name) }).await
}

/// Starts a TLS backend (h2 and HTTP/1.1 by ALPN) with `cert`.
pub async fn tls_backend<F, Fut>(cert: &TestCert, f: F) -> Backend
where
    F: Fn(http::Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = http::Response<RespBody>> + Send + 'static,
{
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert_der.clone()], cert.key_der.clone_key())
    .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    serve(f, Some(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))).await
}

async fn serve<F, Fut>(f: F, tls: Option<tokio_rustls::TlsAcceptor>) -> Backend
where
    F: Fn(http::Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = http::Response<RespBody>> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (conns, hits) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let h2 = hits.clone();
    let handler: Handler = Arc::new(move |r| {
        h2.fetch_add(1, Ordering::SeqCst);
        Box::pin(f(r))
    });
    let c2 = conns.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = l.accept().await else {
                return;
            };
            c2.fetch_add(1, Ordering::SeqCst);
            let (handler, tls) = (handler.clone(), tls.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |r| {
                    let fut = handler(r);
                    async move { Ok::<_, std::convert::Infallible>(fut.await) }
                });
                let b = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(acc) => {
                        if let Ok(s) = acc.accept(sock).await {
                            let _ = b.serve_connection_with_upgrades(TokioIo::new(s), svc).await;
                        }
                    }
                    None => {
                        let _ = b
                            .serve_connection_with_upgrades(TokioIo::new(sock), svc)
                            .await;
                    }
                }
            });
        }
    });
    Backend {
        addr,
        conns,
        hits,
        task,
    }
}

/// A test CA and a certificate it signed for `localhost`/127.0.0.1.
pub struct TestCert {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub cert_der: rustls::pki_types::CertificateDer<'static>,
    pub key_der: rustls::pki_types::PrivateKeyDer<'static>,
}

/// Makes a CA and a leaf for `names`.
pub fn test_cert(names: &[&str]) -> TestCert {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let leaf = params.signed_by(&key, &issuer).unwrap();
    TestCert {
        ca_pem: ca.pem(),
        ca_der: ca.der().to_vec(),
        cert_der: leaf.der().clone(),
        key_der: rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    }
}

/// A raw TCP backend: `f` gets each accepted socket.
pub async fn raw_backend<F, Fut>(f: F) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let f = Arc::new(f);
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(f(s));
        }
    });
    (addr, task)
}

/// Reads from `c` until a request head is complete: what was read, and
/// where the head ends (after its blank line); `None` if the connection
/// ends or fails first.
pub async fn read_head(c: &mut tokio::net::TcpStream) -> Option<(Vec<u8>, usize)> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some((buf, i + 4));
        }
        match c.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A proxy handler JSON for `upstreams` with `extra` fields merged in.
pub fn proxy(upstreams: &[SocketAddr], extra: serde_json::Value) -> serde_json::Value {
    let ups: Vec<_> = upstreams
        .iter()
        .map(|a| serde_json::json!({"dial": a.to_string()}))
        .collect();
    let mut h = serde_json::json!({"handler": "reverse_proxy", "upstreams": ups});
    if let serde_json::Value::Object(m) = extra {
        for (k, v) in m {
            h[k] = v;
        }
    }
    h
}

/// Starts bellhop with one route holding `handler`.
pub fn bellhop(handler: serde_json::Value) -> crate::support::TestServer {
    crate::support::start_routes(serde_json::json!([{"handle": [handler]}]))
}
