//! On-demand TLS with the internal issuer: a certificate is issued during
//! the handshake for a name the `permission` endpoint (a real HTTP server
//! started by the test) allows; a denied name fails the handshake;
//! concurrent handshakes for one name share one permission check and one
//! issuance; a catch-all on-demand policy reaching a public CA without a
//! permission module is refused, as Caddy refuses it.

use crate::tls_managed::managed_config;
use crate::tls_support::*;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An `ask` endpoint: 200 for `allowed` names, 403 for others; records
/// every domain it was asked about.
async fn ask_server(allowed: &'static [&'static str]) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let target = head.split(' ').nth(1).unwrap_or("").to_string();
                let domain = target
                    .split_once("?domain=")
                    .map(|(_, d)| d.to_string())
                    .unwrap_or_default();
                log.lock().unwrap().push(domain.clone());
                let ok = target.starts_with("/ask?") && allowed.contains(&domain.as_str());
                let status = if ok { "200 OK" } else { "403 Forbidden" };
                let resp =
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (addr, asked)
}

fn serial(cert: &[u8]) -> String {
    bellhop_runtime::tls::der::parse(cert).unwrap().serial_hex
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_certificates_are_issued_for_allowed_names_only() {
    let dir = tempfile::tempdir().unwrap();
    let (ask, asked) = ask_server(&["ok.test", "many.test"]).await;
    let automation = json!({
        "policies": [{"issuers": [{"module": "internal"}], "on_demand": true}],
        "on_demand": {"permission": {"module": "http", "endpoint": format!("http://{ask}/ask")}}
    });
    let storage = bellhop_runtime::tls::storage::Storage::new(dir.path());
    let (_, root) = bellhop_runtime::tls::root_certificate(&storage, "local").unwrap();
    let s = crate::support::start(managed_config(dir.path(), automation, &[]));
    let c = client(&[&root], None, &[b"http/1.1"]);
    let ok = get_tls(c.clone(), s.addr, "ok.test", "/")
        .await
        .expect("an allowed name gets a certificate during the handshake");
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok.test"));
    assert_eq!(dns_names(&ok.peer), vec!["ok.test"]);
    assert!(dir
        .path()
        .join("certificates/local/ok.test/ok.test.crt")
        .is_file());
    // Served from the cache the next time, without asking again.
    let again = get_tls(c.clone(), s.addr, "ok.test", "/").await.unwrap();
    assert_eq!(again.peer, ok.peer);
    assert_eq!(asked.lock().unwrap().as_slice(), ["ok.test"]);
    // A denied name fails the handshake and gets nothing.
    let denied = get_tls(c.clone(), s.addr, "denied.test", "/").await;
    assert!(denied.is_err(), "{denied:?}");
    assert!(!dir.path().join("certificates/local/denied.test").exists());
    // Concurrent handshakes for one name: one question, one certificate.
    let tries = (0..6).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { get_tls(c, s.addr, "many.test", "/").await })
    });
    let mut serials = Vec::new();
    for t in tries {
        let r = t
            .await
            .unwrap()
            .expect("every concurrent handshake succeeds");
        serials.push(serial(&r.peer));
    }
    serials.dedup();
    assert_eq!(serials.len(), 1, "one issuance: {serials:?}");
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked, ["ok.test", "denied.test", "many.test"]);
    s.rt.stop().await;
}

#[tokio::test]
async fn unbounded_on_demand_without_permission_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let acme = json!({"policies": [{"on_demand": true}]});
    let rt = bellhop_runtime::Runtime::new();
    let e = rt
        .load(managed_config(dir.path(), acme, &[]).to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("apps.tls.automation.policies[0].on_demand") && e.contains("permission module"),
        "{e}"
    );
    // Bounded subjects with the internal issuer need no permission module.
    let internal = json!({"policies": [{"subjects": ["a.test"], "issuers": [{"module": "internal"}], "on_demand": true}]});
    rt.load(
        managed_config(dir.path(), internal, &[])
            .to_string()
            .as_bytes(),
    )
    .expect("bounded internal on-demand loads");
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_on_demand_issuance_backs_off_instead_of_retrying_every_handshake() {
    let dir = tempfile::tempdir().unwrap();
    // Storage rooted at a regular file: every issuance fails.
    let storage = dir.path().join("not-a-directory");
    std::fs::write(&storage, "x").unwrap();
    let (ask, asked) = ask_server(&["fail.test", "other.test"]).await;
    let automation = json!({
        "policies": [{"issuers": [{"module": "internal"}], "on_demand": true}],
        "on_demand": {"permission": {"module": "http", "endpoint": format!("http://{ask}/ask")}}
    });
    let s = crate::support::start(managed_config(&storage, automation, &[]));
    let c = client(&[], None, &[b"http/1.1"]);
    let first = get_tls(c.clone(), s.addr, "fail.test", "/").await;
    assert!(first.is_err(), "{first:?}");
    assert_eq!(asked.lock().unwrap().as_slice(), ["fail.test"]);
    // The next handshakes for the name fail at once, without asking or
    // issuing again; another name is still tried.
    for _ in 0..3 {
        let t = std::time::Instant::now();
        assert!(get_tls(c.clone(), s.addr, "fail.test", "/").await.is_err());
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }
    assert!(get_tls(c.clone(), s.addr, "other.test", "/").await.is_err());
    assert_eq!(
        asked.lock().unwrap().as_slice(),
        ["fail.test", "other.test"],
        "a failed name waits before it is tried again"
    );
    s.rt.stop().await;
}

/// `apps.tls.cache.capacity`: with room for one certificate, on-demand
/// names evict each other and each is loaded again from storage (the same
/// certificate, no new issuance) at its next handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_capacity_evicts_and_on_demand_reloads_from_storage() {
    let dir = tempfile::tempdir().unwrap();
    let (ask, asked) = ask_server(&["one.test", "two.test"]).await;
    let automation = json!({
        "policies": [{"issuers": [{"module": "internal"}], "on_demand": true}],
        "on_demand": {"permission": {"module": "http", "endpoint": format!("http://{ask}/ask")}}
    });
    let storage = bellhop_runtime::tls::storage::Storage::new(dir.path());
    let (_, root) = bellhop_runtime::tls::root_certificate(&storage, "local").unwrap();
    let mut config = managed_config(dir.path(), automation, &[]);
    config["apps"]["tls"]["cache"] = json!({"capacity": 1});
    let s = crate::support::start(config);
    let c = client(&[&root], None, &[b"http/1.1"]);
    let first = get_tls(c.clone(), s.addr, "one.test", "/").await.unwrap();
    let second = get_tls(c.clone(), s.addr, "two.test", "/").await.unwrap();
    let tls = s.rt.current_instance().unwrap();
    let cache = &tls.tls.as_ref().unwrap().state.cache;
    assert_eq!(cache.len(), 1, "room for one");
    let again = get_tls(c.clone(), s.addr, "one.test", "/").await.unwrap();
    assert_eq!((again.status, again.body.as_str()), (200, "one.test"));
    assert_eq!(
        again.peer, first.peer,
        "the stored certificate, not a new one"
    );
    assert_eq!(cache.len(), 1);
    assert_ne!(second.peer, first.peer);
    assert!(asked
        .lock()
        .unwrap()
        .starts_with(&["one.test".to_string(), "two.test".to_string()]));
}
