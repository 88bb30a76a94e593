//! HTTP/3 abuse that a real h3 client can produce: an oversized header
//! section, a body over `max_size`, and thousands of streams opened and
//! abandoned. Each is an error or a refusal in time, never a stall; the
//! connection (or the next one) is served afterwards and memory stays
//! flat.

use crate::h3_support::*;
use crate::support::rss_kib;
use crate::tls_support::TestCa;
use bellhop_runtime::Runtime;
use serde_json::{json, Value};
use std::net::SocketAddr;

async fn start(routes: Value, extra: Value) -> (Runtime, SocketAddr, TestCa, tempfile::TempDir) {
    start_h3_server(routes, extra).await
}

fn ok_routes() -> Value {
    json!([{"handle": [{"handler": "static_response", "body": "fine"}]}])
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_header_section_is_an_error_not_a_stall() {
    let (_rt, addr, ca, _dir) = start(ok_routes(), json!({"max_header_bytes": 4096})).await;
    let mut c = h3_connect(addr, &ca).await.unwrap();
    let big = "v".repeat(16 * 1024);
    let started = std::time::Instant::now();
    let r = c.request("GET", "/", &[("x-big", big.as_str())], b"").await;
    assert!(started.elapsed() < LIMIT, "the oversized request stalled");
    match r {
        Ok(resp) => assert_eq!(resp.status, 431, "{:?}", resp.headers),
        Err(e) => assert!(!e.contains("timed out"), "{e}"),
    }
    // the next request is served (on this connection or a new one)
    let next = match c.request("GET", "/", &[], b"").await {
        Ok(r) => r,
        Err(_) => h3_connect(addr, &ca)
            .await
            .unwrap()
            .request("GET", "/", &[], b"")
            .await
            .unwrap(),
    };
    assert_eq!((next.status, next.body.as_str()), (200, "fine"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_max_size_is_413() {
    let routes = json!([{"handle": [
        {"handler": "request_body", "max_size": 1024},
        {"handler": "static_response", "body": "{http.request.body}"}
    ]}]);
    let (_rt, addr, ca, _dir) = start(routes, json!({})).await;
    let mut c = h3_connect(addr, &ca).await.unwrap();
    let r = c
        .request("POST", "/", &[], &[b'x'; 64 * 1024])
        .await
        .unwrap();
    assert_eq!(r.status, 413);
    let r = c.request("POST", "/", &[], b"small").await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "small"));
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_abandoned_streams_leave_memory_flat() {
    let (_rt, addr, ca, _dir) = start(ok_routes(), json!({})).await;
    let mut c = h3_connect(addr, &ca).await.unwrap();
    let before = rss_kib();
    for _ in 0..3000 {
        // a request whose stream is dropped before its answer is read
        let s = tokio::time::timeout(LIMIT, c.start("GET", "/", &[], b"")).await;
        drop(s);
    }
    let grown = rss_kib().saturating_sub(before);
    println!("3000 abandoned h3 streams: RSS +{grown} KiB");
    assert!(grown < 64 * 1024, "RSS grew {grown} KiB");
    let mut fresh = h3_connect(addr, &ca).await.unwrap();
    let r = fresh.request("GET", "/", &[], b"").await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "fine"));
}
