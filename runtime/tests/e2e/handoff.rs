//! The runtime's side of a binary upgrade: a socket adopted into the pool
//! is served instead of binding (the address is in use by the process that
//! handed it over), and after `hand_off` the runtime stops accepting while
//! its keep-alive connections finish their next request with
//! `Connection: close`.

use crate::support::{config_with, get, respond};
use bellhop_runtime::listeners::Inherited;
use bellhop_runtime::Runtime;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn site(port: u16, body: &str) -> serde_json::Value {
    config_with(json!({
        "listen": [format!("127.0.0.1:{port}")],
        "routes": [{"handle": [respond(body)]}],
    }))
}

#[tokio::test]
async fn an_adopted_socket_is_served_instead_of_binding() {
    // "The old process": a socket bound and listening, still held here.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let plain = Runtime::new();
    let err = plain
        .load(site(port, "x").to_string().as_bytes())
        .unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");

    let rt = Runtime::new();
    let copy = std::os::fd::OwnedFd::from(held.try_clone().unwrap());
    let pool = rt.listener_pool();
    pool.adopt(format!("tcp/127.0.0.1:{port}"), Inherited::tcp(copy));
    let spare = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    pool.adopt("tcp/127.0.0.1:1".into(), Inherited::tcp(spare.into()));
    rt.load(site(port, "adopted").to_string().as_bytes())
        .expect("loads on the adopted socket");
    assert_eq!(pool.discard_adopted(), vec!["tcp/127.0.0.1:1".to_string()]);
    let addr = rt.listen_addrs()[0];
    assert_eq!(addr.port(), port);
    assert_eq!(get(addr, "/").await.body, "adopted");
    assert_eq!(pool.sockets().len(), 1);
    rt.stop_with_grace(Some(Duration::from_millis(100))).await;
}

/// Sends one keep-alive GET; the status line and whether the response
/// says `Connection: close`.
async fn keep_alive_get(c: &mut BufReader<TcpStream>) -> (String, bool) {
    c.get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut status = String::new();
    c.read_line(&mut status).await.unwrap();
    let (mut close, mut length) = (false, 0);
    loop {
        let mut line = String::new();
        c.read_line(&mut line).await.unwrap();
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        close |= l == "connection: close";
        if let Some(n) = l.strip_prefix("content-length: ") {
            length = n.parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    c.read_exact(&mut body).await.unwrap();
    (status.trim_end().to_string(), close)
}

#[tokio::test]
async fn hand_off_stops_accepting_and_closes_keep_alive_after_a_response() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rt = Runtime::new();
    rt.load(site(port, "old").to_string().as_bytes()).unwrap();
    let mut c = BufReader::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    assert_eq!(
        keep_alive_get(&mut c).await,
        ("HTTP/1.1 200 OK".into(), false)
    );
    rt.hand_off();
    // Idle, the connection is not cut at once: the next request is served,
    // with `Connection: close`, and then the server closes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        keep_alive_get(&mut c).await,
        ("HTTP/1.1 200 OK".into(), true)
    );
    let mut rest = Vec::new();
    assert_eq!(c.read_to_end(&mut rest).await.unwrap(), 0);
    // Nobody else holds the socket here, so it is gone.
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    tokio::time::timeout(Duration::from_secs(5), rt.drain())
        .await
        .expect("drained");
    assert!(rt.current_instance().is_none());
}
