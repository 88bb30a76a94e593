//! Hostile HTTP/1 input against bellhop as a reverse proxy (issue 15's
//! defects): a request bellhop cannot frame or route unambiguously is
//! answered 400 or 501 and its connection closed, and nothing of it
//! reaches the upstream.

use crate::hostile_support::Rig;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(2);

/// Asserts `raw` is refused with `status`, the connection closed, and
/// nothing forwarded.
async fn refused(rig: &Rig, raw: &str, status: u16) {
    let before = rig.seen().len();
    let x = rig.send(raw.as_bytes(), WAIT).await;
    assert_eq!(x.statuses, vec![status], "{raw:?} answered {:?}", x.raw);
    assert!(x.closed, "{raw:?}: the connection stayed open");
    assert_eq!(
        rig.seen().len(),
        before,
        "{raw:?} reached the upstream: {:?}",
        rig.seen()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http11_request_without_host_is_400_and_closed() {
    let rig = Rig::start().await;
    refused(&rig, "GET / HTTP/1.1\r\n\r\n", 400).await;
    // HTTP/1.0 needs no Host
    let x = rig.send(b"GET / HTTP/1.0\r\n\r\n", WAIT).await;
    assert_eq!(x.statuses, vec![200], "{}", x.raw);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_host_headers_are_400_and_closed() {
    let rig = Rig::start().await;
    refused(&rig, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400).await;
    refused(&rig, "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400).await;
    refused(&rig, "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_applied_twice_is_refused_and_closed() {
    let rig = Rig::start().await;
    let body = "5\r\nhello\r\n0\r\n\r\n";
    for te in [
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let raw = format!("POST / HTTP/1.1\r\nHost: a\r\n{te}\r\n{body}");
        refused(&rig, &raw, 501).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_coding_other_than_one_final_chunked_is_refused_and_closed() {
    let rig = Rig::start().await;
    let body = "5\r\nhello\r\n0\r\n\r\n";
    // chunked last, after another coding: bellhop cannot decode it (501)
    for te in [
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: identity, chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let raw = format!("POST / HTTP/1.1\r\nHost: a\r\n{te}\r\n{body}");
        refused(&rig, &raw, 501).await;
    }
    // chunked not last: the length cannot be known (RFC 9112 6.3: 400)
    for te in [
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
    ] {
        let raw = format!("POST / HTTP/1.1\r\nHost: a\r\n{te}\r\n{body}");
        refused(&rig, &raw, 400).await;
    }
    // a plain chunked body is fine
    let raw = format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
    let x = rig.send(raw.as_bytes(), WAIT).await;
    assert_eq!(x.statuses, vec![200], "{}", x.raw);
}

/// Transfer-Encoding with Content-Length: the chunked coding wins, the
/// length is dropped, the body goes upstream with one clean framing and
/// the client's connection closes after the answer (RFC 9112 6.3), so no
/// second request can hide in the body.
#[tokio::test(flavor = "multi_thread")]
async fn transfer_encoding_with_content_length_is_framed_once_and_closed() {
    let rig = Rig::start().await;
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    for order in [
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
    ] {
        let before = rig.seen().len();
        let raw =
            format!("POST / HTTP/1.1\r\nHost: a\r\n{order}\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}");
        let x = rig.send(raw.as_bytes(), WAIT).await;
        assert_eq!(x.statuses, vec![200], "{order:?}: {}", x.raw);
        assert!(x.closed, "{order:?}: the client connection stayed open");
        let seen = rig.seen()[before..].to_ascii_lowercase();
        assert!(!seen.contains("content-length"), "{seen}");
        assert_eq!(
            seen.matches("transfer-encoding: chunked").count(),
            1,
            "{seen}"
        );
        assert!(seen.ends_with("5\r\nhello\r\n0\r\n\r\n"), "{seen}");
        assert!(!seen.contains("smuggled"), "{seen}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_and_fifty_headers_are_served() {
    let rig = Rig::start().await;
    let mut raw = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..150 {
        raw.push_str(&format!("X-H{i}: v\r\n"));
    }
    raw.push_str("Connection: close\r\n\r\n");
    let x = rig.send(raw.as_bytes(), WAIT).await;
    assert_eq!(x.statuses, vec![200], "{}", x.raw);
    assert!(rig.seen().contains("x-h149: v"), "{}", rig.seen());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encoded_nul_in_the_path_is_400_and_closed() {
    let rig = Rig::start().await;
    refused(&rig, "GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", 400).await;
    refused(&rig, "GET /a?x=%00 HTTP/1.1\r\nHost: a\r\n\r\n", 400).await;
}
