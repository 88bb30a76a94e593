//! reverse_proxy health and retries against real backends: active checks
//! taking a host out and back in (thresholds, expected status and body),
//! passive thresholds expiring after `fail_duration`, and each retry rule
//! (dial failures always, GET by default, `retry_match` for POST, bodies
//! replayed only when buffered, `try_duration`).

use crate::proxy_support::*;
use crate::support::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// A backend named `name` whose `/health` answers `status`.
async fn checked(name: &'static str, status: Arc<AtomicU16>) -> Backend {
    backend(move |r| {
        let status = status.clone();
        async move {
            if r.uri().path() == "/health" {
                let code = status.load(Ordering::SeqCst);
                return http::Response::builder()
                    .status(code)
                    .body(text(format!("state={code}")))
                    .unwrap();
            }
            ok(name)
        }
    })
    .await
}

/// Polls until a request answers `want` (or fails after 3s).
async fn until(s: &TestServer, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let got = get(s.addr, "/").await.body;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "still {got:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn active_checks_take_a_host_out_and_back_in() {
    let status = Arc::new(AtomicU16::new(200));
    let a = checked("A", status.clone()).await;
    let b = checked("B", Arc::new(AtomicU16::new(200))).await;
    let s = bellhop(proxy(
        &[a.addr, b.addr],
        json!({"load_balancing": {"selection_policy": {"policy": "first"}},
               "health_checks": {"active": {"uri": "/health", "interval": "50ms",
                   "timeout": "1s", "fails": 2, "passes": 2, "expect_body": "state=2"}}}),
    ));
    until(&s, "A").await;
    status.store(503, Ordering::SeqCst);
    until(&s, "B").await;
    let down_at = a.hits();
    status.store(200, Ordering::SeqCst);
    until(&s, "A").await;
    assert!(a.hits() >= down_at + 2, "two passes needed to come back");
}

#[tokio::test]
async fn active_checks_honour_expect_status_and_port() {
    let status = Arc::new(AtomicU16::new(204));
    let probe = checked("probe", status.clone()).await;
    let a = named("A").await;
    let b = named("B").await;
    let s = bellhop(proxy(
        &[a.addr, b.addr],
        json!({"load_balancing": {"selection_policy": {"policy": "first"}},
               "health_checks": {"active": {"uri": "/health", "interval": "50ms",
                   "port": probe.addr.port(), "expect_status": 204}}}),
    ));
    until(&s, "A").await;
    status.store(200, Ordering::SeqCst);
    // Both upstreams are checked on the probe's port; both go down.
    let deadline = Instant::now() + Duration::from_secs(3);
    while get(s.addr, "/").await.status != 503 {
        assert!(Instant::now() < deadline, "never marked down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn passive_thresholds_count_statuses_and_expire() {
    let status = Arc::new(AtomicU16::new(500));
    let a = backend({
        let status = status.clone();
        move |_| {
            let code = status.load(Ordering::SeqCst);
            async move {
                http::Response::builder()
                    .status(code)
                    .body(text("A"))
                    .unwrap()
            }
        }
    })
    .await;
    let b = named("B").await;
    let s = bellhop(proxy(
        &[a.addr, b.addr],
        json!({"load_balancing": {"selection_policy": {"policy": "first"}},
               "health_checks": {"passive": {"fail_duration": "400ms", "max_fails": 2,
                   "unhealthy_status": [5]}}}),
    ));
    assert_eq!(get(s.addr, "/").await.status, 500, "first strike, still A");
    assert_eq!(get(s.addr, "/").await.status, 500, "second strike, still A");
    assert_eq!(get(s.addr, "/").await.body, "B", "A is out at max_fails");
    status.store(200, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(s.addr, "/").await.body, "A", "strikes forgotten");
}

#[tokio::test]
async fn passive_unhealthy_latency_strikes_slow_answers() {
    let slow = backend(|_| async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        ok("slow")
    })
    .await;
    let b = named("B").await;
    let s = bellhop(proxy(
        &[slow.addr, b.addr],
        json!({"load_balancing": {"selection_policy": {"policy": "first"}},
               "health_checks": {"passive": {"fail_duration": "10s",
                   "unhealthy_latency": "100ms"}}}),
    ));
    assert_eq!(get(s.addr, "/").await.body, "slow");
    assert_eq!(get(s.addr, "/").await.body, "B");
}

/// A backend that reads the request and hangs up without answering.
async fn rude() -> std::net::SocketAddr {
    let (addr, _task) = raw_backend(|mut sock| async move {
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
    })
    .await;
    addr
}

fn retrying(first: std::net::SocketAddr, ok: &Backend, extra: serde_json::Value) -> TestServer {
    let mut lb = json!({"selection_policy": {"policy": "round_robin"}, "retries": 1});
    for (k, v) in extra.as_object().unwrap() {
        lb[k] = v.clone();
    }
    // Round robin starts at the second upstream: the rude one goes first.
    bellhop(proxy(&[ok.addr, first], json!({"load_balancing": lb})))
}

#[tokio::test]
async fn get_is_retried_after_a_failed_round_trip_but_post_only_when_matched() {
    let good = named("good").await;
    let s = retrying(rude().await, &good, json!({}));
    assert_eq!(get(s.addr, "/").await.body, "good");
    let post = |s: &TestServer, body: &'static str| {
        let addr = s.addr;
        async move { send(Proto::H1, "POST", addr, "/", &[], body).await }
    };
    let s = retrying(rude().await, &good, json!({}));
    assert_eq!(
        post(&s, "").await.status,
        502,
        "POST not retried by default"
    );
    let s = retrying(
        rude().await,
        &good,
        json!({"retry_match": [{"method": ["POST"]}]}),
    );
    assert_eq!(post(&s, "").await.body, "good", "retry_match allows POST");
    let s = retrying(
        rude().await,
        &good,
        json!({"retry_match": [{"method": ["PUT"]}]}),
    );
    assert_eq!(
        get(s.addr, "/").await.status,
        502,
        "retry_match replaces the GET default"
    );
}

#[tokio::test]
async fn streamed_bodies_are_not_replayed_buffered_ones_are() {
    let good = named("good").await;
    let m = json!({"retry_match": [{"method": ["POST"]}]});
    let s = retrying(rude().await, &good, m.clone());
    let r = send(Proto::H1, "POST", s.addr, "/", &[], "payload").await;
    assert_eq!(
        r.status, 502,
        "the streamed body was spent on the first try"
    );
    let mut h = proxy(&[good.addr, rude().await], json!({"request_buffers": 4096}));
    h["load_balancing"] = json!({"selection_policy": {"policy": "round_robin"}, "retries": 1,
        "retry_match": [{"method": ["POST"]}]});
    let s = bellhop(h);
    let r = send(Proto::H1, "POST", s.addr, "/", &[], "payload").await;
    assert_eq!(r.body, "good", "a buffered body is replayed");
}

#[tokio::test]
async fn try_duration_keeps_trying_dead_upstreams_then_gives_up() {
    let (_held, dead) = refusing_addr();
    let s = bellhop(proxy(
        &[dead],
        json!({"load_balancing": {"try_duration": "300ms", "try_interval": "50ms"}}),
    ));
    let started = Instant::now();
    assert_eq!(get(s.addr, "/").await.status, 502);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // An upstream that comes up while retrying is found.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let late = l.local_addr().unwrap();
    drop(l);
    let s = bellhop(proxy(
        &[late],
        json!({"load_balancing": {"try_duration": "2s", "try_interval": "50ms"}}),
    ));
    let flag = Arc::new(AtomicBool::new(false));
    let f2 = flag.clone();
    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let l = tokio::net::TcpListener::bind(late).await.unwrap();
        f2.store(true, Ordering::SeqCst);
        let (mut sock, _) = l.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = sock.read(&mut buf).await;
        use tokio::io::AsyncWriteExt;
        let _ = sock
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate")
            .await;
    });
    assert_eq!(get(s.addr, "/").await.body, "late");
    assert!(flag.load(Ordering::SeqCst));
    starter.await.unwrap();
}

/// Two handlers dialling one address with different active checks keep
/// their own verdicts (Caddy's active_health_test.go
/// TestActiveHealthChecksSameAddressDifferentChecksAreIndependent, #7870):
/// one vhost's failing health endpoint takes the backend out of that vhost
/// only, and its failures do not count toward the other's threshold.
#[tokio::test]
async fn handlers_checking_one_address_differently_keep_their_own_verdicts() {
    let b = backend(|r| async move {
        match r.uri().path() {
            "/vhost-a/health" => http::Response::builder()
                .status(503)
                .body(text("down"))
                .unwrap(),
            _ => ok("up"),
        }
    })
    .await;
    let check = |uri: &str| {
        json!({"handler": "reverse_proxy", "upstreams": [{"dial": b.addr.to_string()}],
            "health_checks": {"active": {"uri": uri, "interval": "40ms", "fails": 1}}})
    };
    let s = start_routes(json!([
        {"match": [{"path": ["/a"]}], "handle": [check("/vhost-a/health")]},
        {"handle": [check("/vhost-b/health")]}
    ]));
    let deadline = Instant::now() + Duration::from_secs(3);
    while get(s.addr, "/a").await.status != 503 {
        assert!(Instant::now() < deadline, "vhost A never marked down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // many of A's failed checks later, B still sends every request on
    for _ in 0..10 {
        assert_eq!(get(s.addr, "/b").await.body, "up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(get(s.addr, "/a").await.status, 503);
}
