//! A reload that fails leaks nothing: over 100 failed attempts (port in
//! use after binding another port, unknown module, TLS certificates,
//! unknown field) the old config answers, each attempt gets a 400 with its
//! reason, and the process holds as many file descriptors as before.
//! Alone in its binary so that no other test opens descriptors meanwhile.

#[path = "admin/support.rs"]
mod support;

use serde_json::json;
use std::time::Duration;
use support::*;

#[tokio::test]
async fn failed_reloads_leak_no_descriptors() {
    let t = start(site("old")).await;
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let shared = format!("127.0.0.1:{}", t.site().port());
    let mut port_in_use = site_on(&shared, "new");
    port_in_use["apps"]["http"]["servers"]["srv0"]["listen"] =
        json!([shared, "127.0.0.1:0", format!("127.0.0.1:{busy_port}")]);
    let mut bad_module = site_on(&shared, "new");
    bad_module["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["handler"] =
        json!("nope");
    let mut bad_cert = site_on(&shared, "new");
    bad_cert["apps"]["tls"] = json!({"certificates": {"load_files": [{"certificate": "/nonexistent/cert.pem", "key": "/nonexistent/key.pem"}]}});
    let mut bad_field = site_on(&shared, "new");
    bad_field["apps"]["http"]["servers"]["srv1"] =
        json!({"listen": ["127.0.0.1:0"], "lisen": true});
    let cases = [
        (port_in_use, "already in use"),
        (bad_module, "nope"),
        (bad_cert, "apps.tls"),
        (bad_field, "apps.http.servers.srv1.lisen"),
    ];
    // Warm up: every kind of failure once, and one request (the serving
    // threads, with their epoll descriptors, start with the first one).
    for (cfg, _) in &cases {
        assert_eq!(t.load(cfg).await.status, 400);
    }
    assert_eq!(get(t.site(), "/").await, (200, "old".into()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = fd_count();
    for i in 0..100 {
        let (cfg, reason) = &cases[i % cases.len()];
        let r = t.load(cfg).await;
        assert_eq!(r.status, 400, "attempt {i}");
        assert!(
            r.error_message().contains(reason),
            "attempt {i}: {}",
            r.error_message()
        );
        if i % 10 == 0 {
            assert_eq!(get(t.site(), "/").await, (200, "old".into()));
        }
    }
    assert_eq!(get(t.site(), "/").await, (200, "old".into()));
    // Client sockets of the attempts close asynchronously; give them time.
    let mut after = fd_count();
    for _ in 0..50 {
        if after == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = fd_count();
    }
    assert_eq!(
        after, before,
        "descriptors before and after 100 failed reloads"
    );
    drop(busy);
}
