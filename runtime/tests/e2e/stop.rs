//! `Runtime::stop` gives its ports back at once: a port picked through
//! `:0` can be bound again right after `stop` returns, with and without
//! TLS, after connections were served.

use crate::support::*;
use crate::tls_support::*;
use serde_json::json;

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
