//! HTTP/3 under failure and load: the QUIC endpoint's accept task made to
//! fail (a panic, then the endpoint closed under it, through the runtime's
//! test-only fault hook) is logged and restarted on the same UDP socket
//! while HTTP/1.1 keeps answering; and a flood of real Initials from a
//! spoofed address that never finishes its handshakes is answered with
//! Retries above the handshake threshold (forced low), leaving no state,
//! while a real client still gets through (via a Retry).

use crate::h3_support::*;
use crate::log_capture;
use crate::tls_support::{client, get_tls, TestCa};
use bellhop_runtime::http::h3::admission::{self, EndpointFault};
use bellhop_runtime::Runtime;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts a runtime with one TLS server answering "fine", once its QUIC
/// endpoint runs.
async fn start(extra: Value) -> (Runtime, SocketAddr, TestCa, tempfile::TempDir) {
    let routes = json!([{"handle": [{"handler": "static_response", "body": "fine"}]}]);
    start_h3_server(routes, extra).await
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn h1_get(addr: SocketAddr, ca: &TestCa) -> String {
    let r = get_tls(
        client(&[&ca.pem], None, &[b"http/1.1"]),
        addr,
        "a.test",
        "/",
    )
    .await
    .expect("HTTP/1.1 answers");
    assert_eq!(r.status, 200);
    r.body
}

/// A new HTTP/3 connection's GET, retried until it answers (5 s).
async fn h3_get(addr: SocketAddr, ca: &TestCa) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let attempt = async {
            let mut c = h3_connect(addr, ca).await?;
            c.request("GET", "/", &[], b"").await
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(r)) => return r.body,
            other => assert!(
                Instant::now() < deadline,
                "HTTP/3 does not answer: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_quic_endpoint_is_logged_and_restarted_while_tcp_serves() {
    log_capture::install();
    let (rt, addr, ca, _dir) = start(json!({})).await;
    let addrs = rt.listen_addrs();
    assert_eq!(h3_get(addr, &ca).await, "fine");
    let listener = format!("udp/{addr}");
    for (round, fault) in [EndpointFault::Panic, EndpointFault::Close]
        .into_iter()
        .enumerate()
    {
        assert!(admission::inject_endpoint_fault(addr, fault));
        // The next incoming connection meets the fault.
        let _ = tokio::time::timeout(Duration::from_secs(1), h3_connect(addr, &ca)).await;
        let restarts = round as u64 + 1;
        wait_for(&format!("restart after {fault:?}"), || {
            admission::endpoint_restarts(addr) == Some(restarts)
        })
        .await;
        assert_eq!(h1_get(addr, &ca).await, "fine", "after {fault:?}");
        assert_eq!(h3_get(addr, &ca).await, "fine", "after {fault:?}");
    }
    let logged = log_capture::lines_with(&["HTTP/3 endpoint failed; restarting it", &listener]);
    assert_eq!(logged.len(), 2, "{logged:#?}");
    assert!(logged[0].contains("injected fault"), "{}", logged[0]);
    assert!(logged[1].contains("the endpoint closed"), "{}", logged[1]);
    assert_eq!(rt.listen_addrs(), addrs, "the same sockets serve on");
    rt.stop().await;
}

/// `n` real QUIC Initials, each of another connection: what a quinn
/// client sends to a UDP socket that never answers (its retransmissions
/// left out).
async fn captured_initials(n: usize) -> Vec<Vec<u8>> {
    let sink = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tls = client(&[], None, &[b"h3"]);
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    let target = sink.local_addr().unwrap();
    let pending: Vec<_> = (0..n)
        .map(|_| endpoint.connect(target, "a.test").unwrap())
        .collect();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut buf = vec![0u8; 2048];
    while out.len() < n {
        let (len, _) = tokio::time::timeout(LIMIT, sink.recv_from(&mut buf))
            .await
            .expect("the client sends its Initials")
            .unwrap();
        // Long header: flags, version (4), DCID length, DCID.
        let dcid = buf[6..6 + buf[5] as usize].to_vec();
        if seen.insert(dcid) {
            out.push(buf[..len].to_vec());
        }
    }
    drop(pending);
    endpoint.close(0u32.into(), b"");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initial_flood_gets_retries_and_leaves_no_handshake_state() {
    const THRESHOLD: usize = 4;
    const FLOOD: usize = 100;
    // Stuck handshakes end at the (QUIC) idle timeout.
    let (rt, addr, ca, _dir) = start(json!({"idle_timeout": "2s"})).await;
    assert!(admission::set_retry_threshold(addr, THRESHOLD));
    let initials = captured_initials(FLOOD).await;
    // Sent from an address that never completes a handshake: the server's
    // answers go nowhere.
    let spoofed = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut most = 0;
    for p in &initials {
        spoofed.send_to(p, addr).await.unwrap();
        most = most.max(admission::handshakes_in_progress(addr).unwrap());
        // Paced, so that the socket's receive buffer drops few.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let retried = (FLOOD - THRESHOLD) as u64;
    wait_for("Retries for the flood", || {
        admission::retries_sent(addr).unwrap() >= retried
    })
    .await;
    let held = admission::handshakes_in_progress(addr).unwrap();
    most = most.max(held);
    assert!(most <= THRESHOLD, "{most} handshakes held at once");
    assert!(held >= 1, "the first Initials were accepted directly");
    // A real client above the threshold gets a Retry, then its answer.
    let before = admission::retries_sent(addr).unwrap();
    assert!(admission::set_retry_threshold(addr, 0));
    assert_eq!(h3_get(addr, &ca).await, "fine");
    assert!(
        admission::retries_sent(addr).unwrap() > before,
        "via a Retry"
    );
    // The abandoned handshakes end; nothing is left.
    wait_for("no handshake in progress", || {
        admission::handshakes_in_progress(addr) == Some(0)
    })
    .await;
    // Below the threshold, clients are accepted without a Retry.
    assert!(admission::set_retry_threshold(addr, THRESHOLD));
    let before = admission::retries_sent(addr).unwrap();
    assert_eq!(h3_get(addr, &ca).await, "fine");
    assert_eq!(admission::retries_sent(addr).unwrap(), before, "no Retry");
    assert_eq!(h1_get(addr, &ca).await, "fine");
    rt.stop().await;
}
