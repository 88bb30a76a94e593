//! reverse_proxy's HTTP transport against real backends: TLS with a test
//! CA (`server_name`, `insecure_skip_verify`), HTTP/2 by ALPN and h2c,
//! the idle pool caps, gzip `compression`, `expect_continue_timeout` and
//! trailers.

use crate::proxy_support::*;
use crate::support::*;
use http_body_util::BodyExt;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn version_backend(cert: &TestCert) -> Backend {
    tls_backend(cert, |r| async move { ok(format!("{:?}", r.version())) }).await
}

fn pem_file(cert: &TestCert) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, cert.ca_pem.as_bytes()).unwrap();
    f
}

#[tokio::test]
async fn tls_upstream_trusts_the_configured_ca_and_speaks_h2_by_alpn() {
    let cert = test_cert(&["127.0.0.1", "localhost"]);
    let b = version_backend(&cert).await;
    let ca = pem_file(&cert);
    let tls = json!({"root_ca_pem_files": [ca.path()]});
    let s = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "tls": tls}}),
    ));
    let r = get(s.addr, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "HTTP/2.0"));
    let h1 = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "tls": tls, "versions": ["1.1"]}}),
    ));
    assert_eq!(get(h1.addr, "/").await.body, "HTTP/1.1");
    // Without the CA the system roots do not vouch for it.
    let untrusted = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "tls": {}}}),
    ));
    assert_eq!(get(untrusted.addr, "/").await.status, 502);
}

#[tokio::test]
async fn server_name_and_insecure_skip_verify() {
    let cert = test_cert(&["backend.test"]);
    let b = version_backend(&cert).await;
    let ca = pem_file(&cert);
    let named = |name: &str| {
        bellhop(proxy(
            &[b.addr],
            json!({"transport": {"protocol": "http",
                "tls": {"root_ca_pem_files": [ca.path()], "server_name": name}}}),
        ))
    };
    assert_eq!(get(named("backend.test").addr, "/").await.status, 200);
    assert_eq!(get(named("other.test").addr, "/").await.status, 502);
    let insecure = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "tls": {"insecure_skip_verify": true}}}),
    ));
    assert_eq!(get(insecure.addr, "/").await.status, 200);
}

#[tokio::test]
async fn h2c_upstream_and_keep_alive_reuse() {
    let b = backend(|r| async move { ok(format!("{:?}", r.version())) }).await;
    let h2c = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "versions": ["h2c"]}}),
    ));
    for _ in 0..3 {
        assert_eq!(get(h2c.addr, "/").await.body, "HTTP/2.0");
    }
    assert_eq!(b.conns(), 1, "one h2c connection carries every request");
    let h1 = bellhop(proxy(&[b.addr], json!({})));
    // HTTP/1.1 connections are kept per serving thread (each client
    // connection here lands on the next one): once every thread has one,
    // no request opens another.
    for _ in 0..4 {
        assert_eq!(get(h1.addr, "/").await.body, "HTTP/1.1");
    }
    let warmed = b.conns();
    for _ in 0..8 {
        assert_eq!(get(h1.addr, "/").await.body, "HTTP/1.1");
    }
    assert_eq!(b.conns(), warmed, "the HTTP/1.1 connections are reused");
}

/// `n` requests at once through `addr` (the backend holds each a while,
/// so all are in flight together).
async fn wave(addr: std::net::SocketAddr, n: usize) {
    let all = (0..n).map(|_| get(addr, "/"));
    for r in futures_util::future::join_all(all).await {
        assert_eq!(r.status, 200);
    }
}

#[tokio::test]
async fn idle_connections_default_per_field_and_outnumber_caddys_32() {
    let b = backend(|_| async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        ok("slow")
    })
    .await;
    // A keep_alive object naming only the probe interval: the other
    // fields still take their defaults (Caddy 2.11), not Go's (2 idle
    // connections per host, which closed 38 of 40 here).
    let s = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "keep_alive": {"probe_interval": "10s"}}}),
    ));
    wave(s.addr, 40).await;
    let first = b.conns();
    assert!(first >= 35, "{first} connections for 40 requests in flight");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // All kept: a second wave opens none (with Caddy's 32, it opened 8).
    wave(s.addr, 40).await;
    assert_eq!(b.conns(), first, "the second wave reuses every connection");
    // An explicit cap is honoured.
    let c = backend(|_| async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        ok("slow")
    })
    .await;
    let capped = bellhop(proxy(
        &[c.addr],
        json!({"transport": {"protocol": "http", "keep_alive": {"max_idle_conns_per_host": 4}}}),
    ));
    wave(capped.addr, 20).await;
    let opened = c.conns();
    tokio::time::sleep(Duration::from_millis(50)).await;
    wave(capped.addr, 20).await;
    assert!(
        c.conns() >= opened + 14,
        "only 4 of {opened} kept: {}",
        c.conns()
    );
}

#[tokio::test]
async fn max_idle_conns_caps_the_pool_across_hosts() {
    let (a, b) = (named("A").await, named("B").await);
    let s = bellhop(proxy(
        &[a.addr, b.addr],
        json!({"load_balancing": {"selection_policy": {"policy": "round_robin"}},
               "transport": {"protocol": "http", "keep_alive": {"max_idle_conns": 1}}}),
    ));
    for _ in 0..6 {
        get(s.addr, "/").await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Whichever host went first keeps the one idle slot; the other's
    // connection is closed after every request.
    let mut counts = [a.conns(), b.conns()];
    counts.sort();
    assert_eq!(counts, [1, 3], "A={} B={}", a.conns(), b.conns());
}

async fn gzip_backend() -> Backend {
    backend(|r| async move {
        let ae = r
            .headers()
            .get("accept-encoding")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        if !ae.contains("gzip") {
            return http::Response::builder()
                .header("x-ae", ae)
                .body(text("plain"))
                .unwrap();
        }
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, b"inflated by bellhop").unwrap();
        let gz = enc.finish().unwrap();
        http::Response::builder()
            .header("content-encoding", "gzip")
            .header("x-ae", ae)
            .body(
                http_body_util::Full::new(bytes::Bytes::from(gz))
                    .map_err(|e| match e {})
                    .boxed(),
            )
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn compression_asks_for_gzip_and_decodes_it_for_the_client() {
    let b = gzip_backend().await;
    let s = bellhop(proxy(&[b.addr], json!({})));
    let r = get(s.addr, "/").await;
    assert_eq!(r.body, "inflated by bellhop");
    assert_eq!(
        (r.header("content-encoding"), r.header("x-ae")),
        ("", "gzip")
    );
    // A client that names its encodings gets the upstream's answer as is.
    let r = get_with(s.addr, "/", &[("Accept-Encoding", "identity")]).await;
    assert_eq!((r.body.as_str(), r.header("x-ae")), ("plain", "identity"));
    let off = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "compression": false}}),
    ));
    let r = get(off.addr, "/").await;
    assert_eq!((r.body.as_str(), r.header("x-ae")), ("plain", ""));
}

async fn post_expecting(addr: std::net::SocketAddr) -> (Resp, Duration) {
    let started = Instant::now();
    let r = send(
        Proto::H1,
        "POST",
        addr,
        "/",
        &[("Expect", "100-continue")],
        "payload",
    )
    .await;
    (r, started.elapsed())
}

#[tokio::test]
async fn expect_continue_waits_for_100_or_the_timeout() {
    let echo = backend(|r| async move {
        let body = r.into_body().collect().await.unwrap().to_bytes();
        ok(String::from_utf8_lossy(&body).into_owned())
    })
    .await;
    let s = bellhop(proxy(
        &[echo.addr],
        json!({"transport": {"protocol": "http", "expect_continue_timeout": "5s"}}),
    ));
    let (r, took) = post_expecting(s.addr).await;
    assert_eq!(r.body, "payload");
    assert!(
        took < Duration::from_secs(2),
        "sent on 100 Continue: {took:?}"
    );
    // A backend that never says 100 gets the body after the timeout.
    let (silent, _t) = raw_backend(|mut sock| async move {
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        let start = Instant::now();
        while !got.ends_with(b"payload") {
            let n = sock.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let ms = start.elapsed().as_millis();
        let body = format!("{ms}");
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(resp.as_bytes()).await;
    })
    .await;
    let s = bellhop(proxy(
        &[silent],
        json!({"transport": {"protocol": "http", "expect_continue_timeout": "300ms"}}),
    ));
    let (r, _) = post_expecting(s.addr).await;
    let waited: u64 = r.body.parse().unwrap();
    assert!(
        waited >= 250,
        "body held back until the timeout: {waited}ms"
    );
}

#[tokio::test]
async fn response_trailers_reach_the_client() {
    let b = backend(|_| async move {
        let frames: Vec<Result<_, std::io::Error>> = vec![
            Ok(http_body::Frame::data(bytes::Bytes::from_static(b"body"))),
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
    .await;
    let s = bellhop(proxy(&[b.addr], json!({})));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let resp = client
        .request(
            req("GET", s.addr, "/")
                .header("te", "trailers")
                .body(Default::default())
                .unwrap(),
        )
        .await
        .unwrap();
    let collected = resp.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().expect("trailers forwarded");
    assert_eq!(trailers["x-checksum"], "abc");
    assert_eq!(&collected.to_bytes()[..], b"body");
}

/// With a TLS transport the upstream gets its own address as `Host` (Caddy's
/// httptransport_test.go TestHTTPTransport_RequestHeaderOps_TLS: `Host` set
/// to `{http.reverse_proxy.upstream.hostport}`), unless `header_up` sets
/// one; over plain HTTP the client's `Host` passes.
#[tokio::test]
async fn a_tls_upstream_gets_its_own_address_as_host() {
    let cert = test_cert(&["127.0.0.1", "localhost"]);
    let host = |r: http::Request<hyper::body::Incoming>| async move {
        let h = r
            .headers()
            .get("host")
            .map(|v| v.to_str().unwrap().to_string());
        ok(h.or_else(|| r.uri().authority().map(|a| a.to_string()))
            .unwrap_or_default())
    };
    let b = tls_backend(&cert, host).await;
    let ca = pem_file(&cert);
    let tls = json!({"root_ca_pem_files": [ca.path()]});
    let s = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "tls": tls}}),
    ));
    assert_eq!(get(s.addr, "/").await.body, b.addr.to_string());
    let s = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "tls": tls},
               "headers": {"request": {"set": {"Host": ["chosen.example"]}}}}),
    ));
    assert_eq!(get(s.addr, "/").await.body, "chosen.example");
    let plain = backend(host).await;
    let s = bellhop(proxy(&[plain.addr], json!({})));
    assert_eq!(get(s.addr, "/").await.body, s.addr.to_string());
}

/// `max_response_header_size` as Go's `MaxResponseHeaderBytes`: a response
/// head past it is refused (502), also under 8 KiB and when the head
/// arrives in one piece; the path of the request picks the head's size.
#[tokio::test]
async fn max_response_header_size_is_exact() {
    let (up, _task) = raw_backend(|mut c| async move {
        while let Some((head, _)) = read_head(&mut c).await {
            let pad = if head.starts_with(b"GET /big") { 80 } else { 0 };
            let answer = format!(
                "HTTP/1.1 200 OK\r\nx-pad: {}\r\ncontent-length: 2\r\n\r\nok",
                "p".repeat(pad)
            );
            if c.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    let s = bellhop(proxy(
        &[up],
        json!({"transport": {"protocol": "http", "max_response_header_size": 100}}),
    ));
    let small = get(s.addr, "/small").await;
    assert_eq!((small.status, small.body.as_str()), (200, "ok"));
    assert_eq!(get(s.addr, "/big").await.status, 502);
}
