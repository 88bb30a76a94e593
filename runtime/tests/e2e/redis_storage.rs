//! The `redis` storage module against a real `redis-server`: values, the
//! folder index and the envelope as pberkel/caddy-storage-redis lays them
//! out; locks that exclude, stay alive while held and expire when their
//! holder is gone; and an outage that fails calls quickly and heals by
//! itself when the server is back; TLS to the server, trusting the
//! certificates named, or any under `tls_insecure`.

use crate::redis_support::Redis;
use bellhop_runtime::tls::storage::Storage;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn storage(v: Value) -> Storage {
    Storage::from_config(v.as_object(), "storage").unwrap()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn values_folders_and_envelopes_are_pberkels() {
    let redis = Redis::start();
    let s = storage(redis.storage(json!({
        "key_prefix": "fleet", "compression": "zlib",
        "encryption_key": "0123456789abcdef0123456789abcdef"
    })));
    let crt = "-----BEGIN CERTIFICATE-----\n".repeat(30);
    s.write("certificates/acme/a.test/a.test.crt", crt.as_bytes(), false)
        .unwrap();
    s.write("certificates/acme/a.test/a.test.key", b"key", true)
        .unwrap();
    s.write("acme/ca/users/u/account.json", b"{}", true)
        .unwrap();
    assert_eq!(
        s.read_string("certificates/acme/a.test/a.test.crt")
            .unwrap()
            .unwrap(),
        crt
    );
    assert_eq!(s.read("certificates/acme/b.test/b.test.crt").unwrap(), None);
    assert_eq!(
        s.try_list("certificates").unwrap(),
        [
            "certificates/acme/a.test/a.test.crt",
            "certificates/acme/a.test/a.test.key"
        ]
    );
    assert_eq!(s.list("").len(), 3);
    // The layout in Redis: folder sets, and JSON envelopes.
    assert_eq!(
        sorted(redis.list(&["ZRANGE", "fleet", "0", "-1"])),
        ["acme/", "certificates/"]
    );
    assert_eq!(
        redis.list(&["ZRANGE", "fleet/certificates/acme", "0", "-1"]),
        ["a.test/"]
    );
    let raw = redis
        .text(&["GET", "fleet/certificates/acme/a.test/a.test.crt"])
        .unwrap();
    let env: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        (
            env["size"].as_u64(),
            env["compression"].as_u64(),
            env["encryption"].as_u64()
        ),
        (Some(crt.len() as u64), Some(2), Some(1))
    );
    assert!(!raw.contains("BEGIN"), "stored encrypted: {raw}");
    // The same keys read through a storage with the wrong key fail, naming
    // the key, rather than yielding garbage.
    let wrong =
        storage(redis.storage(json!({"key_prefix": "fleet", "encryption_key": "x".repeat(32)})));
    let e = wrong
        .read("certificates/acme/a.test/a.test.key")
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("certificates/acme/a.test/a.test.key"),
        "{e}"
    );
    // Deleting the last keys of a folder removes it from the folders above.
    s.delete("certificates/acme/a.test/a.test.crt").unwrap();
    s.delete("certificates/acme/a.test/a.test.key").unwrap();
    s.delete("certificates/acme/a.test/a.test.key").unwrap();
    assert_eq!(redis.list(&["ZRANGE", "fleet", "0", "-1"]), ["acme/"]);
    assert!(s.try_list("certificates").unwrap().is_empty());
    assert_eq!(
        s.describe("x/y"),
        format!("redis://127.0.0.1:{}/0/fleet/x/y", redis.port)
    );
}

#[test]
fn locks_exclude_stay_alive_and_expire_with_their_holder() {
    let redis = Redis::start();
    let a = storage(redis.storage(json!({})));
    // Another instance: its own settings, so its own connection.
    let b = storage(redis.storage(json!({"timeout": "2"})));
    let held = a
        .lock_blocking("issue_cert_a.test", Duration::from_secs(5))
        .unwrap();
    let e = b
        .lock_blocking("issue_cert_a.test", Duration::from_millis(300))
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    // Past the lock's 5 s lifetime it is still held: its holder refreshes it.
    std::thread::sleep(Duration::from_millis(5600));
    let ttl: i64 = redis
        .text(&["PTTL", "caddy/locks/issue_cert_a.test"])
        .unwrap()
        .parse()
        .unwrap();
    assert!(ttl > 0, "refreshed: {ttl}");
    assert!(b
        .lock_blocking("issue_cert_a.test", Duration::from_millis(200))
        .is_err());
    drop(held);
    assert_eq!(
        redis.text(&["GET", "caddy/locks/issue_cert_a.test"]),
        None,
        "released"
    );
    let t = Instant::now();
    let again = b
        .lock_blocking("issue_cert_a.test", Duration::from_secs(1))
        .unwrap();
    assert!(t.elapsed() < Duration::from_millis(200));
    drop(again);
    // A holder that died (a token nobody refreshes) loses it at expiry.
    redis
        .query(&["SET", "caddy/locks/ca_local", "dead-holder", "PX", "1500"])
        .unwrap();
    let t = Instant::now();
    let g = b.lock_blocking("ca_local", Duration::from_secs(5)).unwrap();
    let waited = t.elapsed();
    assert!(
        waited > Duration::from_millis(1000) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
    // Releasing never removes a lock that is someone else's now.
    redis
        .query(&["SET", "caddy/locks/ca_local", "other", "PX", "10000"])
        .unwrap();
    drop(g);
    assert_eq!(
        redis.text(&["GET", "caddy/locks/ca_local"]).as_deref(),
        Some("other")
    );
}

#[test]
fn an_outage_fails_fast_and_heals_when_redis_is_back() {
    let mut redis = Redis::start();
    let s = storage(redis.storage(json!({"key_prefix": "outage"})));
    s.write("a", b"1", false).unwrap();
    redis.stop();
    assert!(s.read("a").is_err());
    // While the server is away, calls fail at once, not after a timeout.
    let t = Instant::now();
    for _ in 0..20 {
        assert!(s.read("a").is_err());
    }
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    redis.resume();
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        match s.write("b", b"2", false) {
            Ok(()) => break,
            Err(e) => assert!(Instant::now() < deadline, "still failing: {e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(s.read("b").unwrap().unwrap(), b"2");
}

#[test]
fn tls_to_redis_trusts_the_named_certificates_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = crate::tls_support::TestCa::new("redis test CA");
    let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"]);
    let (cert_file, key_file, ca_file) = (
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let redis = Redis::start_tls(cert_file, key_file);
    let tls_port = redis.tls.as_ref().unwrap().0;
    let at = |extra: Value| {
        let mut v = json!({"module": "redis", "address": [format!("127.0.0.1:{tls_port}")], "tls_enabled": true, "timeout": "2"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        storage(v)
    };
    let trusted = at(json!({"tls_server_certs_path": ca_file.display().to_string()}));
    trusted.write("k", b"over tls", false).unwrap();
    assert_eq!(trusted.read("k").unwrap().unwrap(), b"over tls");
    assert!(trusted.describe("k").starts_with("rediss://"));
    let pem = at(json!({"tls_server_certs_pem": ca.pem}));
    assert_eq!(pem.read("k").unwrap().unwrap(), b"over tls");
    // The system's roots do not know the test CA.
    let e = at(json!({})).read("k").unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    let insecure = at(json!({"tls_insecure": true}));
    assert_eq!(insecure.read("k").unwrap().unwrap(), b"over tls");
    // Plain text to the TLS port is no Redis conversation.
    let plain = storage(
        json!({"module": "redis", "address": [format!("127.0.0.1:{tls_port}")], "timeout": "1"}),
    );
    assert!(plain.read("k").is_err());
}
