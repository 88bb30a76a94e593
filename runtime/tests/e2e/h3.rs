//! HTTP/3 end to end, with a real quinn + h3 client trusting a test CA:
//! GET and POST through the same routes as HTTP/1.1 and HTTP/2, a
//! streaming response read piece by piece, trailers, `max_header_bytes`,
//! `Alt-Svc` on HTTP/1.1 and HTTP/2, `protocols h1 h2` binding no UDP, the
//! UDP socket kept across a reload, a panicking handler and a flood of UDP
//! garbage that leave HTTP/1.1 and HTTP/3 answering.

use crate::h3_support::*;
use crate::proxy_support::{backend, RespBody};
use crate::tls_support::TestCa;
use bellhop_runtime::error::Error;
use bellhop_runtime::http::{Cx, Handler, Step};
use bellhop_runtime::registry::{Module, Provision, Registry};
use bellhop_runtime::Runtime;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::sync::mpsc;

fn respond(body: &str) -> Value {
    json!({"handler": "static_response", "body": body})
}

fn start_h3(routes: Value, extra: Value) -> (Runtime, SocketAddr, TestCa, tempfile::TempDir) {
    start_with(Runtime::new(), routes, extra)
}

fn start_with(
    rt: Runtime,
    routes: Value,
    extra: Value,
) -> (Runtime, SocketAddr, TestCa, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("H3 Test CA");
    let cfg = h3_config(dir.path(), &ca, routes, extra);
    rt.load(cfg.to_string().as_bytes()).expect("config loads");
    let addr = rt.listen_addrs()[0];
    (rt, addr, ca, dir)
}

/// An upstream echoing the request body, with a trailer.
async fn echo_backend() -> crate::proxy_support::Backend {
    backend(|req| async move {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let frames: Vec<Result<_, std::io::Error>> = vec![
            Ok(http_body::Frame::data(body)),
            Ok(http_body::Frame::trailers({
                let mut t = http::HeaderMap::new();
                t.insert("x-checksum", "abc".parse().unwrap());
                t
            })),
        ];
        let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
        http::Response::builder()
            .header("trailer", "x-checksum")
            .body(BodyExt::boxed(body))
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn h3_get_and_post_go_through_the_routes() {
    let echo = echo_backend().await;
    let routes = json!([
        {"match": [{"path": ["/echo"]}], "handle": [
            {"handler": "reverse_proxy", "upstreams": [{"dial": echo.addr.to_string()}]}
        ], "terminal": true},
        {"match": [{"protocol": "http/3"}], "handle": [respond("three {http.request.proto} {http.request.scheme}")], "terminal": true},
        {"handle": [respond("other {http.request.proto}")]}
    ]);
    let (_rt, addr, ca, _dir) = start_h3(routes, json!({}));
    let mut c = h3_connect(addr, &ca).await.unwrap();
    let r = c.request("GET", "/", &[], b"").await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "three HTTP/3.0 https"));
    assert!(r.headers.get("alt-svc").is_none(), "no Alt-Svc over h3");
    let body = "x".repeat(100_000);
    let r = c
        .request("POST", "/echo", &[("te", "trailers")], body.as_bytes())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len());
    assert_eq!(r.body, body);
    let trailers = r.trailers.expect("trailers reach the h3 client");
    assert_eq!(trailers["x-checksum"], "abc");
    // The same routes over HTTP/1.1 do not match the protocol matcher.
    let tls = crate::tls_support::client(&[&ca.pem], None, &[b"http/1.1"]);
    let r = crate::tls_support::get_tls(tls, addr, "a.test", "/").await;
    assert_eq!(r.unwrap().body, "other HTTP/1.1");
}

#[tokio::test]
async fn h3_streams_a_response_piece_by_piece() {
    let (tx, rx) = mpsc::unbounded_channel::<&'static str>();
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(Some(rx)));
    let b = backend(move |_| {
        let rx = rx.clone();
        async move {
            let rx = rx.lock().await.take().expect("one stream");
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                let s = rx.recv().await?;
                let frame = http_body::Frame::data(Bytes::from_static(s.as_bytes()));
                Some((Ok::<_, std::io::Error>(frame), rx))
            });
            let body: RespBody = BodyExt::boxed(http_body_util::StreamBody::new(stream));
            http::Response::new(body)
        }
    })
    .await;
    let routes = json!([{"handle": [
        {"handler": "reverse_proxy", "flush_interval": -1, "upstreams": [{"dial": b.addr.to_string()}]}
    ]}]);
    let (_rt, addr, ca, _dir) = start_h3(routes, json!({}));
    let mut c = h3_connect(addr, &ca).await.unwrap();
    tx.send("first ").unwrap();
    let mut s = c.start("GET", "/", &[], b"").await.unwrap();
    let head = tokio::time::timeout(LIMIT, s.recv_response()).await;
    assert_eq!(head.unwrap().unwrap().status(), 200);
    let chunk = |c: Option<_>| -> String {
        let mut c: Box<dyn bytes::Buf> = Box::new(c.expect("a chunk"));
        String::from_utf8(c.copy_to_bytes(c.remaining()).to_vec()).unwrap()
    };
    let first = tokio::time::timeout(LIMIT, s.recv_data()).await;
    assert_eq!(
        chunk(first.expect("first piece arrives alone").unwrap()),
        "first "
    );
    tx.send("second").unwrap();
    let second = tokio::time::timeout(LIMIT, s.recv_data()).await;
    assert_eq!(chunk(second.unwrap().unwrap()), "second");
    drop(tx);
    let end = tokio::time::timeout(LIMIT, s.recv_data()).await;
    assert!(end.unwrap().unwrap().is_none(), "the stream ends");
}

#[tokio::test]
async fn alt_svc_is_advertised_on_http1_and_http2() {
    let (_rt, addr, ca, _dir) = start_h3(json!([{"handle": [respond("hi")]}]), json!({}));
    let want = format!("h3=\":{}\"; ma=2592000", addr.port());
    for (alpn, version) in [
        (&b"http/1.1"[..], http::Version::HTTP_11),
        (&b"h2"[..], http::Version::HTTP_2),
    ] {
        let (v, headers) = https_head(addr, &ca, alpn).await.unwrap();
        assert_eq!(v, version);
        assert_eq!(headers["alt-svc"], want.as_str(), "{v:?}");
    }
}

#[tokio::test]
async fn protocols_h1_h2_bind_no_udp_socket() {
    // The default (h1 h2 h3) holds the UDP port...
    let (_rt, addr, ca, _dir) = start_h3(json!([{"handle": [respond("hi")]}]), json!({}));
    assert!(
        std::net::UdpSocket::bind(addr).is_err(),
        "h3 holds UDP {addr}"
    );
    let (_, headers) = https_head(addr, &ca, b"http/1.1").await.unwrap();
    assert!(headers.contains_key("alt-svc"));
    // ...`protocols h1 h2` leaves it free and advertises nothing.
    let (_rt2, addr2, ca2, _dir2) = start_h3(
        json!([{"handle": [respond("hi")]}]),
        json!({"protocols": ["h1", "h2"]}),
    );
    let (_, headers) = https_head(addr2, &ca2, b"http/1.1").await.unwrap();
    assert!(!headers.contains_key("alt-svc"), "{headers:?}");
    std::net::UdpSocket::bind(addr2).expect("no UDP socket bound for h1 h2");
}

#[tokio::test]
async fn reload_keeps_the_udp_socket_and_a_failed_reload_releases_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("H3 Test CA");
    let rt = Runtime::new();
    let fixed = |body: &str, port: u16| {
        let mut cfg = h3_config(
            dir.path(),
            &ca,
            json!([{"handle": [respond(body)]}]),
            json!({}),
        );
        cfg["apps"]["http"]["servers"]["srv0"]["listen"] = json!([format!("127.0.0.1:{port}")]);
        cfg
    };
    let first = h3_config(
        dir.path(),
        &ca,
        json!([{"handle": [respond("one")]}]),
        json!({}),
    );
    rt.load(first.to_string().as_bytes()).unwrap();
    let port = rt.listen_addrs()[0].port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = h3_connect(addr, &ca).await.unwrap();
    assert_eq!(c.request("GET", "/", &[], b"").await.unwrap().body, "one");
    rt.load(fixed("two", port).to_string().as_bytes()).unwrap();
    // The same QUIC connection goes on, now on the new config.
    assert_eq!(c.request("GET", "/", &[], b"").await.unwrap().body, "two");
    // A reload that fails (its second server's TCP port is taken) keeps
    // nothing it bound: the first server's new UDP port stays free.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free_port = free.local_addr().unwrap().port();
    drop(free);
    let mut bad = fixed("three", free_port);
    bad["apps"]["http"]["servers"]["srv1"] = json!({
        "listen": [taken.local_addr().unwrap().to_string()],
        "routes": [],
    });
    assert!(rt.load(bad.to_string().as_bytes()).is_err());
    std::net::UdpSocket::bind(("127.0.0.1", free_port)).expect("UDP released");
    assert_eq!(c.request("GET", "/", &[], b"").await.unwrap().body, "two");
}

#[tokio::test]
async fn max_header_bytes_applies_to_h3() {
    let (_rt, addr, ca, _dir) = start_h3(
        json!([{"handle": [respond("fine")]}]),
        json!({"max_header_bytes": 2048}),
    );
    let mut c = h3_connect(addr, &ca).await.unwrap();
    let small = "s".repeat(100);
    let r = c.request("GET", "/", &[("x-small", &small)], b"").await;
    assert_eq!(r.unwrap().body, "fine");
    let big = "b".repeat(8000);
    // The server's SETTINGS carry the limit (h3's own default is
    // unbounded): the client, which has them after the first response,
    // refuses to send the oversized head.
    let e = c
        .request("GET", "/", &[("x-big", &big)], b"")
        .await
        .unwrap_err();
    assert!(e.contains("2048"), "{e}");
    let mut c = h3_connect(addr, &ca).await.unwrap();
    assert_eq!(c.request("GET", "/", &[], b"").await.unwrap().body, "fine");
}

#[tokio::test]
async fn stop_closes_h3_connections_with_no_error_and_frees_the_port() {
    let (rt, addr, ca, _dir) = start_h3(json!([{"handle": [respond("fine")]}]), json!({}));
    let mut c = h3_connect(addr, &ca).await.unwrap();
    assert_eq!(c.request("GET", "/", &[], b"").await.unwrap().body, "fine");
    let grace = std::time::Duration::from_millis(300);
    tokio::time::timeout(LIMIT, rt.stop_with_grace(Some(grace)))
        .await
        .expect("stop returns within the grace period");
    assert_eq!(rt.open_connections(), 0);
    let reason = tokio::time::timeout(LIMIT, c.conn.closed()).await.unwrap();
    match reason {
        quinn::ConnectionError::ApplicationClosed(a) => {
            assert_eq!(a.error_code, quinn::VarInt::from_u32(0x100), "H3_NO_ERROR")
        }
        other => panic!("closed by {other:?}"),
    }
    // The endpoint lets go of the UDP port once its connections are gone.
    let deadline = std::time::Instant::now() + LIMIT;
    while std::net::UdpSocket::bind(addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "UDP {addr} still bound"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

struct Boom;

impl Handler for Boom {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        if cx.path() == "/boom" {
            panic!("boom over h3");
        }
        Step::Next
    }
}

fn boom(
    _: &serde_json::value::RawValue,
    _: &mut Provision<'_>,
    _: &str,
) -> Result<Box<dyn Handler>, Error> {
    Ok(Box::new(Boom))
}

#[tokio::test]
async fn h3_handler_panic_answers_500_and_serving_goes_on() {
    let mut reg = Registry::standard();
    reg.register("http.handlers.boom", Module::Handler(boom));
    let routes = json!([{"handle": [{"handler": "boom"}, respond("fine")]}]);
    let (_rt, addr, ca, _dir) = start_with(Runtime::with_registry(reg), routes, json!({}));
    let mut c = h3_connect(addr, &ca).await.unwrap();
    assert_eq!(
        c.request("GET", "/boom", &[], b"").await.unwrap().status,
        500
    );
    // The same connection, a new one, and HTTP/1.1 all still answer.
    assert_eq!(
        c.request("GET", "/ok", &[], b"").await.unwrap().body,
        "fine"
    );
    let mut c2 = h3_connect(addr, &ca).await.unwrap();
    assert_eq!(c2.request("GET", "/", &[], b"").await.unwrap().body, "fine");
    let (v, _) = https_head(addr, &ca, b"http/1.1").await.unwrap();
    assert_eq!(v, http::Version::HTTP_11);
}

/// A QUIC v1 long-header Initial with random content, `len` bytes.
fn fake_initial(noise: &mut Noise, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len.max(8)];
    noise.fill(&mut p);
    p[0] = 0xc0 | (p[0] & 0x0f);
    p[1..5].copy_from_slice(&1u32.to_be_bytes());
    p[5] = 8;
    p
}

#[tokio::test]
async fn udp_garbage_leaves_http1_and_h3_answering() {
    let (_rt, addr, ca, _dir) = start_h3(json!([{"handle": [respond("fine")]}]), json!({}));
    let mut before = h3_connect(addr, &ca).await.unwrap();
    assert_eq!(
        before.request("GET", "/", &[], b"").await.unwrap().body,
        "fine"
    );
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut noise = Noise::new(0x5eed_1234);
    for i in 0..4000 {
        let len = 1 + (noise.next() % 1500) as usize;
        let packet = match i % 4 {
            // Short Initials (below QUIC's 1200-byte minimum).
            0 => fake_initial(&mut noise, len.min(1199)),
            // Full-size Initials that cannot decrypt.
            1 => fake_initial(&mut noise, 1200 + len % 200),
            _ => {
                let mut p = vec![0u8; len];
                noise.fill(&mut p);
                p
            }
        };
        sock.send_to(&packet, addr).await.unwrap();
        if i % 500 == 0 {
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(
        before.request("GET", "/", &[], b"").await.unwrap().body,
        "fine"
    );
    let mut after = h3_connect(addr, &ca).await.unwrap();
    assert_eq!(
        after.request("GET", "/", &[], b"").await.unwrap().body,
        "fine"
    );
    let (v, _) = https_head(addr, &ca, b"h2").await.unwrap();
    assert_eq!(v, http::Version::HTTP_2);
}
