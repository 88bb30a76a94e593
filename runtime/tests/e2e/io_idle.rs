//! Caddy 2.11's stall limits: `read_idle_timeout` (with `read_min_rate`)
//! on request bodies and `write_idle_timeout` on writes to the client,
//! end to end from raw sockets against a proxied upstream that reads
//! everything; a slow client that keeps making progress is served,
//! one that stalls or trickles below the rate is cut.

use crate::support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An upstream that reads a request with its `Content-Length` body and
/// answers 200 with the body length.
async fn upstream() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        let body = format!("{len}");
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = s.write_all(answer.as_bytes()).await;
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn proxy(extra: Value) -> TestServer {
    let up = upstream().await;
    let mut server = json!({"routes": [{"handle": [
        {"handler": "reverse_proxy", "upstreams": [{"dial": up.to_string()}]}
    ]}]});
    for (k, v) in extra.as_object().unwrap() {
        server[k] = v.clone();
    }
    start(config_with(server))
}

/// Sends a 10-byte body one byte per `gap`, then reads the answer's status
/// line (empty when the connection was cut without one).
async fn trickle(addr: SocketAddr, gap: Duration) -> (String, Duration) {
    trickle_to(addr, "/", gap).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_body_that_keeps_coming_is_read_and_a_stalled_one_is_cut() {
    let s = proxy(json!({"read_idle_timeout": "400ms"})).await;
    // 10 bytes over about 1.5 s, never 400 ms apart: served
    let (status, _) = trickle(s.addr, Duration::from_millis(150)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    // 5 bytes, then silence
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        .await
        .unwrap();
    let began = Instant::now();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_below_read_min_rate_is_cut_even_without_a_stall() {
    // 1 byte every 150 ms is about 7 B/s: below 100 B/s, so the allowance
    // (500 ms + 10 ms per byte) runs out though no gap reaches 500 ms
    let s = proxy(json!({"read_idle_timeout": "500ms", "read_min_rate": 100})).await;
    let (status, took) = trickle(s.addr, Duration::from_millis(150)).await;
    assert!(
        status.is_empty() || status.starts_with("HTTP/1.1 408"),
        "{status}"
    );
    assert!(took < Duration::from_millis(1400), "{took:?}");
    // the same trickle without a rate is served
    let s = proxy(json!({"read_idle_timeout": "500ms"})).await;
    assert_eq!(
        trickle(s.addr, Duration::from_millis(150)).await.0,
        "HTTP/1.1 200 OK"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn write_idle_timeout_cuts_a_client_that_stops_reading() {
    let got = bytes_of_a_stalled_download(json!({"write_idle_timeout": "300ms"})).await;
    assert!(
        got < 16 << 20,
        "the stalled response was cut short ({got} bytes)"
    );
}

#[tokio::test]
async fn the_rate_and_chunk_fields_load() {
    let ok = config_with(json!({"read_idle_timeout": "5s", "read_min_rate": 1024,
        "write_idle_timeout": "6s", "write_min_rate": 4096, "max_write_chunk": 4096, "routes": []}));
    bellhop_runtime::validate(ok.to_string().as_bytes()).unwrap();
    let bad = config_with(json!({"write_min_rate": -1, "routes": []}));
    let e = bellhop_runtime::validate(bad.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("srv.write_min_rate") || e.contains(".write_min_rate"),
        "{e}"
    );
}

/// The keep-alive timer of the server's end of the connection whose
/// server port is `port`: `Some(seconds until the first probe)` when
/// armed (`/proc/net/tcp`: timer 2, in clock ticks of 1/100 s).
fn keepalive_timer(port: u16) -> Option<f64> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let local = u16::from_str_radix(f[1].rsplit(':').next()?, 16).ok()?;
        if local != port || f[3] != "01" {
            return None;
        }
        let (timer, when) = f[5].split_once(':')?;
        (u8::from_str_radix(timer, 16).ok()? == 2)
            .then(|| u64::from_str_radix(when, 16).unwrap_or(0) as f64 / 100.0)
    })
}

#[tokio::test]
async fn accepted_connections_get_the_tcp_keepalive_of_their_server() {
    for (extra, lo, hi) in [
        (
            json!({"keepalive_idle": "5s", "keepalive_interval": "2s", "keepalive_count": 3}),
            3.0,
            5.01,
        ),
        (json!({}), 12.5, 15.01),
    ] {
        let s = proxy(extra.clone()).await;
        let c = TcpStream::connect(s.addr).await.unwrap();
        let mut timer = None;
        for _ in 0..50 {
            timer = keepalive_timer(s.addr.port());
            if timer.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let t =
            timer.unwrap_or_else(|| panic!("{extra}: no keep-alive timer on the accepted socket"));
        assert!(t > lo && t <= hi, "{extra}: first probe in {t} s");
        drop(c);
    }
}

/// `http.handlers.timeouts` (Caddy's timeouts_test.go
/// TestTimeouts_ReadTimeoutIsIdleReset): its `read_timeout` is the
/// server's `read_idle_timeout` for its routes only.
#[tokio::test(flavor = "multi_thread")]
async fn the_timeouts_handler_cuts_a_stalled_body_on_its_routes_only() {
    let up = upstream().await;
    let proxy = json!({"handler": "reverse_proxy", "upstreams": [{"dial": up.to_string()}]});
    let s = start(config_with(json!({"routes": [
        {"match": [{"path": ["/limited"]}], "handle": [
            {"handler": "timeouts", "read_timeout": "400ms"}, proxy.clone()]},
        {"handle": [proxy]}
    ]})));
    let stalled = |path: &'static str| async move {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello");
        c.write_all(head.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let cut = tokio::time::timeout(Duration::from_secs(2), c.read_to_end(&mut out)).await;
        (cut.is_ok(), String::from_utf8_lossy(&out).into_owned())
    };
    let (cut, out) = stalled("/limited").await;
    assert!(cut && out.starts_with("HTTP/1.1 408"), "{out}");
    let (cut, out) = stalled("/free").await;
    assert!(!cut, "no limit on other routes: {out}");
    // a slow body that keeps coming passes
    let (status, _) = trickle_to(s.addr, "/limited", Duration::from_millis(150)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
}

/// Its `write_timeout` is the server's `write_idle_timeout` for the
/// requests of its routes, and ends with them: the next request on the
/// same connection has the server's limits again.
#[tokio::test(flavor = "multi_thread")]
async fn the_timeouts_handler_cuts_a_stalled_download_and_its_limit_ends_with_the_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::File::create(dir.path().join("big"))
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    std::fs::write(dir.path().join("small"), "small").unwrap();
    let files = json!({"handler": "file_server", "root": dir.path().display().to_string()});
    let s = start(config_with(json!({"routes": [
        {"match": [{"path": ["/limited/*"]}], "handle": [
            {"handler": "timeouts", "write_timeout": "300ms", "max_write_chunk": 65536},
            {"handler": "rewrite", "strip_path_prefix": "/limited"}, files.clone()]},
        {"match": [{"path": ["/free/*"]}], "handle": [
            {"handler": "rewrite", "strip_path_prefix": "/free"}, files]}
    ]})));
    // read what comes after a stall of 1.5 s
    async fn drain(c: &mut TcpStream) -> usize {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (mut got, mut buf) = (0, vec![0u8; 1 << 16]);
        loop {
            match tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return got,
                Ok(Ok(n)) => got += n,
            }
        }
    }
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /limited/big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = drain(&mut c).await;
    assert!(got < 16 << 20, "cut short: {got} bytes");
    // the same connection: a small answer on the limited route, then a
    // stalled download on the free one, which is not cut
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /limited/small HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut head = String::new();
    while !head.ends_with("small") {
        let n = c.read(&mut buf).await.unwrap();
        assert!(n > 0, "{head}");
        head += &String::from_utf8_lossy(&buf[..n]);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.write_all(b"GET /free/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let got = drain(&mut c).await;
    assert!(got > 16 << 20, "served whole: {got} bytes");
}

/// Sends a 10-byte body to `path` one byte per `gap`; the answer's status
/// line.
async fn trickle_to(addr: SocketAddr, path: &str, gap: Duration) -> (String, Duration) {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let began = Instant::now();
    for _ in 0..10 {
        tokio::time::sleep(gap).await;
        if c.write_all(b"a").await.is_err() {
            break;
        }
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    (
        text.lines().next().unwrap_or("").to_string(),
        began.elapsed(),
    )
}

/// `read_timeout` stays a hard limit beside `read_idle_timeout` (Caddy's
/// idletimeout_test.go TestIdleTimeoutReader_HardDeadlineCapsIdleReset): a
/// body that keeps coming, never stalling, is still cut once the whole
/// read took longer than `read_timeout`.
#[tokio::test(flavor = "multi_thread")]
async fn read_timeout_caps_a_body_that_never_stalls() {
    let s = proxy(json!({"read_idle_timeout": "400ms", "read_timeout": "800ms"})).await;
    let (status, took) = trickle(s.addr, Duration::from_millis(150)).await;
    assert!(
        status.is_empty() || status.starts_with("HTTP/1.1 408"),
        "{status}"
    );
    assert!(took < Duration::from_millis(1400), "{took:?}");
}

/// `write_timeout` stays a hard limit beside `write_idle_timeout`
/// (TestIdleTimeoutWriter_HardDeadlineCapsIdleReset): a response that keeps
/// coming, to a client that reads it all at once, is still cut once it
/// took longer than `write_timeout` from its request.
#[tokio::test(flavor = "multi_thread")]
async fn write_timeout_caps_a_response_that_never_stalls() {
    // an upstream that sends a chunk every 200 ms for 3 s
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                let _ = c.write_all(head.as_bytes()).await;
                for _ in 0..15 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if c.write_all(b"6\r\nchunk\n\r\n").await.is_err() {
                        return;
                    }
                }
                let _ = c.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    let proxy = json!({"handler": "reverse_proxy", "upstreams": [{"dial": up.to_string()}]});
    let served = |extra: Value| {
        let mut server =
            json!({"write_idle_timeout": "2s", "routes": [{"handle": [proxy.clone()]}]});
        for (k, v) in extra.as_object().unwrap() {
            server[k] = v.clone();
        }
        start(config_with(server))
    };
    let fetch = |addr: SocketAddr| async move {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let began = Instant::now();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut out)).await;
        let chunks = String::from_utf8_lossy(&out).matches("chunk\n").count();
        (chunks, began.elapsed())
    };
    let (chunks, took) = fetch(served(json!({"write_timeout": "1s"})).addr).await;
    assert!(
        chunks < 15 && took < Duration::from_millis(2500),
        "{chunks} chunks in {took:?}"
    );
    let (chunks, _) = fetch(served(json!({})).addr).await;
    assert_eq!(chunks, 15, "without write_timeout the whole response");
}
