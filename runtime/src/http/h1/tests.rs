//! Tests of bellhop's HTTP/1 server: its request heads against hyper's
//! rules, and its answers against hyper's own, byte for byte: each case
//! goes through hyper's HTTP/1 server and through [`super::write`], and the
//! two outputs must be the same (the date aside).

use super::encode::Exchange;
use super::head::{self, NotYet, Parsed};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use std::convert::Infallible;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Boxed = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

/// A response body of one of the kinds the framing depends on.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Empty,
    /// Known length.
    Full(&'static str),
    /// Unknown length, in these pieces.
    Stream(&'static [&'static str]),
    /// Unknown length, then trailers (`x-t: 1`, `content-type: y`).
    Trailers(&'static str),
}

fn body(k: Kind) -> Boxed {
    match k {
        Kind::Empty => Empty::new().boxed_unsync(),
        Kind::Full(s) => Full::new(Bytes::from_static(s.as_bytes())).boxed_unsync(),
        Kind::Stream(parts) => {
            let frames = parts
                .iter()
                .map(|p| Ok::<_, Infallible>(Frame::data(Bytes::from_static(p.as_bytes()))));
            StreamBody::new(futures_util::stream::iter(frames.collect::<Vec<_>>())).boxed_unsync()
        }
        Kind::Trailers(s) => {
            let mut t = http::HeaderMap::new();
            t.insert("x-t", "1".parse().unwrap());
            t.insert("content-type", "y".parse().unwrap());
            let frames = vec![
                Ok::<_, Infallible>(Frame::data(Bytes::from_static(s.as_bytes()))),
                Ok(Frame::trailers(t)),
            ];
            StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
        }
    }
}

fn response(status: u16, headers: &[(&str, &str)], k: Kind) -> http::Response<Boxed> {
    let mut r = http::Response::new(body(k));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    for (n, v) in headers {
        r.headers_mut().append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

/// What hyper's server writes for `request` answered by the response.
async fn by_hyper(request: &str, status: u16, headers: &'static [(&str, &str)], k: Kind) -> String {
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let svc = hyper::service::service_fn(move |_req| async move {
        Ok::<_, Infallible>(response(status, headers, k))
    });
    tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(server), svc),
    );
    client.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        client.read_to_end(&mut out),
    )
    .await;
    undated(&out)
}

/// What [`super::write::response`] writes for the same exchange.
async fn by_us(request: &str, status: u16, headers: &'static [(&str, &str)], k: Kind) -> String {
    let mut buf = BytesMut::from(request);
    let req = head::parse(&mut buf, 16 << 10, &mut Vec::new(), &mut Default::default())
        .expect("a request served here");
    let x = Exchange {
        head_request: req.parts.method == http::Method::HEAD,
        keep_alive: req.keep_alive,
        te_trailers: req.te_trailers,
    };
    let (mut wire, mut out) = (Vec::new(), Vec::new());
    let _ = super::write::response(&mut wire, &mut out, response(status, headers, k), x).await;
    undated(&wire)
}

fn undated(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.split_inclusive("\r\n")
        .map(|l| {
            if l.starts_with("date: ") {
                "date: D\r\n"
            } else {
                l
            }
        })
        .collect()
}

/// A request, and the status, headers and body of its answer.
type Case = (
    &'static str,
    u16,
    &'static [(&'static str, &'static str)],
    Kind,
);

const GET: &str = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const CLOSE: &str = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
const HEAD: &str = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";
const TE: &str = "GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n";

#[tokio::test]
async fn answers_are_hypers_bytes() {
    #[rustfmt::skip]
    let cases: &[Case] = &[
        (GET, 200, &[], Kind::Full("hello")),
        (GET, 200, &[("content-type", "text/plain")], Kind::Empty),
        (GET, 404, &[("x-a", "1"), ("x-a", "2"), ("x-b", "3")], Kind::Full("gone")),
        (GET, 599, &[], Kind::Full("odd")),
        (GET, 204, &[], Kind::Empty),
        (GET, 204, &[("content-length", "0")], Kind::Empty),
        (GET, 304, &[("content-length", "5")], Kind::Empty),
        (GET, 200, &[("content-length", "5")], Kind::Full("hello")),
        (GET, 200, &[("content-length", "0")], Kind::Empty),
        (GET, 200, &[("content-length", "7")], Kind::Empty),
        (GET, 200, &[("content-length", "5")], Kind::Stream(&["he", "llo"])),
        (GET, 200, &[("content-length", "3")], Kind::Stream(&["he", "llo"])),
        (GET, 200, &[("content-length", "5"), ("content-length", "5")], Kind::Stream(&["hello"])),
        (GET, 200, &[("content-length", "5"), ("content-length", "6")], Kind::Stream(&["hello"])),
        (GET, 200, &[("content-length", "x")], Kind::Stream(&["hello"])),
        (GET, 200, &[], Kind::Stream(&["a", "", "bc"])),
        (GET, 200, &[("transfer-encoding", "chunked")], Kind::Stream(&["abc"])),
        (GET, 200, &[("transfer-encoding", "gzip")], Kind::Stream(&["abc"])),
        (GET, 200, &[("connection", "keep-alive"), ("connection", "x-y")], Kind::Full("k")),
        (GET, 200, &[("connection", "close")], Kind::Full("c")),
        (GET, 200, &[("date", "Thu, 01 Jan 1970 00:00:00 GMT")], Kind::Full("d")),
        (CLOSE, 200, &[], Kind::Full("bye")),
        (CLOSE, 200, &[("connection", "keep-alive")], Kind::Full("bye")),
        (CLOSE, 200, &[], Kind::Stream(&["bye"])),
        (HEAD, 200, &[], Kind::Full("hello")),
        (HEAD, 200, &[], Kind::Empty),
        (HEAD, 200, &[("content-length", "42")], Kind::Empty),
        (HEAD, 200, &[], Kind::Stream(&["hello"])),
        (HEAD, 200, &[("transfer-encoding", "chunked")], Kind::Stream(&["x"])),
        (GET, 200, &[("trailer", "x-t, content-type")], Kind::Trailers("t")),
        (TE, 200, &[("trailer", "x-t, content-type")], Kind::Trailers("t")),
        (TE, 200, &[("trailer", "content-type")], Kind::Trailers("t")),
        (TE, 200, &[], Kind::Trailers("t")),
        (GET, 100, &[("x-a", "1")], Kind::Full("no")),
    ];
    // hyper's answers all at once: each waits out a keep-alive.
    let hypers = cases
        .iter()
        .map(|(req, status, headers, kind)| by_hyper(req, *status, headers, *kind));
    let hypers = futures_util::future::join_all(hypers).await;
    for (i, ((req, status, headers, kind), want)) in cases.iter().zip(hypers).enumerate() {
        let got = by_us(req, *status, headers, *kind).await;
        assert_eq!(got, want, "case {i}: {req:?} {status} {headers:?} {kind:?}");
    }
}

fn parse(s: &str) -> (Parsed, BytesMut) {
    let mut buf = BytesMut::from(s);
    (
        head::parse(&mut buf, 9 << 10, &mut Vec::new(), &mut Default::default()),
        buf,
    )
}

#[test]
fn heads_with_a_body_not_here_or_an_upgrade_are_hypers() {
    for s in [
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +0\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let (p, buf) = parse(s);
        assert_eq!(p.err(), Some(NotYet::Hyper), "{s:?}");
        assert_eq!(&buf[..], s.as_bytes(), "the bytes stay for hyper");
    }
}

#[test]
fn a_small_body_that_came_with_its_head_is_read_with_it() {
    let (p, buf) = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 005\r\n\r\nhelloGET");
    assert_eq!(p.unwrap().body.as_deref(), Some(&b"hello"[..]));
    assert_eq!(&buf[..], b"GET");
    let big = 64 * 1024 + 1;
    let s = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {big}\r\n\r\n{}",
        "a".repeat(big)
    );
    let mut buf = BytesMut::from(s.as_str());
    let p = head::parse(&mut buf, 9 << 10, &mut Vec::new(), &mut Default::default());
    assert_eq!(p.err(), Some(NotYet::Hyper), "past the body limit");
    assert_eq!(buf.len(), s.len());
}

#[test]
fn a_head_is_taken_off_the_buffer_with_what_follows_kept() {
    let (p, buf) = parse(
        "GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\nGET /next",
    );
    let r = p.unwrap();
    assert!(r.keep_alive);
    assert_eq!(r.parts.uri, "/a?b=c");
    assert_eq!(r.parts.version, http::Version::HTTP_11);
    let a: Vec<_> = r.parts.headers.get_all("x-a").iter().collect();
    assert_eq!(a, ["1", "2"]);
    assert_eq!(r.parts.headers["content-length"], "0");
    assert_eq!(r.body, None);
    assert_eq!(&buf[..], b"GET /next");
    let (p, _) = parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n");
    assert!(!p.unwrap().keep_alive);
}

#[test]
fn an_unfinished_head_waits_until_it_is_too_long_for_hyper() {
    let (p, _) = parse("GET / HTTP/1.1\r\nHost: x\r\n");
    assert_eq!(p.err(), Some(NotYet::Partial));
    let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(9 << 10));
    assert_eq!(parse(&long).0.err(), Some(NotYet::Hyper));
    let whole_but_long = format!("{long}\r\n\r\n");
    assert_eq!(parse(&whole_but_long).0.err(), Some(NotYet::Hyper));
    let many: String = (0..200).map(|i| format!("X-{i}: 1\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert_eq!(
        parse(&many).0.err(),
        Some(NotYet::Hyper),
        "past our header array"
    );
}

/// A body that ends short of its length: what was written goes out and
/// the connection ends. Here only do we differ from hyper, which drops
/// the whole unflushed answer; Go sends what it has, as we do.
#[tokio::test]
async fn a_body_short_of_its_length_is_sent_and_the_connection_ends() {
    let r = response(200, &[("content-length", "7")], Kind::Stream(&["hello"]));
    let x = Exchange {
        head_request: false,
        keep_alive: true,
        te_trailers: false,
    };
    let (mut wire, mut out) = (Vec::new(), Vec::new());
    let sent = super::write::response(&mut wire, &mut out, r, x).await;
    assert!(sent.is_err());
    assert_eq!(
        undated(&wire),
        "HTTP/1.1 200 OK\r\ncontent-length: 7\r\ndate: D\r\n\r\nhello"
    );
}

/// What we write for `request` answered by a response whose fields `raw`
/// are kept as they came (with one `content-length` of `length`), and
/// `added` after them in its map.
async fn by_us_raw(
    request: &str,
    status: u16,
    raw: &[(&str, &str)],
    length: u64,
    added: &[(&str, &str)],
    k: Kind,
) -> String {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    for (n, v) in raw {
        head.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    let end = head.len();
    head.extend_from_slice(b"\r\n");
    let mut fields = crate::http::raw_fields::RawFields::new(Bytes::from(head), 17..end).unwrap();
    fields.set_length(length);
    if raw.iter().any(|(n, _)| *n == "date") {
        fields.set_date();
    }
    let mut r = response(status, &[], k);
    for (n, v) in added {
        let name = http::HeaderName::from_bytes(n.as_bytes()).unwrap();
        r.headers_mut().append(name, v.parse().unwrap());
    }
    r.extensions_mut().insert(fields);
    let mut buf = BytesMut::from(request);
    let req = head::parse(&mut buf, 16 << 10, &mut Vec::new(), &mut Default::default()).unwrap();
    let x = Exchange {
        head_request: req.parts.method == http::Method::HEAD,
        keep_alive: req.keep_alive,
        te_trailers: false,
    };
    let (mut wire, mut out) = (Vec::new(), Vec::new());
    let _ = super::write::response(&mut wire, &mut out, r, x).await;
    undated(&wire)
}

/// Header fields of a test case.
type Pairs = &'static [(&'static str, &'static str)];

/// Fields kept as they came are written as the same fields in the map
/// would be, whether they go as they are (their length is the body's) or
/// join the map first (a HEAD, a 204 or 304, another length, a stream).
#[tokio::test]
async fn fields_kept_as_they_came_write_what_the_map_would() {
    const CL5: Pairs = &[("server", "up"), ("content-length", "5"), ("x-a", "1")];
    const DATED: Pairs = &[
        ("date", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ("content-length", "5"),
    ];
    const CL0: Pairs = &[("content-length", "0"), ("x-a", "1")];
    const VIA: Pairs = &[("via", "1.1 bellhop")];
    // What is added after them: never a name among them.
    const MORE: Pairs = &[("via", "1.1 b"), ("connection", "close"), ("alt-svc", "h3")];
    #[rustfmt::skip]
    let cases: &[(&str, u16, Pairs, u64, Pairs, Kind)] = &[
        (GET, 200, CL5, 5, VIA, Kind::Full("hello")),
        (GET, 200, CL5, 5, MORE, Kind::Full("hello")),
        (GET, 404, DATED, 5, &[], Kind::Full("hello")),
        (CLOSE, 200, CL5, 5, VIA, Kind::Full("hello")),
        (GET, 200, CL0, 0, VIA, Kind::Empty),
        (GET, 200, CL5, 5, VIA, Kind::Stream(&["hello"])),
        (GET, 200, CL5, 5, VIA, Kind::Full("hell")),
        (HEAD, 200, CL5, 5, VIA, Kind::Empty),
        (GET, 204, CL0, 0, VIA, Kind::Empty),
        (GET, 304, CL5, 5, VIA, Kind::Empty),
        (GET, 100, CL5, 5, VIA, Kind::Full("hello")),
    ];
    for (i, (req, status, raw, length, added, kind)) in cases.iter().enumerate() {
        let all: &'static [(&str, &str)] = Box::leak([*raw, *added].concat().into_boxed_slice());
        let want = by_us(req, *status, all, *kind).await;
        let got = by_us_raw(req, *status, raw, *length, added, *kind).await;
        assert_eq!(
            got, want,
            "case {i}: {req:?} {status} {raw:?} {added:?} {kind:?}"
        );
    }
    // The lines go as they came (names in their case) when they frame
    // the body, and through the map otherwise.
    const CASED: Pairs = &[("Server", "up"), ("Content-Length", "5")];
    let got = by_us_raw(GET, 200, CASED, 5, VIA, Kind::Full("hello")).await;
    let want = "Server: up\r\nContent-Length: 5\r\nvia: 1.1 bellhop\r\ndate: D\r\n\r\nhello";
    assert_eq!(got, format!("HTTP/1.1 200 OK\r\n{want}"));
    let got = by_us_raw(HEAD, 200, CASED, 5, VIA, Kind::Empty).await;
    assert!(got.contains("\r\nserver: up\r\n"), "{got}");
}
