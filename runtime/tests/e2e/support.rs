//! Test support: start a runtime on 127.0.0.1:0 from JSON, and a small
//! hyper client for HTTP/1.1 and h2c requests.

#![allow(dead_code)]

use bellhop_runtime::Runtime;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// A running runtime and the address of its first listener.
pub struct TestServer {
    pub rt: Runtime,
    pub addr: SocketAddr,
}

/// An address on 127.0.0.1 that refuses connections for as long as the
/// returned socket lives: bound, not listening, and without
/// `SO_REUSEADDR`, so no other test's listener can take its port (a port
/// freed at once, as `free_port`'s, may be handed to the next test that
/// binds port 0, which then answers in its place).
pub fn refusing_addr() -> (socket2::Socket, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    (s, addr)
}

#[path = "free_port.rs"]
mod free_port;
// (Not every binary that includes this file names it.)
#[allow(unused_imports)]
pub use free_port::free_port;

/// Wraps routes into a one-server config listening on 127.0.0.1:0.
pub fn config_with(server: Value) -> Value {
    let mut server = server;
    if server.get("listen").is_none() {
        server["listen"] = json!(["127.0.0.1:0"]);
    }
    // A random port is not the HTTP port: Caddy would apply automatic
    // HTTPS to host matchers there. These tests are about plain HTTP.
    if server.get("automatic_https").is_none() {
        server["automatic_https"] = json!({"disable": true});
    }
    json!({"apps": {"http": {"servers": {"srv0": server}}}})
}

/// Starts a runtime serving `routes` (a JSON array) on one server.
pub fn start_routes(routes: Value) -> TestServer {
    start(config_with(json!({ "routes": routes })))
}

/// Starts a runtime serving a full config.
pub fn start(config: Value) -> TestServer {
    let rt = Runtime::new();
    rt.load(config.to_string().as_bytes())
        .expect("config loads");
    let addr = rt.listen_addrs()[0];
    TestServer { rt, addr }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
    /// The body as received (still encoded, if it was).
    pub raw: Bytes,
    pub version: http::Version,
}

impl Resp {
    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Which protocol to speak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Proto {
    H1,
    H2c,
}

/// Sends a request built by `build` over `proto`.
pub async fn send_req(proto: Proto, req: http::Request<Full<Bytes>>) -> Result<Resp, String> {
    let mut b = Client::builder(TokioExecutor::new());
    if proto == Proto::H2c {
        b.http2_only(true);
    }
    let client = b.build_http::<Full<Bytes>>();
    let resp = client.request(req).await.map_err(|e| format!("{e:?}"))?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        raw: body,
        version: parts.version,
    })
}

/// Builds a request to `addr`.
pub fn req(method: &str, addr: SocketAddr, path: &str) -> http::request::Builder {
    http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
}

/// GET `path` over HTTP/1.1.
pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    send(Proto::H1, "GET", addr, path, &[], "").await
}

/// Sends a request with headers and a body; panics on transport errors.
pub async fn send(
    proto: Proto,
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut b = req(method, addr, path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let r = b.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    send_req(proto, r).await.expect("request succeeds")
}

/// GET with headers over HTTP/1.1.
pub async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Resp {
    send(Proto::H1, "GET", addr, path, headers, "").await
}

/// A static_response handler.
pub fn respond(body: &str) -> Value {
    json!({"handler": "static_response", "body": body})
}

/// This process's resident memory (`VmRSS`), in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Bytes a client gets of a 16 MiB file served by a server with `limit`
/// (a write stall setting such as `{"write_timeout": "300ms"}`) when it
/// stops reading for 1.5 s after its request, then reads what is left.
pub async fn bytes_of_a_stalled_download(limit: Value) -> usize {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    // Sparse: 16 MiB of zeros that take no disk space.
    let big = std::fs::File::create(dir.path().join("big")).unwrap();
    big.set_len(16 << 20).unwrap();
    let mut server = json!({"routes": [{"handle": [
        {"handler": "file_server", "root": dir.path().display().to_string()}
    ]}]});
    for (k, v) in limit.as_object().unwrap() {
        server[k] = v.clone();
    }
    let s = start(config_with(server));
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => got += n,
        }
    }
    got
}
