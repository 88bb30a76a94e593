//! reverse_proxy and the less common exchanges: WebSocket over HTTP/2
//! (RFC 8441 extended CONNECT from an h2 client) to an HTTP/1.1 WebSocket
//! backend, WebSockets to TLS upstreams that offer h2 (HTTP/1.1 is used
//! for the upgrade), and informational (1xx) responses from upstreams.

use crate::proxy_support::*;
use crate::support::*;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// bellhop with `handler`, serving HTTP/1.1 and h2c.
fn h2c_bellhop(handler: serde_json::Value) -> TestServer {
    start(config_with(json!({"protocols": ["h1", "h2c"],
        "routes": [{"handle": [handler]}]})))
}

/// A WebSocket echo backend that records the handshake it got (method,
/// `Upgrade`, whether a `Sec-WebSocket-Key` came). (tungstenite's
/// handshake callback type returns a large `Err`.)
#[allow(clippy::result_large_err)]
async fn ws_echo() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let (addr, _) = raw_backend(move |sock| {
        let log = log.clone();
        async move {
            let cb = |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                let h = req.headers();
                log.lock().unwrap().push(format!(
                    "{} {} {} key={}",
                    req.method(),
                    req.version() == http::Version::HTTP_11,
                    h.get("upgrade")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-"),
                    h.contains_key("sec-websocket-key"),
                ));
                Ok(resp)
            };
            let mut ws = tokio_tungstenite::accept_hdr_async(sock, cb).await.unwrap();
            while let Some(Ok(m)) = ws.next().await {
                if m.is_close() {
                    break;
                }
                if let Message::Text(t) = m {
                    ws.send(Message::text(format!("echo {}", t.as_str())))
                        .await
                        .unwrap();
                }
            }
        }
    })
    .await;
    (addr, seen)
}

/// Sends an extended CONNECT for WebSocket over h2c; the first request
/// may race the server's SETTINGS that enable it, so it is retried.
async fn h2_websocket_connect(addr: std::net::SocketAddr) -> http::Response<hyper::body::Incoming> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut last = String::new();
    for _ in 0..50 {
        let mut req = http::Request::builder()
            .method("CONNECT")
            .uri(format!("http://{addr}/chat"))
            .header("sec-websocket-version", "13")
            .body(Empty::<Bytes>::new())
            .unwrap();
        req.extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        match send.send_request(req).await {
            Ok(r) => return r,
            Err(e) => last = format!("{e:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("extended CONNECT never went out: {last}");
}

#[tokio::test]
async fn h2_extended_connect_websocket_is_tunnelled_to_an_h1_backend() {
    h2_websocket_through(|ws| h2c_bellhop(proxy(&[ws], json!({})))).await;
}

/// The same on a server with a `push` handler, whose HTTP/2 is served on
/// `h2` (`http::h2`) rather than by hyper.
#[tokio::test]
async fn h2_extended_connect_websocket_is_tunnelled_by_a_pushing_server_too() {
    h2_websocket_through(|ws| {
        start(config_with(json!({"protocols": ["h1", "h2c"],
            "routes": [{"handle": [{"handler": "push"}, proxy(&[ws], json!({}))]}]})))
    })
    .await;
}

async fn h2_websocket_through(server: impl FnOnce(std::net::SocketAddr) -> TestServer) {
    let (ws_addr, seen) = ws_echo().await;
    let s = server(ws_addr);
    let resp = h2_websocket_connect(s.addr).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.headers());
    assert!(!resp.headers().contains_key("sec-websocket-accept"));
    let up = hyper::upgrade::on(resp).await.unwrap();
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Client, None).await;
    ws.send(Message::text("over h2")).await.unwrap();
    let got = ws.next().await.unwrap().unwrap();
    assert_eq!(got, Message::text("echo over h2"));
    ws.send(Message::text("again")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("echo again")
    );
    ws.close(None).await.unwrap();
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["GET true websocket key=true"]
    );
}

#[tokio::test]
async fn upstream_103_early_hints_then_200_passes_the_final_response() {
    // A raw upstream: 103 with a Link, then the real response.
    let (addr, _t) = raw_backend(|mut sock| async move {
        let mut buf = [0u8; 4096];
        // One small GET per read; the connection is kept alive.
        while sock.read(&mut buf).await.unwrap_or(0) > 0 {
            let _ = sock
                .write_all(
                    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
                      HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal",
                )
                .await;
        }
    })
    .await;
    let s = h2c_bellhop(proxy(&[addr], json!({})));
    for proto in [Proto::H1, Proto::H2c] {
        let r = send_req(
            proto,
            req("GET", s.addr, "/").body(Default::default()).unwrap(),
        )
        .await
        .unwrap_or_else(|e| panic!("{proto:?}: {e}"));
        assert_eq!((r.status, r.body.as_str()), (200, "final"), "{proto:?}");
        assert_eq!(r.header("x-final"), "yes");
        // hyper's server cannot send 1xx responses: the hint is dropped,
        // not merged into the final response.
        assert_eq!(r.header("link"), "");
    }
}

/// A TLS backend offering h2 and HTTP/1.1 that answers WebSocket
/// handshakes itself (prefixing echoes with "tls") and other requests
/// with their HTTP version.
async fn tls_ws_backend(cert: &TestCert) -> Backend {
    tls_backend(cert, |mut req| async move {
        let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
            return ok(format!("{:?}", req.version()));
        };
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let up = on.await.unwrap();
            let mut ws =
                WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Server, None).await;
            while let Some(Ok(Message::Text(t))) = ws.next().await {
                let reply = Message::text(format!("tls {}", t.as_str()));
                ws.send(reply).await.unwrap();
            }
        });
        http::Response::builder()
            .status(101)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-accept", accept)
            .body(text(""))
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn websockets_to_tls_upstreams_use_http1_where_h2_is_offered() {
    let cert = test_cert(&["localhost"]);
    let b = tls_ws_backend(&cert).await;
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut ca, cert.ca_pem.as_bytes()).unwrap();
    let s = h2c_bellhop(json!({"handler": "reverse_proxy",
        "upstreams": [{"dial": format!("localhost:{}", b.addr.port())}],
        "transport": {"protocol": "http", "tls": {"root_ca_pem_files": [ca.path()]}}}));
    // Plain requests share an HTTP/2 connection to the upstream...
    assert_eq!(get(s.addr, "/").await.body, "HTTP/2.0");
    // ...an HTTP/1.1 client's WebSocket gets an HTTP/1.1 one,
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/chat", s.addr))
        .await
        .unwrap();
    ws.send(Message::text("h1")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("tls h1"));
    // ...and so does an HTTP/2 client's extended CONNECT.
    let resp = h2_websocket_connect(s.addr).await;
    assert_eq!(resp.status(), 200);
    let up = hyper::upgrade::on(resp).await.unwrap();
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Client, None).await;
    ws.send(Message::text("h2")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("tls h2"));
    assert_eq!(get(s.addr, "/").await.body, "HTTP/2.0");
}
