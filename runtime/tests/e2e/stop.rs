//! `Runtime::stop` gives its ports back at once: a port picked through
//! `:0` can be bound again right after `stop` returns, with and without
//! TLS, after connections were served; with `shutdown_delay` it serves on
//! for the delay first, saying so through `{http.shutting_down}`.

use crate::support::*;
use crate::tls_support::*;
use serde_json::json;
use std::time::Duration;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_runtime_port_can_be_bound_at_once() {
    for _ in 0..10 {
        let s = start_routes(json!([{"handle": [respond("hi")]}]));
        assert_eq!(get(s.addr, "/").await.status, 200);
        s.rt.stop().await;
        std::net::TcpListener::bind(s.addr)
            .unwrap_or_else(|e| panic!("{} still bound after stop: {e}", s.addr));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_tls_runtime_port_can_be_bound_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let internal =
        json!({"policies": [{"subjects": ["a.test"], "issuers": [{"module": "internal"}]}]});
    for _ in 0..5 {
        let s = start(crate::tls_managed::managed_config(
            dir.path(),
            internal.clone(),
            &["a.test"],
        ));
        let root = crate::tls_managed::local_root(dir.path());
        let r = get_tls(
            client(&[&root], None, &[b"http/1.1"]),
            s.addr,
            "a.test",
            "/",
        )
        .await;
        assert_eq!(r.unwrap().status, 200);
        s.rt.stop().await;
        std::net::TcpListener::bind(s.addr)
            .unwrap_or_else(|e| panic!("{} still bound after stop: {e}", s.addr));
    }
}

/// `shutdown_delay`: a stopping runtime keeps serving new connections for
/// the delay, with `{http.shutting_down}` true and
/// `{http.time_until_shutdown}` counting down (a health check a load
/// balancer polls), then stops.
#[tokio::test(flavor = "multi_thread")]
async fn shutdown_delay_keeps_serving_and_says_so() {
    let mut cfg = config_with(json!({"routes": [
        {"match": [{"expression": "{http.shutting_down} == true"}],
         "handle": [{"handler": "static_response", "status_code": 503, "body": "draining {http.time_until_shutdown}"}]},
        {"handle": [respond("up {http.shutting_down}")]}
    ]}));
    cfg["apps"]["http"]["shutdown_delay"] = json!("1500ms");
    let s = start(cfg);
    assert_eq!(get(s.addr, "/").await.body, "up false");
    let began = std::time::Instant::now();
    let ((), r) = tokio::join!(s.rt.stop(), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        get(s.addr, "/").await
    });
    assert_eq!(r.status, 503, "{}", r.body);
    let left: f64 = r.body["draining ".len()..]
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!(left > 0.5 && left < 1.3, "{}", r.body);
    assert!(
        began.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        began.elapsed()
    );
    assert!(
        TcpStream::connect(s.addr).await.is_err(),
        "listener closed after the delay"
    );
}
