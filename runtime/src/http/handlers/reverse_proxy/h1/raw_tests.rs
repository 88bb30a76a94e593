//! Unit tests of the response fields kept as they came (`Keep::Raw`):
//! which heads qualify, what is left out, and that every other head (or
//! one whose framing turns out otherwise) has its fields in the map, as
//! `Keep::NoHop` would have put them.

use super::tests::{answered_keeping, pair};
use super::*;
use http::HeaderValue;

/// The head `wire` answered to `method`, its fields kept as they came
/// where they can be.
async fn raw_head(method: &str, wire: &[u8]) -> Head {
    let (conn, mut up) = pair().await;
    let wire = [wire];
    let answered = answered_keeping(conn, &mut up, method, &wire, false, Keep::Raw);
    answered.await.unwrap().0
}

/// What the kept lines write.
fn written(raw: &RawFields) -> String {
    let mut out = Vec::new();
    raw.write(&mut out);
    String::from_utf8(out).unwrap()
}

/// The map's fields, as `name=value`.
fn map_of(h: &HeaderMap) -> Vec<String> {
    let v = |v: &HeaderValue| v.to_str().unwrap().to_string();
    h.iter().map(|(n, x)| format!("{n}={}", v(x))).collect()
}

#[tokio::test]
async fn a_sized_head_is_kept_as_it_came_without_its_hop_by_hop_lines() {
    let wire = b"HTTP/1.1 200 OK\r\nServer: up\r\nConnection: keep-alive\r\n\
        Date: Mon, 07 Dec 2026 11:00:00 GMT\r\nKeep-Alive: timeout=5\r\n\
        Content-Length: 5\r\nX-Two:  a \r\nx-two: b\r\n\r\nhello";
    let head = raw_head("GET", wire).await;
    assert!(head.headers.is_empty(), "{:?}", head.headers);
    let raw = head.raw.expect("kept as it came");
    assert_eq!(
        written(&raw),
        "Server: up\r\nDate: Mon, 07 Dec 2026 11:00:00 GMT\r\nContent-Length: 5\r\n\
        X-Two:  a \r\nx-two: b\r\n"
    );
    assert_eq!(raw.length(), 5);
    assert!(raw.has_date());
    assert_eq!(head.framing, body::Framing::Length(5));
    assert!(head.keep_alive);
    let mut map = HeaderMap::new();
    raw.into_map(&mut map);
    assert_eq!(
        map_of(&map),
        [
            "server=up",
            "date=Mon, 07 Dec 2026 11:00:00 GMT",
            "content-length=5",
            "x-two=a",
            "x-two=b"
        ]
    );
}

/// Each head that cannot go as it came has its fields in the map, as
/// `Keep::NoHop` puts them: the hop-by-hop ones left out.
#[tokio::test]
async fn other_heads_have_their_fields_in_the_map() {
    let cases: &[(&str, &[u8])] = &[
        ("GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nA: 1\r\n\r\n0\r\n\r\n"),
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\nA: 1\r\n\r\nx"),
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\nA: 1\r\n\r\nx"),
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 01\r\nA: 1\n\r\nx"),
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nA: 1\r\nTrailer: x\r\n\r\nx"),
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nA: 1\r\nVia: 1.1 b\r\n\r\nx"),
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nA: 1\r\nConnection: A\r\n\r\nx"),
        ("GET", b"HTTP/1.1 200 OK\r\nA: 1\r\nContent-Type: text/event-stream\r\nContent-Length: 1\r\n\r\nx"),
        ("GET", b"HTTP/1.1 200 OK\r\nA: 1\r\nConnection: close\r\n\r\nx"),
        ("GET", b"HTTP/1.1 204 No Content\r\nA: 1\r\nContent-Length: 0\r\n\r\n"),
        ("HEAD", b"HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 9\r\n\r\n"),
        (
            "GET",
            b"HTTP/1.1 200 OK\r\nA: 1\r\nTE: x\r\nUpgrade: x\r\nKeep-Alive: x\r\n\
            Proxy-Connection: x\r\nAlt-Svc: x\r\nContent-Length: 1\r\n\r\nx",
        ),
    ];
    for (method, wire) in cases {
        let head = raw_head(method, wire).await;
        let what = String::from_utf8_lossy(wire);
        assert!(head.raw.is_none(), "{what}");
        let map = map_of(&head.headers);
        assert!(map.contains(&"a=1".to_string()), "{what}: {map:?}");
        let hop = [
            "transfer-encoding",
            "keep-alive",
            "te",
            "upgrade",
            "alt-svc",
        ];
        assert!(
            !map.iter()
                .any(|f| hop.iter().any(|h| f.starts_with(&format!("{h}=")))),
            "{what}: {map:?}"
        );
    }
}

/// Where the transport asked for gzip on the client's behalf, a gzip
/// answer (decoded on the way) has its fields in the map; another coding
/// is kept as it came.
#[tokio::test]
async fn a_gzip_answer_to_decode_goes_into_the_map() {
    let answer = |coding: &str| {
        format!("HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Length: 1\r\n\r\nx")
    };
    for (coding, keep, kept) in [
        ("gzip", Keep::RawUnlessGzip, false),
        ("GZIP", Keep::RawUnlessGzip, false),
        ("br", Keep::RawUnlessGzip, true),
        ("gzip", Keep::Raw, true),
    ] {
        let (conn, mut up) = pair().await;
        let wire = answer(coding);
        let wire = [wire.as_bytes()];
        let (head, _) = answered_keeping(conn, &mut up, "GET", &wire, false, keep)
            .await
            .unwrap();
        assert_eq!(head.raw.is_some(), kept, "{coding} {keep:?}");
        assert_eq!(head.headers.is_empty(), kept, "{coding} {keep:?}");
    }
}
