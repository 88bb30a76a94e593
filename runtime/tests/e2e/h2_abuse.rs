//! HTTP/2 abuse from a client that writes raw frames (h2c, prior
//! knowledge): rapid reset, CONTINUATION without END_HEADERS, empty DATA,
//! SETTINGS and PING floods, streams past `max_concurrent_streams`. Rapid
//! reset, endless header blocks and empty DATA end in a GOAWAY or a closed
//! connection; streams past the limit are refused; SETTINGS and PING
//! floods are answered frame for frame and, from a client that never
//! reads, stop being read once the socket is full (nothing queues up),
//! and that connection is closed once it has been idle for
//! `idle_timeout` (plus a bounded grace for the GOAWAY it never reads).
//! Memory stays flat throughout, and the next client is served.

use crate::support::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// HPACK for GET or POST `/` on `http://a`: indexed :method, :path,
/// :scheme, then :authority as a literal.
fn request_block(post: bool) -> Vec<u8> {
    vec![if post { 0x83 } else { 0x82 }, 0x84, 0x86, 0x41, 0x01, b'a']
}

/// What the server sent back on one connection.
#[derive(Default)]
struct Seen {
    goaway: AtomicBool,
    rst: AtomicUsize,
    closed: AtomicBool,
}

/// An h2c connection with the preface and an empty SETTINGS written; a
/// task reads the server's frames into `Seen`.
async fn connect(addr: std::net::SocketAddr) -> (tokio::net::tcp::OwnedWriteHalf, Arc<Seen>) {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut r, mut w) = s.into_split();
    w.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    w.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    let seen = Arc::new(Seen::default());
    let out = seen.clone();
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 65536];
        loop {
            match r.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            while buf.len() >= 9 {
                let len = (buf[0] as usize) << 16 | (buf[1] as usize) << 8 | buf[2] as usize;
                if buf.len() < 9 + len {
                    break;
                }
                match buf[3] {
                    GOAWAY => out.goaway.store(true, Ordering::SeqCst),
                    RST_STREAM => {
                        out.rst.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {}
                }
                buf.drain(..9 + len);
            }
        }
        out.closed.store(true, Ordering::SeqCst);
    });
    (w, seen)
}

/// Writes frames until the server answers with a GOAWAY or closes, up to
/// `max` batches; how many batches it took, or `None` if it never did.
async fn flood(
    w: &mut tokio::net::tcp::OwnedWriteHalf,
    seen: &Seen,
    max: usize,
    mut batch: impl FnMut(usize) -> Vec<u8>,
) -> Option<usize> {
    for i in 0..max {
        if seen.goaway.load(Ordering::SeqCst) || seen.closed.load(Ordering::SeqCst) {
            return Some(i);
        }
        if w.write_all(&batch(i)).await.is_err() {
            return Some(i);
        }
    }
    // the last frames may still be on their way
    for _ in 0..50 {
        if seen.goaway.load(Ordering::SeqCst) || seen.closed.load(Ordering::SeqCst) {
            return Some(max);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// The same abuse meets both HTTP/2 servers: hyper's, and the one on `h2`
/// that serves servers with a `push` handler.
fn servers() -> [(&'static str, TestServer); 2] {
    ["hyper", "push"].map(|kind| (kind, server(kind, json!({}))))
}

fn server(kind: &str, extra: Value) -> TestServer {
    let mut handle = vec![respond("ok")];
    if kind == "push" {
        handle.insert(0, json!({"handler": "push"}));
    }
    let mut srv = json!({
        "protocols": ["h1", "h2c"],
        "routes": [{"handle": handle}]
    });
    for (k, v) in extra.as_object().unwrap() {
        srv[k] = v.clone();
    }
    start(config_with(srv))
}

/// After the abuse, a well-behaved client is served.
async fn still_serves(s: &TestServer) {
    let r = get(s.addr, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
}

#[tokio::test(flavor = "multi_thread")]
async fn rapid_reset_ends_in_goaway_with_flat_memory() {
    for (kind, s) in servers() {
        println!("{kind}:");
        let (mut w, seen) = connect(s.addr).await;
        let before = rss_kib();
        let took = flood(&mut w, &seen, 100_000, |i| {
            let id = 1 + 2 * i as u32;
            let mut b = frame(HEADERS, END_HEADERS | END_STREAM, id, &request_block(false));
            b.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
            b
        })
        .await;
        let grown = rss_kib().saturating_sub(before);
        println!("rapid reset: GOAWAY or close after {took:?} streams, RSS +{grown} KiB");
        assert!(took.is_some(), "100000 reset streams and no GOAWAY");
        assert!(grown < 64 * 1024, "RSS grew {grown} KiB");
        still_serves(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn continuation_without_end_headers_ends_in_goaway() {
    for (kind, s) in servers() {
        println!("{kind}:");
        let (mut w, seen) = connect(s.addr).await;
        w.write_all(&frame(HEADERS, END_STREAM, 1, &request_block(false)))
            .await
            .unwrap();
        // a header block that never ends: `x-a: vvv…` (1000 bytes, a literal
        // with a new name; the length is 127 + 873 in HPACK's 7-bit prefix
        // integer form) over and over
        let mut lit = vec![0x40, 0x03, b'x', b'-', b'a', 0x7f, 0xe9, 0x06];
        lit.extend_from_slice(&[b'v'; 1000]);
        let took = flood(&mut w, &seen, 100_000, |_| frame(CONTINUATION, 0, 1, &lit)).await;
        println!("CONTINUATION flood: GOAWAY or close after {took:?} frames");
        assert!(took.is_some(), "an endless header block was accepted");
        still_serves(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_data_frames_end_in_goaway() {
    for (kind, s) in servers() {
        println!("{kind}:");
        let (mut w, seen) = connect(s.addr).await;
        w.write_all(&frame(HEADERS, END_HEADERS, 1, &request_block(true)))
            .await
            .unwrap();
        let before = rss_kib();
        let took = flood(&mut w, &seen, 200_000, |_| {
            let mut b = Vec::with_capacity(9 * 100);
            for _ in 0..100 {
                b.extend(frame(DATA, 0, 1, &[]));
            }
            b
        })
        .await;
        let grown = rss_kib().saturating_sub(before);
        println!(
            "empty DATA flood: GOAWAY or close after {took:?} batches of 100, RSS +{grown} KiB"
        );
        assert!(took.is_some(), "20 million empty DATA frames and no GOAWAY");
        assert!(grown < 64 * 1024, "RSS grew {grown} KiB");
        still_serves(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_and_ping_floods_keep_memory_flat() {
    for (kind, s) in servers() {
        println!("{kind}:");
        for (name, kind, payload) in [("SETTINGS", SETTINGS, vec![]), ("PING", PING, vec![0u8; 8])]
        {
            let (mut w, seen) = connect(s.addr).await;
            let before = rss_kib();
            let took = flood(&mut w, &seen, 2_000, |_| {
                let mut b = Vec::new();
                for _ in 0..100 {
                    b.extend(frame(kind, 0, 0, &payload));
                }
                b
            })
            .await;
            let grown = rss_kib().saturating_sub(before);
            println!(
                "{name} flood: GOAWAY or close after {took:?} batches of 100, RSS +{grown} KiB"
            );
            assert!(grown < 64 * 1024, "{name}: RSS grew {grown} KiB");
        }
        still_serves(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_past_max_concurrent_streams_are_refused() {
    for (kind, s) in servers() {
        println!("{kind}:");
        let (mut w, seen) = connect(s.addr).await;
        // open many streams without finishing them (POST, no END_STREAM)
        let mut batch = Vec::new();
        for i in 0..2_000u32 {
            batch.extend(frame(HEADERS, END_HEADERS, 1 + 2 * i, &request_block(true)));
        }
        w.write_all(&batch).await.unwrap();
        for _ in 0..100 {
            if seen.rst.load(Ordering::SeqCst) > 0 || seen.goaway.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (rst, goaway) = (
            seen.rst.load(Ordering::SeqCst),
            seen.goaway.load(Ordering::SeqCst),
        );
        println!("2000 open streams: {rst} RST_STREAM, GOAWAY {goaway}");
        assert!(rst > 0 || goaway, "no stream refused");
        still_serves(&s).await;
    }
}

/// The kernel's state of the TCP connection whose local end is `port`
/// (`/proc/net/tcp`: 01 established, 08 close-wait), or `None` once it is
/// gone (reset by the peer).
fn tcp_state(port: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let local_port = f[1].rsplit(':').next()?;
        (u16::from_str_radix(local_port, 16).ok()? == port).then(|| f[3].to_string())
    })
}

/// A client that floods PINGs and SETTINGS but never reads the answers:
/// the acknowledgements the server owes cannot pile up in its memory, and
/// the stalled connection is closed after `idle_timeout` and the grace.
#[tokio::test(flavor = "multi_thread")]
async fn control_frame_floods_from_a_client_that_never_reads_stay_bounded() {
    for kind in ["hyper", "push"] {
        println!("{kind}:");
        control_frames_never_read(server(kind, json!({"idle_timeout": "1s"}))).await;
    }
}

async fn control_frames_never_read(s: TestServer) {
    for (name, kind, payload) in [("PING", PING, vec![0u8; 8]), ("SETTINGS", SETTINGS, vec![])] {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        c.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
        let mut batch = Vec::new();
        for _ in 0..1000 {
            batch.extend(frame(kind, 0, 0, &payload));
        }
        let before = rss_kib();
        let mut sent = 0usize;
        // stop when the server stops reading (its buffers are full) or
        // after a million frames
        while sent < 1_000_000 {
            match tokio::time::timeout(Duration::from_secs(2), c.write_all(&batch)).await {
                Ok(Ok(())) => sent += 1000,
                _ => break,
            }
        }
        let grown = rss_kib().saturating_sub(before);
        println!("{name} flood, never read: {sent} frames written, RSS +{grown} KiB");
        assert!(grown < 64 * 1024, "{name}: RSS grew {grown} KiB");
        let port = c.local_addr().unwrap().port();
        let mut state = tcp_state(port);
        for _ in 0..100 {
            if state.as_deref() != Some("01") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            state = tcp_state(port);
        }
        assert_ne!(
            state.as_deref(),
            Some("01"),
            "{name}: the stalled connection is still open 10 s after the flood"
        );
    }
    still_serves(&s).await;
}
