//! reverse_proxy streaming against real backends: WebSocket tunnels both
//! ways, server-sent events arriving event by event, `flush_interval`
//! batches and `-1` (the round trip outlives the client), `read_timeout`
//! and `response_header_timeout` (504), and a backend dying mid-response.

use crate::proxy_support::*;
use crate::support::*;
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const LIMIT: Duration = Duration::from_secs(3);

#[tokio::test]
async fn websocket_is_tunnelled_both_ways() {
    let (ws_addr, _t) = raw_backend(|sock| async move {
        let mut ws = tokio_tungstenite::accept_async(sock).await.unwrap();
        ws.send(Message::text("welcome")).await.unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
            let reply = match m {
                Message::Text(t) => Message::text(format!("echo {}", t.as_str())),
                other => other,
            };
            ws.send(reply).await.unwrap();
        }
    })
    .await;
    let s = bellhop(proxy(&[ws_addr], json!({})));
    let (mut ws, resp) = tokio_tungstenite::connect_async(format!("ws://{}/chat", s.addr))
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    let next = |m: Option<Result<Message, _>>| m.unwrap().unwrap();
    assert_eq!(next(ws.next().await), Message::text("welcome"));
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(next(ws.next().await), Message::text("echo hi"));
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(next(ws.next().await), Message::binary(vec![1u8, 2, 3]));
    ws.close(None).await.unwrap();
}

/// A backend streaming whatever the test sends on the returned channel.
async fn streaming_backend(
    content_type: &'static str,
    len: Option<usize>,
) -> (Backend, mpsc::UnboundedSender<&'static str>) {
    let (tx, rx) = mpsc::unbounded_channel::<&'static str>();
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(Some(rx)));
    let b = backend(move |_| {
        let rx = rx.clone();
        async move {
            let rx = rx.lock().await.take().expect("one stream");
            let stream = tokio_stream_from(rx);
            let mut resp = http::Response::builder().header("content-type", content_type);
            if let Some(n) = len {
                resp = resp.header("content-length", n);
            }
            resp.body(BodyExt::boxed(http_body_util::StreamBody::new(stream)))
                .unwrap()
        }
    })
    .await;
    (b, tx)
}

fn tokio_stream_from(
    rx: mpsc::UnboundedReceiver<&'static str>,
) -> impl futures_util::Stream<Item = Result<http_body::Frame<bytes::Bytes>, std::io::Error>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        let s = rx.recv().await?;
        Some((
            Ok(http_body::Frame::data(bytes::Bytes::from_static(
                s.as_bytes(),
            ))),
            rx,
        ))
    })
}

/// Reads the next data frame of `body` (within [`LIMIT`]).
async fn next_chunk(body: &mut hyper::body::Incoming) -> String {
    let f = tokio::time::timeout(LIMIT, body.frame())
        .await
        .expect("chunk arrives while the upstream still streams")
        .unwrap()
        .unwrap();
    String::from_utf8(f.into_data().unwrap().to_vec()).unwrap()
}

async fn open(addr: std::net::SocketAddr) -> http::Response<hyper::body::Incoming> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    client
        .request(
            req("GET", addr, "/events")
                .body(Default::default())
                .unwrap(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn server_sent_events_arrive_event_by_event() {
    let (b, tx) = streaming_backend("text/event-stream", None).await;
    // Even a long flush interval does not hold events back.
    let s = bellhop(proxy(&[b.addr], json!({"flush_interval": "1h"})));
    tx.send("data: one\n\n").unwrap();
    let resp = open(s.addr).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    assert_eq!(next_chunk(&mut body).await, "data: one\n\n");
    // The next event is produced only after the first one arrived.
    tx.send("data: two\n\n").unwrap();
    assert_eq!(next_chunk(&mut body).await, "data: two\n\n");
    drop(tx);
    assert!(body.frame().await.is_none());
}

#[tokio::test]
async fn positive_flush_interval_batches_within_the_interval() {
    let (b, tx) = streaming_backend("text/plain", Some(10)).await;
    let s = bellhop(proxy(&[b.addr], json!({"flush_interval": "100ms"})));
    tx.send("ab").unwrap();
    tx.send("cde").unwrap();
    let resp = open(s.addr).await;
    let mut body = resp.into_body();
    let started = Instant::now();
    assert_eq!(next_chunk(&mut body).await, "abcde", "one batch");
    assert!(started.elapsed() < Duration::from_secs(1));
    tx.send("fghij").unwrap();
    assert_eq!(next_chunk(&mut body).await, "fghij");
}

/// A backend that reports whether the proxy hung up before it answered.
async fn patient_backend() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<bool>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (addr, _task) = raw_backend(move |mut sock| {
        let tx = tx.clone();
        async move {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let hung_up = tokio::time::timeout(Duration::from_millis(600), sock.read(&mut buf))
                .await
                .is_ok_and(|r| matches!(r, Ok(0) | Err(_)));
            let _ = tx.send(hung_up);
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate")
                .await;
        }
    })
    .await;
    (addr, rx)
}

async fn give_up_early(addr: std::net::SocketAddr) {
    let r = tokio::time::timeout(Duration::from_millis(100), get(addr, "/")).await;
    assert!(r.is_err(), "the client gave up first");
}

#[tokio::test]
async fn negative_flush_interval_keeps_the_round_trip_when_the_client_leaves() {
    let (up, mut seen) = patient_backend().await;
    let s = bellhop(proxy(&[up], json!({"flush_interval": -1})));
    give_up_early(s.addr).await;
    assert_eq!(
        seen.recv().await,
        Some(false),
        "upstream request not cancelled"
    );
    let (up, mut seen) = patient_backend().await;
    let s = bellhop(proxy(&[up], json!({})));
    give_up_early(s.addr).await;
    assert_eq!(
        seen.recv().await,
        Some(true),
        "by default the client's leaving cancels"
    );
}

/// A backend that reads the request and then says nothing.
async fn silent_backend() -> std::net::SocketAddr {
    let (addr, _task) = raw_backend(|mut sock| async move {
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    addr
}

#[tokio::test]
async fn read_timeout_and_response_header_timeout_are_504() {
    for transport in [
        json!({"protocol": "http", "read_timeout": "200ms"}),
        json!({"protocol": "http", "response_header_timeout": "200ms"}),
    ] {
        let s = bellhop(proxy(
            &[silent_backend().await],
            json!({"transport": transport}),
        ));
        let started = Instant::now();
        assert_eq!(get(s.addr, "/").await.status, 504, "{transport}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < LIMIT,
            "{took:?}"
        );
    }
}

#[tokio::test]
async fn a_backend_dying_mid_response_truncates_the_stream() {
    let (up, _t) = raw_backend(|mut sock| async move {
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let _ = sock
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b")
            .await;
    })
    .await;
    let s = bellhop(proxy(&[up], json!({})));
    let resp = open(s.addr).await;
    assert_eq!(resp.status(), 200);
    let r = tokio::time::timeout(LIMIT, resp.into_body().collect())
        .await
        .unwrap();
    assert!(
        r.is_err(),
        "the client sees the body break, not a short success"
    );
    // The proxy is fine afterwards (the broken connection is not reused).
    let resp = open(s.addr).await;
    assert_eq!(resp.status(), 200);
}
