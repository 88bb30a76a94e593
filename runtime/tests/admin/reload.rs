//! Reloads that never drop a request: 200 reloads under load on a shared
//! listener (same socket inode throughout), and a request in flight that
//! finishes on the config it started with.

use crate::support::*;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failed: AtomicUsize,
    stop: AtomicBool,
}

/// GETs `/` in a loop on one client until told to stop.
async fn hammer(addr: std::net::SocketAddr, keep_alive: bool, tally: Arc<Tally>) {
    let mut b = Client::builder(TokioExecutor::new());
    if !keep_alive {
        b.pool_max_idle_per_host(0);
    }
    let client = b.build_http::<Empty<bytes::Bytes>>();
    let uri: http::Uri = format!("http://{addr}/").parse().unwrap();
    while !tally.stop.load(Ordering::Relaxed) {
        let ok = match client.get(uri.clone()).await {
            Ok(resp) if resp.status() == 200 => match resp.into_body().collect().await {
                Ok(b) => matches!(&b.to_bytes()[..], b"A" | b"B"),
                Err(_) => false,
            },
            Ok(_) => false,
            Err(e) => {
                eprintln!("request failed: {e:?}");
                false
            }
        };
        let counter = if ok { &tally.ok } else { &tally.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_under_load_drop_nothing_and_keep_the_socket() {
    let t = start(site("A")).await;
    let addr = t.site();
    let inode = listen_inode(addr.port()).expect("listening socket in /proc/net/tcp");
    assert!(holds_socket(inode));
    let listen = format!("127.0.0.1:{}", addr.port());
    let configs = [site_on(&listen, "A"), site_on(&listen, "B")];
    assert_eq!(t.load(&configs[0]).await.status, 200);
    let tally = Arc::new(Tally::default());
    let mut clients = Vec::new();
    for i in 0..52 {
        // 50 keep-alive clients, 2 that open a connection per request.
        clients.push(tokio::spawn(hammer(addr, i < 50, tally.clone())));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..200 {
        let r = t.load(&configs[(i + 1) % 2]).await;
        assert_eq!(r.status, 200, "reload {i}: {}", r.error_message());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    tally.stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let (ok, failed) = (
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    eprintln!("{ok} requests during 200 reloads");
    assert_eq!(failed, 0, "{failed} of {} requests failed", ok + failed);
    assert!(ok > 1000, "only {ok} requests");
    assert_eq!(
        listen_inode(addr.port()),
        Some(inode),
        "the socket was never rebound"
    );
    assert!(holds_socket(inode));
    assert_eq!(t.admin.runtime().listen_addrs(), vec![addr]);
}

#[tokio::test]
async fn request_in_flight_finishes_on_its_config() {
    let slow = json!({"apps": {"http": {"servers": {"srv0": {
        "listen": ["127.0.0.1:0"],
        "routes": [{"handle": [{"handler": "sleepy", "ms": 2000, "body": "old config"}]}]
    }}}}});
    let t = start(slow).await;
    let addr = t.site();
    let in_flight = tokio::spawn(get(addr, "/"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = std::time::Instant::now();
    let fresh = site_on(&format!("127.0.0.1:{}", addr.port()), "new config");
    assert_eq!(t.load(&fresh).await.status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the reload does not wait for requests"
    );
    assert_eq!(get(addr, "/").await, (200, "new config".into()));
    assert_eq!(in_flight.await.unwrap(), (200, "old config".into()));
}

#[tokio::test]
async fn removed_listener_drains_within_grace_period() {
    let mut slow = json!({"apps": {"http": {"grace_period": "5s", "servers": {
        "old": {"listen": ["127.0.0.1:0"], "routes": [{"handle": [{"handler": "sleepy", "ms": 400, "body": "drained"}]}]}
    }}}});
    let t = start(slow.clone()).await;
    let old = t.site();
    let in_flight = tokio::spawn(get(old, "/"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    slow["apps"]["http"]["servers"] = json!({"new": {"listen": ["127.0.0.1:0"], "routes": []}});
    assert_eq!(t.load(&slow).await.status, 200);
    assert_ne!(t.site(), old);
    assert_eq!(in_flight.await.unwrap(), (200, "drained".into()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        tokio::net::TcpStream::connect(old).await.is_err(),
        "old listener closed"
    );
}
