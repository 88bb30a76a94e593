//! The admin endpoint's protections end to end: Host and Origin checks,
//! browser-only requests refused, Content-Type and body caps, unix
//! sockets with mode 0600, `disabled`, and autosave on or off.

use crate::support::*;
use bellhop_runtime::admin::client;
use bellhop_runtime::admin::Admin;
use bellhop_runtime::Runtime;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends a raw HTTP/1.1 request and returns the status code.
async fn raw_status(addr: &str, request: String) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn host_and_origin_are_checked() {
    let t = start(site("a")).await;
    let port = t.addr.rsplit(':').next().unwrap().to_string();
    let get = |host: String| {
        raw_status(
            &t.addr,
            format!("GET /config/ HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        )
    };
    assert_eq!(get(format!("localhost:{port}")).await, 200);
    assert_eq!(get(format!("127.0.0.1:{port}")).await, 200);
    assert_eq!(
        get(format!("attacker.example:{port}")).await,
        403,
        "DNS rebinding"
    );
    assert_eq!(get("localhost:1".into()).await, 403);
    let with = |h: &'static str, v: String| {
        let t = &t;
        async move { t.req("GET", "/config/", &[(h, v.as_str())], "").await }
    };
    let r = with("Origin", "http://evil.example".into()).await;
    assert_eq!(r.status, 403);
    assert!(r
        .error_message()
        .contains("not allowed to access from origin"));
    let ok = with("Origin", format!("http://localhost:{port}")).await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.headers["access-control-allow-origin"],
        format!("http://localhost:{port}").as_str()
    );
    assert_eq!(with("Origin", "null".into()).await.status, 400);
    assert_eq!(with("Sec-Fetch-Mode", "no-cors".into()).await.status, 400);
    assert_eq!(
        with("Sec-Fetch-Site", "cross-site".into()).await.status,
        403
    );
    assert_eq!(
        with("Sec-Fetch-Site", "same-origin".into()).await.status,
        200
    );
    let ws = t
        .req(
            "GET",
            "/config/",
            &[("Connection", "Upgrade"), ("Upgrade", "websocket")],
            "",
        )
        .await;
    assert_eq!(ws.status, 400);
    assert!(ws.error_message().contains("websocket"));
}

#[tokio::test]
async fn configured_origins_and_enforce_origin() {
    let mut cfg = site("a");
    cfg["admin"] = json!({"listen": "127.0.0.1:0", "enforce_origin": true, "origins": ["https://panel.example"]});
    let t = start(cfg).await;
    let h = [("Host", "panel.example")];
    assert_eq!(
        t.req("GET", "/config/", &h, "").await.status,
        403,
        "Origin required"
    );
    let r = t
        .req(
            "GET",
            "/config/",
            &[h[0], ("Origin", "https://panel.example")],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    let r = t
        .req(
            "GET",
            "/config/",
            &[h[0], ("Origin", "http://panel.example")],
            "",
        )
        .await;
    assert_eq!(r.status, 403, "scheme must match");
    assert_eq!(
        t.req("GET", "/config/", &[], "").await.status,
        403,
        "host not listed"
    );
}

#[tokio::test]
async fn writes_need_json_and_bodies_are_capped() {
    let t = start(site("a")).await;
    let r = t
        .req("POST", "/load", &[("Content-Type", "text/plain")], "{}")
        .await;
    assert_eq!(r.status, 415);
    assert!(
        r.error_message().contains("text/x-site"),
        "lists the adapters: {}",
        r.error_message()
    );
    assert_eq!(t.req("POST", "/load", &[], "{}").await.status, 415);
    let r = t
        .req(
            "PATCH",
            "/config/apps",
            &[("Content-Type", "text/x-site")],
            "x",
        )
        .await;
    assert_eq!(r.status, 415, "adapters serve /load and /adapt only");
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
    let r = t
        .req(
            "POST",
            "/load",
            &[("Content-Type", "application/json")],
            &big,
        )
        .await;
    assert_eq!(r.status, 413);
    // A chunked body is cut off at the cap as well.
    let chunk = "y".repeat(40 * 1024);
    let req = format!(
        "POST /load HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        t.addr, chunk.len(), chunk.len()
    );
    assert_eq!(raw_status(&t.addr, req).await, 413);
    assert_eq!(get(t.site(), "/").await.1, "a");
}

#[tokio::test]
async fn unix_socket_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("admin.sock");
    let mut cfg = site("a");
    cfg["admin"] = json!({"listen": format!("unix/{}", sock.display())});
    let admin = Admin::new(Runtime::new(), options(&dir));
    admin
        .load(cfg.to_string().into_bytes(), false)
        .await
        .unwrap();
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let addr = admin.address().unwrap();
    assert_eq!(addr, format!("unix/{}", sock.display()));
    let r = client::request(&addr, "GET", "/config/admin/listen", &[], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = client::request(
        &addr,
        "GET",
        "/config/",
        &[("Host", "evil.example")],
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn admin_moves_and_can_be_disabled() {
    let t = start(site("a")).await;
    let mut moved = site("a");
    moved["admin"] = json!({"listen": "127.0.0.2:0"});
    assert_eq!(t.load(&moved).await.status, 200);
    let new_addr = t.admin.address().unwrap();
    assert!(new_addr.starts_with("127.0.0.2:"), "{new_addr}");
    let r = client::request(&new_addr, "GET", "/config/admin/listen", &[], vec![])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        client::request(&t.addr, "GET", "/config/", &[], vec![])
            .await
            .is_err(),
        "old listener closed"
    );
    let mut off = site("a");
    off["admin"] = json!({"disabled": true});
    let r = client::request(
        &new_addr,
        "POST",
        "/load",
        &[("Content-Type", "application/json")],
        off.to_string().into_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(t.admin.address(), None);
}

#[tokio::test]
async fn autosave_unless_persist_is_off() {
    let t = start(site("saved")).await;
    assert_eq!(t.saved().await, site("saved"));
    let mut off = site("not saved");
    off["admin"] = json!({"config": {"persist": false}});
    assert_eq!(t.load(&off).await.status, 200);
    assert_eq!(t.saved().await, site("saved"));
}
