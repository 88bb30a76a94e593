//! bellhop's own HTTP/1.1 server (`http/h1`): the bytes of its answers
//! (hyper's, byte for byte but the date), pipelining, the hand-over to
//! hyper in the middle of a connection, the header read timeout
//! counted as Go counts it, and an upstream's fields written as they came.

use crate::hostile_support::raw_exchange;
use crate::proxy_support::raw_backend;
use crate::support::*;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` on a new connection and reads until the server closes
/// it (or is silent 5 s).
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    raw_exchange(addr, request, Duration::from_secs(5))
        .await
        .raw
}

async fn read_all(c: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one response whose body is `body_len` bytes long.
async fn read_one(c: &mut TcpStream, body_len: usize) -> String {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            if out.len() >= end + 4 + body_len {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut chunk))
            .await
            .expect("a response within 5 s")
            .unwrap();
        assert!(n > 0, "closed after {text:?}");
        out.extend_from_slice(&chunk[..n]);
    }
}

/// An upstream that answers each read with `answer`, after `delay_ms`;
/// an answer saying `Connection: close` closes its connection.
async fn upstream(answer: &'static [u8], delay_ms: u64) -> SocketAddr {
    let closes = String::from_utf8_lossy(answer).contains("Connection: close");
    let (addr, _task) = raw_backend(move |mut u| async move {
        let mut b = [0u8; 1024];
        while let Ok(n) = u.read(&mut b).await {
            if n == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            if u.write_all(answer).await.is_err() || closes {
                break;
            }
        }
    })
    .await;
    addr
}

/// The date line replaced by a fixed one.
fn undated(s: &str) -> String {
    let mut out = String::new();
    for line in s.split_inclusive("\r\n") {
        if let Some(rest) = line.strip_prefix("date: ") {
            assert!(
                httpdate::parse_http_date(rest.trim_end()).is_ok(),
                "{line:?}"
            );
            out.push_str("date: D\r\n");
        } else {
            out.push_str(line);
        }
    }
    out
}

#[tokio::test]
async fn pipelined_requests_get_hypers_bytes_in_order() {
    let s = start_routes(json!([{"handle": [respond("at {http.request.uri}")]}]));
    let got = exchange(
        s.addr,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let head = |extra: &str, len: usize| {
        format!("HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\nserver: bellhop\r\n{extra}content-length: {len}\r\ndate: D\r\n\r\n")
    };
    let want = format!(
        "{}at /a{}{}at /c",
        head("", 5),
        head("", 5),
        head("connection: close\r\n", 5)
    );
    assert_eq!(undated(&got), want);
}

#[tokio::test]
async fn answers_without_a_body_are_framed_as_hyper_frames_them() {
    let s = start_routes(json!([
        {"match": [{"path": ["/none"]}], "handle": [{"handler": "static_response", "status_code": 204}]},
        {"match": [{"path": ["/empty"]}], "handle": [{"handler": "static_response", "status_code": 200}]},
        {"handle": [{"handler": "static_response", "status_code": 304}]}
    ]));
    let got = exchange(
        s.addr,
        b"GET /none HTTP/1.1\r\nHost: x\r\n\r\nGET /empty HTTP/1.1\r\nHost: x\r\n\r\nGET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        undated(&got),
        "HTTP/1.1 204 No Content\r\nserver: bellhop\r\ndate: D\r\n\r\n\
         HTTP/1.1 200 OK\r\nserver: bellhop\r\ncontent-length: 0\r\ndate: D\r\n\r\n\
         HTTP/1.1 304 Not Modified\r\nserver: bellhop\r\nconnection: close\r\ndate: D\r\n\r\n"
    );
}

/// A small body that comes with its head is served here; one still on
/// its way hands the connection to hyper, with what was read past the
/// head: every request is answered, in order, bodies whole.
#[tokio::test]
async fn a_body_not_yet_here_hands_the_rest_of_the_connection_to_hyper() {
    let s = start_routes(
        json!([{"handle": [respond("{http.request.method} {http.request.uri} [{http.request.body}]")]}]),
    );
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        .await
        .unwrap();
    assert!(read_one(&mut c, 14).await.ends_with("POST /one [hi]"));
    // A head whose body follows later, then a bodyless request.
    c.write_all(b"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.write_all(b"loGET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let rest = read_all(&mut c).await;
    let bodies: Vec<&str> = rest
        .split("\r\n\r\n")
        .skip(1)
        .map(|b| b.split("HTTP/1.1").next().unwrap())
        .collect();
    assert_eq!(bodies, ["POST /two [hello]", "GET /three []"], "{rest}");
}

/// A body served here is held to `request_body`'s `max_size` as any.
#[tokio::test]
async fn a_body_read_with_its_head_keeps_its_limits() {
    let s = start_routes(json!([{"handle": [
        {"handler": "request_body", "max_size": 4},
        respond("[{http.request.body}]")
    ]}]));
    let got = exchange(
        s.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde",
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(got.contains("\r\n\r\n[abc]HTTP/1.1 413 "), "{got}");
}

/// An idle keep-alive connection is bounded by the idle timeout, not the
/// header read timeout (which counts from a head's first byte, as in Go;
/// hyper counted it from the end of the previous answer).
#[tokio::test]
async fn the_header_timeout_counts_from_a_heads_first_byte() {
    let s = start(config_with(json!({
        "read_header_timeout": "300ms", "idle_timeout": "10s",
        "routes": [{"handle": [respond("ok")]}]
    })));
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    for _ in 0..2 {
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(read_one(&mut c, 2).await.ends_with("ok"));
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    // A head begun after the idle time still has to arrive in time.
    c.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let t = Instant::now();
    let rest = read_all(&mut c).await;
    assert_eq!(rest, "");
    assert!(
        (Duration::from_millis(250)..Duration::from_secs(3)).contains(&t.elapsed()),
        "{:?}",
        t.elapsed()
    );
}

/// A proxied answer of unknown length goes out chunked, and the
/// connection serves on after it.
#[tokio::test]
async fn an_answer_of_unknown_length_is_chunked() {
    let up_addr = upstream(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nstreamed", 0).await;
    let s = start_routes(json!([
        {"match": [{"path": ["/up"]}], "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": up_addr.to_string()}]}]},
        {"handle": [respond("after")]}
    ]));
    let got = exchange(
        s.addr,
        b"GET /up HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(got.contains("transfer-encoding: chunked\r\n"), "{got}");
    assert!(
        got.contains("\r\n\r\n8\r\nstreamed\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{got}"
    );
    assert!(got.ends_with("\r\n\r\nafter"), "{got}");
}

/// A client that sends two requests and closes its side gets the first
/// answer, though it waits on a slow upstream: while the second request
/// waits in the buffer, the client is not watched for closing. Then the
/// close is seen while the second runs, and it is dropped. hyper does
/// exactly this (its `mid_message_detect_eof`).
#[tokio::test]
async fn pipelined_requests_then_a_half_close_get_the_first_answer() {
    let up_addr = upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow", 200).await;
    let s = start_routes(json!([{"handle": [
        {"handler": "reverse_proxy", "upstreams": [{"dial": up_addr.to_string()}]}
    ]}]));
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    c.shutdown().await.unwrap();
    let got = read_all(&mut c).await;
    assert_eq!(got.matches("\r\n\r\nslow").count(), 1, "{got}");
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
}

/// An upstream's fields reach the client as it sent them (names in their
/// case, its hop-by-hop lines left out, `Via` after them) where nothing
/// reads them on the way; through the map (names lowered) for a HEAD and
/// where `header_down` changes them. The same fields either way.
#[tokio::test]
async fn proxied_fields_go_as_they_came_where_nothing_reads_them() {
    let up = upstream(
        b"HTTP/1.1 200 OK\r\nServer: up\r\nConnection: keep-alive\r\nX-Mixed:  A \r\n\
        Keep-Alive: timeout=5\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 2\r\n\r\nok",
        0,
    )
    .await;
    let proxy = |extra| crate::proxy_support::proxy(&[up], extra);
    let s = start_routes(json!([{"handle": [proxy(json!({}))]}]));
    let got = exchange(
        s.addr,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let date = "Thu, 01 Jan 1970 00:00:00 GMT";
    let raw = |extra: &str| {
        format!("HTTP/1.1 200 OK\r\nServer: up\r\nX-Mixed:  A \r\nDate: {date}\r\nContent-Length: 2\r\nvia: 1.1 bellhop\r\n{extra}\r\nok")
    };
    let mapped = |extra: &str| {
        format!("HTTP/1.1 200 OK\r\nserver: up\r\nx-mixed: A\r\ndate: {date}\r\ncontent-length: 2\r\nvia: 1.1 bellhop\r\n{extra}\r\n")
    };
    assert_eq!(
        got,
        format!("{}{}{}", raw(""), mapped(""), raw("connection: close\r\n"))
    );
    let ops = json!({"headers": {"response": {"set": {"X-Down": ["1"]}}}});
    let s = start_routes(json!([{"handle": [proxy(ops)]}]));
    let got = exchange(
        s.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let want = mapped("x-down: 1\r\n").replace("\r\n\r\n", "\r\nconnection: close\r\n\r\nok");
    assert_eq!(got, want);
}
