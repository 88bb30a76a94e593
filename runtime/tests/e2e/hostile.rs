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

/// The classics: obs-fold and control characters in header lines are
/// refused; a chunk size that overflows is an error that never completes
/// a request upstream; chunk extensions are accepted and dropped.
#[tokio::test(flavor = "multi_thread")]
async fn folded_and_control_character_headers_are_refused() {
    let rig = Rig::start().await;
    for raw in [
        "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX\0A: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n",
        "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        refused(&rig, raw, 400).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bare_lf_line_ends_are_framed_cleanly_if_at_all() {
    let rig = Rig::start().await;
    let before = rig.seen().len();
    let x = rig
        .send(b"GET /lf HTTP/1.1\nHost: a\nConnection: close\n\n", WAIT)
        .await;
    let seen = rig.seen()[before..].to_string();
    match x.statuses.as_slice() {
        [400] => assert!(seen.is_empty(), "{seen}"),
        [200] => {
            // re-framed with CRLF, one request
            assert!(seen.starts_with("GET /lf HTTP/1.1\r\n"), "{seen:?}");
            assert_eq!(seen.matches("HTTP/1.1").count(), 1, "{seen:?}");
        }
        other => panic!("bare LF answered {other:?}: {}", x.raw),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overflowing_chunk_size_never_completes_a_request_upstream() {
    let rig = Rig::start().await;
    let before = rig.seen().len();
    let raw = "POST /o HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
               fffffffffffffffff1\r\nhello\r\n0\r\n\r\n";
    let x = rig.send(raw.as_bytes(), WAIT).await;
    assert!(x.closed, "the connection stayed open: {}", x.raw);
    assert!(
        !x.statuses.iter().any(|s| (200..300).contains(s)),
        "answered {:?}",
        x.statuses
    );
    let seen = rig.seen()[before..].to_string();
    assert!(
        !seen.ends_with("0\r\n\r\n"),
        "a complete request went upstream: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chunk_extensions_are_accepted_and_not_forwarded() {
    let rig = Rig::start().await;
    let before = rig.seen().len();
    let raw =
        "POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
               5;name=value\r\nhello\r\n0;last\r\n\r\n";
    let x = rig.send(raw.as_bytes(), WAIT).await;
    assert_eq!(x.statuses, vec![200], "{}", x.raw);
    let seen = rig.seen()[before..].to_string();
    assert!(
        seen.contains("hello") && !seen.contains("name=value") && !seen.contains(";last"),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_absolute_form_target_goes_upstream_in_origin_form_with_one_host() {
    let rig = Rig::start().await;
    let before = rig.seen().len();
    let x = rig
        .send(
            b"GET http://a.test/abs?q=1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
            WAIT,
        )
        .await;
    assert_eq!(x.statuses, vec![200], "{}", x.raw);
    let seen = rig.seen()[before..].to_ascii_lowercase();
    assert!(seen.starts_with("get /abs?q=1 http/1.1\r\n"), "{seen:?}");
    assert_eq!(seen.matches("\r\nhost:").count(), 1, "{seen:?}");
}

/// `..` in any spelling never leaves file_server's root.
#[tokio::test(flavor = "multi_thread")]
async fn dot_dot_in_any_spelling_stays_inside_the_file_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), "public").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "TOP-SECRET").unwrap();
    let server = crate::support::start_routes(serde_json::json!([{"handle": [
        {"handler": "file_server", "root": root.display().to_string()}
    ]}]));
    for target in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/.%2e/secret.txt",
        "/a/../../secret.txt",
        "/..\\secret.txt",
        "/%2e%2e%5csecret.txt",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        let x = crate::hostile_support::raw_exchange(server.addr, raw.as_bytes(), WAIT).await;
        assert!(
            !x.raw.contains("TOP-SECRET"),
            "{target} escaped the root: {}",
            x.raw
        );
        assert!(
            x.statuses.first().is_some_and(|s| *s >= 400 || *s == 200),
            "{target}: {}",
            x.raw
        );
    }
}
