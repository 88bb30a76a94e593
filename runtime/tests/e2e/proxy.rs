//! reverse_proxy against a real upstream (another runtime on port 0).

use crate::support::*;
use serde_json::json;

fn upstream(name: &str) -> TestServer {
    start_routes(json!([{"handle": [respond(&format!(
        "{name} {{http.request.method}} {{http.request.uri}} host={{http.request.host}} \
         xff={{http.request.header.X-Forwarded-For}} proto={{http.request.header.X-Forwarded-Proto}} \
         xfh={{http.request.header.X-Forwarded-Host}} body={{http.request.header.Content-Length}}"
    ))]}]))
}

#[tokio::test]
async fn proxies_with_forwarded_headers_round_robin() {
    let (a, b) = (upstream("A"), upstream("B"));
    let s = start_routes(json!([{"handle": [{"handler": "reverse_proxy",
        "upstreams": [{"dial": a.addr.to_string()}, {"dial": b.addr.to_string()}],
        "load_balancing": {"selection_policy": {"policy": "round_robin"}},
        "headers": {"response": {"set": {"X-Via": ["bellhop"]}}}
    }]}]));
    let r1 = get_with(
        s.addr,
        "/p?q=1",
        &[("Host", "site.test"), ("X-Forwarded-For", "6.6.6.6")],
    )
    .await;
    let r2 = get_with(s.addr, "/p?q=1", &[("Host", "site.test")]).await;
    assert_eq!(r1.header("x-via"), "bellhop");
    let bodies = [r1.body, r2.body];
    assert!(
        bodies.iter().any(|b| b.starts_with("A ")) && bodies.iter().any(|b| b.starts_with("B ")),
        "{bodies:?}"
    );
    for body in &bodies {
        assert!(
            body.contains("GET /p?q=1 host=site.test xff=127.0.0.1 proto=http xfh=site.test"),
            "spoofed X-Forwarded-For replaced: {body}"
        );
    }
}

#[tokio::test]
async fn streams_request_bodies_over_h2c_too() {
    let a = upstream("A");
    let s = start(config_with(
        json!({"protocols": ["h1", "h2c"], "routes": [{"handle": [
            {"handler": "reverse_proxy", "upstreams": [{"dial": a.addr.to_string()}]}
        ]}]}),
    ));
    let r = send(
        Proto::H2c,
        "POST",
        s.addr,
        "/up",
        &[("Content-Length", "5")],
        "hello",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.starts_with("A POST /up") && r.body.ends_with("body=5"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn dead_upstream_is_502() {
    let (_held, dead) = refusing_addr();
    let s = start_routes(
        json!([{"handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": dead.to_string()}]}]}]),
    );
    assert_eq!(get(s.addr, "/").await.status, 502);
}

#[tokio::test]
async fn slow_upstream_hits_response_header_timeout_504() {
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = slow.local_addr().unwrap();
    tokio::spawn(async move {
        let (_sock, _) = slow.accept().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    });
    let s = start_routes(json!([{"handle": [{"handler": "reverse_proxy",
        "upstreams": [{"dial": addr.to_string()}],
        "transport": {"protocol": "http", "response_header_timeout": "200ms"}}]}]));
    assert_eq!(get(s.addr, "/").await.status, 504);
}

#[tokio::test]
async fn request_body_cap_applies_to_proxied_streams() {
    let a = upstream("A");
    let s = start_routes(json!([{"handle": [
        {"handler": "request_body", "max_size": 8},
        {"handler": "reverse_proxy", "upstreams": [{"dial": a.addr.to_string()}]}
    ]}]));
    // Chunked (no Content-Length): the cap bites while streaming.
    let req = req("POST", s.addr, "/").body(Chunks(4)).unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 413);
}

/// A body of N ten-byte chunks, without a known length.
struct Chunks(usize);

impl http_body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(None);
        }
        self.0 -= 1;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from_static(
            b"0123456789",
        )))))
    }
}
