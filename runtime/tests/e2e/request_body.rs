//! `request_body`: `set` replaces the body (placeholders expanded) before
//! a proxy sends it on; `read_timeout` bounds the wait for the rest of the
//! body; `write_timeout` cuts off a response not written in time. The
//! upstream here is a raw TCP server that echoes what it received, and the
//! slow clients are raw TCP clients, so the timing is in the test's hands.

use crate::support::*;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An HTTP/1.1 upstream answering each request with the body it got and
/// its `Content-Length` header.
async fn echo_upstream() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            tokio::spawn(async move {
                let Some((mut buf, head_end)) = crate::proxy_support::read_head(&mut c).await
                else {
                    return;
                };
                let mut chunk = [0u8; 4096];
                let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap_or(0));
                while buf.len() < head_end + len {
                    let Ok(n) = c.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[head_end..head_end + len]);
                let reply = format!("cl={len} body={body}");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
                let _ = c.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn set_replaces_the_body_with_placeholders_expanded() {
    let up = echo_upstream().await;
    let s = start(config_with(json!({"protocols": ["h1", "h2c"], "routes": [
        {"match": [{"path": ["/api/jazz"]}], "handle": [{"handler": "request_body",
            "set": "\\{\"query\":\"SELECT * FROM artists WHERE genre = {http.request.uri.query.genre}\"}"}]},
        {"handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": up.to_string()}]}]}
    ]})));
    let want = r#"{"query":"SELECT * FROM artists WHERE genre = jazz"}"#;
    let r = send(
        Proto::H1,
        "POST",
        s.addr,
        "/api/jazz?genre=jazz",
        &[],
        "original body",
    )
    .await;
    assert_eq!(r.body, format!("cl={} body={want}", want.len()));
    // Over HTTP/2, and for a request that had no body at all.
    let r = send(Proto::H2c, "GET", s.addr, "/api/jazz?genre=jazz", &[], "").await;
    assert_eq!(r.body, format!("cl={} body={want}", want.len()));
    let r = send(Proto::H1, "POST", s.addr, "/other", &[], "kept").await;
    assert_eq!(r.body, "cl=4 body=kept");
}

/// Sends a request head promising 10 body bytes, then 3 of them, and
/// returns what the server said within `wait` ("" when nothing).
async fn stalled_upload(addr: SocketAddr, wait: Duration) -> String {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    match tokio::time::timeout(wait, c.read(&mut buf)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Ok(Err(e)) => format!("error {e}"),
        Err(_) => String::new(),
    }
}

#[tokio::test]
async fn read_timeout_bounds_the_wait_for_the_body() {
    let up = echo_upstream().await;
    let proxy = json!({"handler": "reverse_proxy", "upstreams": [{"dial": up.to_string()}]});
    let s = start_routes(json!([{"handle": [
        {"handler": "request_body", "read_timeout": "200ms"}, proxy.clone()
    ]}]));
    let started = Instant::now();
    let got = stalled_upload(s.addr, Duration::from_secs(5)).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // Without it, the server keeps waiting for the rest of the body.
    let s = start_routes(json!([{"handle": [proxy]}]));
    assert_eq!(stalled_upload(s.addr, Duration::from_millis(800)).await, "");
}

/// GETs `path` without reading for `pause`, then reads until the end;
/// returns the number of bytes received.
async fn slow_reader(addr: SocketAddr, path: &str, pause: Duration) -> usize {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}

#[tokio::test]
async fn write_timeout_cuts_off_a_slow_response() {
    let dir = tempfile::tempdir().unwrap();
    let size = 48 * 1024 * 1024;
    // A sparse file: 48 MiB of zeros that take no disk space.
    let big = std::fs::File::create(dir.path().join("big.bin")).unwrap();
    big.set_len(size as u64).unwrap();
    let root = dir.path().to_str().unwrap();
    let files = json!({"handler": "file_server", "root": root});
    let s = start_routes(json!([{"handle": [
        {"handler": "request_body", "write_timeout": "300ms"}, files.clone()
    ]}]));
    let got = slow_reader(s.addr, "/big.bin", Duration::from_millis(900)).await;
    assert!(got < size, "the response was cut off: {got} bytes");
    let s = start_routes(json!([{"handle": [files]}]));
    let got = slow_reader(s.addr, "/big.bin", Duration::from_millis(900)).await;
    assert!(got > size, "the whole response arrives: {got} bytes");
}
