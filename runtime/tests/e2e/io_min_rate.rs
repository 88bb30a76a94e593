//! `write_min_rate` (Caddy's `IdleDeadline` with a rate): a client that
//! reads a large response steadily, never stalling a write for as long as
//! `write_idle_timeout`, but more slowly than the rate, is cut once the
//! response falls behind it; without the rate the same client is served.
//! Both the server's field and the `timeouts` handler's, from a raw socket
//! reading at most 256 KiB every 50 ms (~5 MB/s) against a 32 MiB/s rate.
//! The server's end is cut at about 1.3 s; the client sees the end once
//! it has drained what the kernel had buffered (some MB on loopback).

use crate::support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RATE: u64 = 32 << 20;

/// A server with a 64 MiB sparse file at `/big`, `/limited/big` and
/// `/free/big`; `/limited/*` runs `timeouts` with `write_timeout` 1 s at
/// `RATE`. `extra` is merged into the server.
fn serve(dir: &std::path::Path, extra: Value) -> TestServer {
    std::fs::File::create(dir.join("big"))
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let files = json!({"handler": "file_server", "root": dir.display().to_string()});
    let mut server = json!({"write_idle_timeout": "1s", "routes": [
        {"match": [{"path": ["/limited/*"]}], "handle": [
            {"handler": "timeouts", "write_timeout": "1s", "write_min_rate": RATE},
            {"handler": "rewrite", "strip_path_prefix": "/limited"}, files.clone()]},
        {"match": [{"path": ["/free/*"]}], "handle": [
            {"handler": "rewrite", "strip_path_prefix": "/free"}, files.clone()]},
        {"handle": [files]}
    ]});
    for (k, v) in extra.as_object().unwrap() {
        server[k] = v.clone();
    }
    start(config_with(server))
}

/// Downloads `path` at ~5 MB/s for at most 6 s: the bytes read and when
/// the server ended the connection, if it did.
async fn slow_download(addr: SocketAddr, path: &str) -> (usize, Option<Duration>) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(256 << 10).unwrap();
    let mut c = sock.connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).await.unwrap();
    let began = Instant::now();
    let (mut got, mut buf) = (0usize, vec![0u8; 256 << 10]);
    while began.elapsed() < Duration::from_secs(6) {
        match tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Some(began.elapsed())),
            Ok(Ok(n)) => got += n,
            Err(_) => panic!("the server stalled for 2 s after {got} bytes"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (got, None)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_servers_write_min_rate_cuts_a_steady_but_slow_reader() {
    let dir = tempfile::tempdir().unwrap();
    let limited = serve(dir.path(), json!({"write_min_rate": RATE}));
    let (got, closed) = slow_download(limited.addr, "/big").await;
    let closed = closed.unwrap_or_else(|| panic!("still served after 6 s ({got} bytes)"));
    assert!(got < 64 << 20, "cut short: {got} bytes");
    assert!(
        closed > Duration::from_secs(1),
        "not before write_idle_timeout: {closed:?}"
    );
    let free = serve(dir.path(), json!({}));
    let (got, closed) = slow_download(free.addr, "/big").await;
    assert_eq!(
        closed, None,
        "without a rate the reader is served ({got} bytes)"
    );
    assert!(got > 8 << 20, "{got} bytes in 6 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timeouts_handlers_write_min_rate_holds_on_its_routes_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), json!({}));
    let (got, closed) = slow_download(s.addr, "/limited/big").await;
    assert!(
        closed.is_some(),
        "the limited route cuts the reader ({got} bytes)"
    );
    let (got, closed) = slow_download(s.addr, "/free/big").await;
    assert_eq!(closed, None, "another route serves it ({got} bytes)");
}
