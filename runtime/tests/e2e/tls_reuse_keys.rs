//! `reuse_private_keys` in automation policies (certmagic's
//! `ReusePrivateKeys`): a renewal under a policy that sets it keeps the
//! stored private key; by default every renewal makes a new key. Internal
//! certificates that are always due (`renewal_window_ratio` near 1)
//! renewed every second (`renew_interval`).

use crate::support::*;
use crate::tls_managed::{local_root, managed_config};
use crate::tls_support::*;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

const REUSE: &str = "reuse.test";
const FRESH: &str = "fresh.test";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn serial(cert: &[u8]) -> String {
    bellhop_runtime::tls::der::parse(cert).unwrap().serial_hex
}

/// The stored private key of `name` (PEM).
fn stored_key(storage: &Path, name: &str) -> String {
    std::fs::read_to_string(storage.join(format!("certificates/local/{name}/{name}.key")))
        .unwrap_or_else(|e| panic!("the key of {name} is stored: {e}"))
}

/// The raw public key of a PEM private key.
fn public_key(pem: &str) -> Vec<u8> {
    rcgen::KeyPair::from_pem(pem)
        .unwrap()
        .public_key_raw()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_reuses_the_private_key_only_when_the_policy_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // Leaves valid a minute (plus the minute of back-dating): always in
    // a 0.99 renewal window, so each check renews them.
    let policy = |name: &str| {
        json!({
            "subjects": [name],
            "issuers": [{"module": "internal", "lifetime": "1m"}],
            "renewal_window_ratio": 0.99
        })
    };
    let mut reuse = policy(REUSE);
    reuse["reuse_private_keys"] = json!(true);
    let automation = json!({"policies": [reuse, policy(FRESH)], "renew_interval": "1s"});
    let s = start(managed_config(dir.path(), automation, &[REUSE, FRESH]));
    let root = local_root(dir.path());
    let served = |name: &'static str| {
        // A new client each time: a resumed session shows no certificate.
        let c = client(&[&root], None, &[b"http/1.1"]);
        async move {
            let r = get_tls(c, s.addr, name, "/")
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.body, name);
            r.peer
        }
    };
    let first = [served(REUSE).await, served(FRESH).await];
    let keys = [stored_key(dir.path(), REUSE), stored_key(dir.path(), FRESH)];
    for (cert, key) in first.iter().zip(&keys) {
        assert!(
            contains(cert, &public_key(key)),
            "served with its stored key"
        );
    }
    // Wait until both names were renewed (a new serial served).
    let deadline = Instant::now() + Duration::from_secs(15);
    let renewed = loop {
        let now = [served(REUSE).await, served(FRESH).await];
        if serial(&now[0]) != serial(&first[0]) && serial(&now[1]) != serial(&first[1]) {
            break now;
        }
        assert!(Instant::now() < deadline, "no renewal within 15 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // reuse_private_keys: the same key, stored and served.
    assert_eq!(stored_key(dir.path(), REUSE), keys[0], "the key is kept");
    assert!(
        contains(&renewed[0], &public_key(&keys[0])),
        "the renewed certificate carries the old public key"
    );
    // The default: a new key with every renewal.
    assert_ne!(
        stored_key(dir.path(), FRESH),
        keys[1],
        "a new key is stored"
    );
    assert!(
        !contains(&renewed[1], &public_key(&keys[1])),
        "the renewed certificate carries a new public key"
    );
    s.rt.stop().await;
}
