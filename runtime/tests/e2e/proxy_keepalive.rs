//! reverse_proxy's own HTTP/1.1 upstream connections: kept alive across
//! requests whatever the body's framing, not kept when the upstream says
//! `close`, and a kept-alive connection the upstream closes just as a
//! request goes out is dialled anew for a replayable request (as Go's
//! transport does), while a POST gets the error.

use crate::proxy_support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// One client connection to the proxy: its requests are served on one
/// serving thread, whose idle upstream connections they share.
async fn client(addr: std::net::SocketAddr) -> SendRequest<Empty<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    tx
}

/// Status and body of `method /` on `c`.
async fn call(c: &mut SendRequest<Empty<Bytes>>, method: &str) -> (u16, String) {
    let req = http::Request::builder()
        .method(method)
        .uri("/")
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap();
    c.ready().await.unwrap();
    let resp = c.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// A backend answering each request of a connection with the next of
/// `answers` (then closing when they run out), counting connections.
async fn scripted(answers: &'static [&'static [u8]]) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let conns = Arc::new(AtomicUsize::new(0));
    let seen = conns.clone();
    let (addr, _task) = raw_backend(move |mut sock| {
        seen.fetch_add(1, Ordering::SeqCst);
        async move {
            for a in answers {
                if read_head(&mut sock).await.is_none() {
                    return;
                }
                sock.write_all(a).await.unwrap();
            }
            // One more request is read and left unanswered: the close
            // races the proxy's reuse of the connection.
            let _ = read_head(&mut sock).await;
        }
    })
    .await;
    (addr, conns)
}

#[tokio::test]
async fn every_framing_keeps_the_connection() {
    let (up, conns) = scripted(&[
        b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\none",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 4\r\n\r\nfour",
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 4\r\n\r\nfive",
    ])
    .await;
    let s = bellhop(proxy(&[up], json!({})));
    let mut c = client(s.addr).await;
    for (status, body) in [
        (200, "one"),
        (200, "two"),
        (204, ""),
        (200, "four"),
        (200, "five"),
    ] {
        assert_eq!(call(&mut c, "GET").await, (status, body.to_string()));
    }
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "one connection for all five"
    );
    // `connection: close` was honoured: the next request dials again.
    assert_eq!(call(&mut c, "GET").await.1, "one");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_closed_under_a_get_is_dialled_again() {
    let (up, conns) = scripted(&[b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]).await;
    let s = bellhop(proxy(&[up], json!({})));
    let mut c = client(s.addr).await;
    assert_eq!(call(&mut c, "GET").await, (200, "ok".into()));
    // The kept connection is closed only once this request reaches it.
    assert_eq!(call(&mut c, "GET").await, (200, "ok".into()));
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    // A POST is not sent twice: its client gets the error.
    assert_eq!(call(&mut c, "POST").await.0, 502);
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}
