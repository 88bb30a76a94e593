//! Dynamic config loading (`admin.config.load`, `caddy.config_loaders.http`)
//! against a config server the test runs: a delayed loader pulls and
//! applies the next config (adapted by its media type), one without delay
//! pulls while its config loads (and fails that load when it cannot), and a
//! pulled config may name a loader again only with a positive delay.

use crate::support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A config server answering every request with `body` as `content_type`;
/// the request heads it got.
async fn config_server(
    content_type: &'static str,
    body: String,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let (body, seen) = (body.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = c.read(&mut buf).await.unwrap_or(0);
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = c.write_all(head.as_bytes()).await;
                let _ = c.write_all(body.as_bytes()).await;
            });
        }
    });
    (addr, heads)
}

/// `site(body)` that loads the next config from `url`.
fn loading(body: &str, url: &str, delay: Option<&str>) -> Value {
    let mut c = site(body);
    c["admin"] = json!({"listen": "127.0.0.1:0", "config": {"load": {
        "module": "http", "url": url, "header": {"X-Token": ["t1"]}, "timeout": "2s"}}});
    if let Some(d) = delay {
        c["admin"]["config"]["load_delay"] = json!(d);
    }
    c
}

/// The body a GET of `/` gets from `addr`, if it answers (the listener
/// may be closing while a config swaps in).
async fn try_get(addr: SocketAddr) -> Option<String> {
    let mut c = tokio::net::TcpStream::connect(addr).await.ok()?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut out = String::new();
    c.read_to_string(&mut out).await.ok()?;
    Some(out.split_once("\r\n\r\n")?.1.to_string())
}

/// Waits until the site answers `want` (5 s at most).
async fn serves(t: &TestAdmin, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = try_get(t.site()).await;
        if got.as_deref() == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "still {got:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_delayed_loader_pulls_the_next_config_and_applies_it() {
    let (addr, heads) = config_server("application/json", site("pulled").to_string()).await;
    let t = start(loading(
        "first",
        &format!("http://{addr}/cfg"),
        Some("200ms"),
    ))
    .await;
    assert_eq!(get(t.site(), "/").await.1, "first");
    serves(&t, "pulled").await;
    let head = heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /cfg http/1.1") && head.contains("x-token: t1"),
        "{head}"
    );
    // The pulled config is the one the API shows, without the loader.
    let r = t.req("GET", "/config/", &[], "").await;
    let running: Value = serde_json::from_slice(&r.body).unwrap();
    assert!(running.get("admin").is_none(), "{running}");
}

#[tokio::test]
async fn a_loader_without_delay_pulls_at_once_and_a_failed_pull_fails_the_load() {
    // adapted by the answer's media type (the tests' text/x-site adapter)
    let (addr, _) = config_server("text/x-site; charset=utf-8", "adapted".into()).await;
    let t = start(loading("first", &format!("http://{addr}/"), None)).await;
    serves(&t, "adapted").await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let r = t
        .load(&loading("never", &format!("http://{dead}/"), None))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().contains("loading dynamic config"),
        "{}",
        r.error_message()
    );
    assert_eq!(get(t.site(), "/").await.1, "adapted");
}

#[tokio::test]
async fn a_pulled_config_may_name_a_loader_only_with_a_delay() {
    let again = loading("pulled", "http://127.0.0.1:9/", None);
    let (addr, heads) = config_server("application/json", again.to_string()).await;
    let t = start(loading("first", &format!("http://{addr}/"), Some("100ms"))).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // refused ("recursive config loading"): the first config serves on,
    // and a failed apply ends the loading, as Caddy's does
    assert_eq!(get(t.site(), "/").await.1, "first");
    assert_eq!(heads.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_loaders_are_refused_naming_the_field() {
    let t = start(site("ok")).await;
    let mut c = site("x");
    c["admin"] = json!({"listen": "127.0.0.1:0", "config": {"load": {"module": "consul"}}});
    let r = t.load(&c).await;
    assert!(
        r.error_message().contains("caddy.config_loaders.consul"),
        "{}",
        r.error_message()
    );
    for (load, delay, says) in [
        (
            json!({"module": "http", "url": "ftp://x/"}),
            None,
            "admin.config.load.url",
        ),
        (
            json!({"module": "redis", "key_prefix": "x"}),
            None,
            "admin.config.load.key_prefix",
        ),
        (
            json!({"module": "redis", "db": "-2"}),
            None,
            "admin.config.load.db",
        ),
        (
            json!({"module": "redis", "colour": 1}),
            None,
            "admin.config.load.colour",
        ),
        (
            json!({"module": "redis"}),
            Some("1s"),
            "admin.config.load_delay",
        ),
    ] {
        c["admin"]["config"] = json!({"load": load, "load_delay": delay});
        let r = t.load(&c).await;
        assert!(
            r.error_message().contains(says),
            "{says}: {}",
            r.error_message()
        );
    }
    assert_eq!(get(t.site(), "/").await.1, "ok");
}
