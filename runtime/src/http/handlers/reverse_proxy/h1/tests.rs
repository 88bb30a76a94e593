//! Unit tests of our own HTTP/1.1 exchange, against a scripted upstream on
//! a real socket: what goes out, each framing, interim responses, reuse
//! and its limits, stale connections, and malformed answers.

use super::super::dial::{DialOpts, Raw};
use super::super::pool::{IdleConns, PoolLimits, Sender};
use super::super::stream::UpStream;
use super::*;
use http::HeaderValue;
use http_body_util::BodyExt;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

/// Our connection and the upstream's end of it.
pub(super) async fn pair() -> (Box<H1Conn>, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    let io = UpStream::plain(Raw::Tcp(c), &DialOpts::default());
    (Box::new(H1Conn::new(io, Limits::default(), None)), s)
}

/// Reads one request head (and `body` more bytes) off the upstream's end.
async fn read_request(s: &mut TcpStream, body: usize) -> String {
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut b).await.unwrap();
        assert!(n > 0, "request ended early: {got:?}");
        got.extend_from_slice(&b[..n]);
    }
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    while got.len() < head_end + body {
        let n = s.read(&mut b).await.unwrap();
        got.extend_from_slice(&b[..n]);
    }
    String::from_utf8(got).unwrap()
}

/// `method` sent on `conn`, the upstream answering `wire` (its pieces
/// written a moment apart) and then, when `close`, shutting its end down.
async fn answered(
    conn: Box<H1Conn>,
    up: &mut TcpStream,
    method: &str,
    wire: &[&[u8]],
    close: bool,
) -> Result<(Head, Box<H1Conn>), H1Error> {
    answered_keeping(conn, up, method, wire, close, Keep::NoHop).await
}

/// [`answered`], the response's fields kept as `keep` says.
pub(super) async fn answered_keeping(
    conn: Box<H1Conn>,
    up: &mut TcpStream,
    method: &str,
    wire: &[&[u8]],
    close: bool,
    keep: Keep,
) -> Result<(Head, Box<H1Conn>), H1Error> {
    let (resp, _) = tokio::join!(get(conn, method, keep), async {
        read_request(up, 0).await;
        for (i, w) in wire.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            up.write_all(w).await.unwrap();
        }
        if close {
            up.shutdown().await.unwrap();
        }
    });
    resp
}

fn pool() -> IdleConns {
    IdleConns::new(&PoolLimits {
        idle_per_host: 4,
        ..Default::default()
    })
}

async fn get(conn: Box<H1Conn>, method: &str, keep: Keep) -> Result<(Head, Box<H1Conn>), H1Error> {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("up.example"));
    exchange(conn, &m, &"/x".parse().unwrap(), &h, Bytes::new(), keep).await
}

/// The whole body and trailers of `head` on `conn`, given back to `to`.
async fn read_body(head: Head, conn: Box<H1Conn>, to: &IdleConns) -> (Bytes, Option<HeaderMap>) {
    let keep = head.keep_alive.then(|| to.clone());
    let c = H1Body::new(conn, head.framing, keep)
        .collect()
        .await
        .unwrap();
    let trailers = c.trailers().cloned();
    (c.to_bytes(), trailers)
}

fn take_own(p: &IdleConns) -> Option<Box<H1Conn>> {
    match p.checkout(Duration::from_secs(60), std::time::Instant::now()) {
        Some(Sender::Own(c)) => Some(c),
        _ => None,
    }
}

#[tokio::test]
async fn writes_the_head_and_a_body_in_memory_in_one_go() {
    let (conn, mut up) = pair().await;
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("up.example"));
    h.insert("content-length", HeaderValue::from_static("99"));
    h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
    let uri = "/p?q=1".parse().unwrap();
    let sent = tokio::spawn(async move {
        let body = Bytes::from_static(b"hello");
        exchange(conn, &Method::POST, &uri, &h, body, Keep::NoHop).await
    });
    let req = read_request(&mut up, 5).await;
    assert_eq!(
        req,
        "POST /p?q=1 HTTP/1.1\r\nhost: up.example\r\ncontent-length: 5\r\n\r\nhello"
    );
    up.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = sent.await.unwrap().unwrap();
    assert_eq!(head.status, StatusCode::NO_CONTENT);
    assert_eq!(head.framing, body::Framing::Length(0));
}

#[tokio::test]
async fn a_length_body_is_read_and_the_connection_kept() {
    let (conn, mut up) = pair().await;
    let p = pool();
    let wire: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhel",
        b"lo",
    ];
    let (head, conn) = answered(conn, &mut up, "GET", wire, false).await.unwrap();
    assert_eq!(head.headers["x-a"], "b");
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(read_body(head, conn, &p).await.0, "hello");
    let again = take_own(&p).expect("the connection went back to the pool");
    assert!(again.reused);
    let wire: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"];
    let (head, conn) = answered(again, &mut up, "GET", wire, false).await.unwrap();
    assert_eq!(read_body(head, conn, &p).await.0, "ok");
}

/// The body of `method` answered `wire` on `conn`, to go back to `p`.
async fn body_of(
    conn: Box<H1Conn>,
    up: &mut TcpStream,
    method: &str,
    wire: &[&[u8]],
    p: &IdleConns,
) -> H1Body {
    let (head, conn) = answered(conn, up, method, wire, false).await.unwrap();
    H1Body::new(conn, head.framing, Some(p.clone()))
}

/// A sized body read with its head is taken whole (no stream) and the
/// connection goes back at once; one still coming, a chunked one, or one
/// with bytes after it is not, or not kept.
#[tokio::test]
async fn a_body_read_with_its_head_is_taken_whole() {
    let (conn, mut up) = pair().await;
    let p = pool();
    let wire: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"];
    let mut b = body_of(conn, &mut up, "GET", wire, &p).await;
    assert_eq!(b.take_whole().unwrap(), "hello");
    let conn = take_own(&p).expect("back in the pool before any poll");
    // Not all here yet: left to the stream, which reads the rest.
    let wire: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", b"lo"];
    let mut b = body_of(conn, &mut up, "GET", wire, &p).await;
    assert!(b.take_whole().is_none());
    assert_eq!(b.collect().await.unwrap().to_bytes(), "hello");
    let conn = take_own(&p).expect("kept after the stream");
    let wire: &[&[u8]] =
        &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"];
    let mut b = body_of(conn, &mut up, "GET", wire, &p).await;
    assert!(b.take_whole().is_none(), "chunked bodies stream");
    assert_eq!(b.collect().await.unwrap().to_bytes(), "ok");
    let conn = take_own(&p).expect("kept after the chunked body");
    // Stray bytes after the body: the body is whole, the connection closed.
    let wire: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokXX"];
    let mut b = body_of(conn, &mut up, "GET", wire, &p).await;
    assert_eq!(b.take_whole().unwrap(), "ok");
    assert!(take_own(&p).is_none(), "not kept with bytes after the body");
    // A HEAD's answer has no body, whatever its length says.
    let (conn, mut up) = pair().await;
    let wire: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"];
    let mut b = body_of(conn, &mut up, "HEAD", wire, &p).await;
    assert_eq!(b.take_whole().unwrap(), "");
    assert!(take_own(&p).is_some());
}

#[tokio::test]
async fn chunked_bodies_keep_their_trailers() {
    let (conn, mut up) = pair().await;
    let p = pool();
    let wire: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhel",
        b"lo\r\n6\r\n world\r",
        b"\n0\r\nx-sum: 42\r\n\r\n",
    ];
    let (head, conn) = answered(conn, &mut up, "GET", wire, false).await.unwrap();
    assert_eq!(head.framing, body::Framing::Chunked(body::Chunk::Size));
    let (data, trailers) = read_body(head, conn, &p).await;
    assert_eq!(data, "hello world");
    assert_eq!(trailers.unwrap()["x-sum"], "42");
    assert!(take_own(&p).is_some(), "kept after the last chunk");
}

#[tokio::test]
async fn a_body_up_to_the_close_is_not_kept() {
    let (conn, mut up) = pair().await;
    let p = pool();
    let wire: &[&[u8]] = &[b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\n\r\nall of it"];
    let (head, conn) = answered(conn, &mut up, "GET", wire, true).await.unwrap();
    assert_eq!((head.framing, head.keep_alive), (body::Framing::Eof, false));
    assert_eq!(read_body(head, conn, &p).await.0, "all of it");
    assert!(take_own(&p).is_none());
}

#[tokio::test]
async fn interim_responses_are_skipped_and_head_has_no_body() {
    let (conn, mut up) = pair().await;
    let wire: &[&[u8]] = &[
        b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n",
    ];
    let (head, _) = answered(conn, &mut up, "HEAD", wire, false).await.unwrap();
    assert_eq!(head.status, StatusCode::OK);
    assert!(!head.headers.contains_key("link"));
    assert_eq!(head.framing, body::Framing::Length(0));
}

#[tokio::test]
async fn closing_or_switching_answers_are_not_kept() {
    for wire in [
        &b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"[..],
        b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
    ] {
        let (conn, mut up) = pair().await;
        let resp = answered(conn, &mut up, "GET", &[wire], false).await;
        assert!(
            !resp.unwrap().0.keep_alive,
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[tokio::test]
async fn a_closed_idle_connection_is_seen_and_stale() {
    let (mut conn, up) = pair().await;
    assert!(!conn.is_closed());
    drop(up);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(conn.is_closed(), "the peer's close is seen from readiness");
    conn.set_reused();
    assert!(matches!(
        get(conn, "GET", Keep::NoHop).await,
        Err(H1Error::Stale)
    ));
    let (conn, up) = pair().await;
    drop(up);
    assert!(matches!(
        get(conn, "GET", Keep::NoHop).await,
        Err(H1Error::Closed | H1Error::Io(_))
    ));
}

#[tokio::test]
async fn malformed_answers_are_errors() {
    let cases: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
        b"HTTP/1.1 999x OK\r\n\r\n",
    ];
    for wire in cases {
        let (conn, mut up) = pair().await;
        let resp = answered(conn, &mut up, "GET", &[wire], false).await;
        assert!(
            matches!(resp, Err(H1Error::Malformed(_))),
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
    let (mut conn, mut up) = pair().await;
    conn.limits.max_head = 8192;
    let (resp, _) = tokio::join!(get(conn, "GET", Keep::NoHop), async {
        read_request(&mut up, 0).await;
        up.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        let _ = up.write_all(&[b'x'; 9000]).await;
    });
    assert!(matches!(resp, Err(H1Error::Malformed(m)) if m.contains("larger than 8192")));
    // The limit holds for a head that arrives whole, and below 8 KiB.
    for (extra, ok) in [(0, true), (80, false)] {
        let (mut conn, mut up) = pair().await;
        conn.limits.max_head = 100;
        let wire = format!(
            "HTTP/1.1 200 OK\r\nx-pad: {}\r\ncontent-length: 0\r\n\r\n",
            "p".repeat(extra)
        );
        let resp = answered(conn, &mut up, "GET", &[wire.as_bytes()], false).await;
        assert_eq!(resp.is_ok(), ok, "{} bytes", wire.len());
    }
}

#[tokio::test]
async fn a_bad_chunk_or_a_short_body_fails_the_body() {
    for wire in [
        &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"[..],
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokX\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort",
    ] {
        let (conn, mut up) = pair().await;
        let (head, conn) = answered(conn, &mut up, "GET", &[wire], true).await.unwrap();
        let p = pool();
        let got = H1Body::new(conn, head.framing, Some(p.clone()))
            .collect()
            .await;
        assert!(got.is_err(), "{}", String::from_utf8_lossy(wire));
        assert!(take_own(&p).is_none());
    }
}

/// The hop-by-hop fields the proxy removes stay out of the response's map
/// (but a `Connection` that names another field, and `Trailer`), and
/// still frame the body and close the connection; kept when asked, and in
/// a 101.
#[tokio::test]
async fn hop_fields_frame_and_close_without_entering_the_map() {
    let wire: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: timeout=5\r\n\
        Transfer-Encoding: chunked\r\nTrailer: x-sum\r\nConnection: X-Listed\r\n\
        X-Listed: 1\r\nAlt-Svc: h3=\":443\"\r\n\r\n0\r\n\r\n",
    ];
    let names = |h: &Head| -> Vec<String> { h.headers.keys().map(|k| k.to_string()).collect() };
    let (conn, mut up) = pair().await;
    let (head, _) = answered(conn, &mut up, "GET", wire, false).await.unwrap();
    assert_eq!(names(&head), ["trailer", "connection", "x-listed"]);
    assert_eq!(head.headers["connection"], "X-Listed");
    assert_eq!(head.framing, body::Framing::Chunked(body::Chunk::Size));
    assert!(!head.keep_alive, "Connection: close, though not in the map");
    let (conn, mut up) = pair().await;
    let (head, _) = answered_keeping(conn, &mut up, "GET", wire, false, Keep::All)
        .await
        .unwrap();
    assert_eq!(head.headers.len(), 7, "{:?}", head.headers);
    assert!(!head.keep_alive);
    let wire: &[&[u8]] = &[
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    ];
    let (conn, mut up) = pair().await;
    let (head, _) = answered(conn, &mut up, "GET", wire, false).await.unwrap();
    assert_eq!(names(&head), ["upgrade", "connection"]);
    let wire: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\nKeep-Alive: a\x01b\r\ncontent-length: 0\r\n\r\n"];
    let (conn, mut up) = pair().await;
    let bad = answered(conn, &mut up, "GET", wire, false).await;
    assert!(
        matches!(bad, Err(H1Error::Malformed(_))),
        "a dropped field is parsed too"
    );
}
