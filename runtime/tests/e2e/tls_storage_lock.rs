//! Two runtimes starting at the same moment on one fresh storage, both
//! managing one name with the internal issuer: the storage locks make one
//! CA and one certificate, which both serve (Caddy's `file_system` locks).

use crate::support::{start, TestServer};
use crate::tls_managed::{local_root, managed_config};
use crate::tls_support::*;
use serde_json::json;
use std::path::Path;
use std::sync::{Arc, Barrier};

const NAME: &str = "same.test";

fn serial(cert: &[u8]) -> String {
    bellhop_runtime::tls::der::parse(cert).unwrap().serial_hex
}

/// The file names under `dir` (relative), sorted.
/// The files in `dir`, but `last_clean.json` (when storage was last
/// cleaned: written by whichever runtime cleans first, at its own pace).
fn files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .filter(|f| f != "last_clean.json")
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Starts two runtimes on `storage` from two threads released together.
async fn start_two(storage: &Path) -> (TestServer, TestServer) {
    let automation =
        json!({"policies": [{"subjects": [NAME], "issuers": [{"module": "internal"}]}]});
    let config = managed_config(storage, automation, &[NAME]);
    let go = Arc::new(Barrier::new(2));
    let one = |config: serde_json::Value, go: Arc<Barrier>| {
        tokio::task::spawn_blocking(move || {
            go.wait();
            start(config)
        })
    };
    let (a, b) = tokio::join!(one(config.clone(), go.clone()), one(config, go));
    (a.unwrap(), b.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtimes_starting_together_on_one_storage_make_one_ca_and_one_certificate() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = start_two(dir.path()).await;
        // Both serve a chain to the root in storage: one CA was made.
        let c = client(&[&local_root(dir.path())], None, &[b"http/1.1"]);
        let mut serials = Vec::new();
        for s in [&a, &b] {
            let r = get_tls(c.clone(), s.addr, NAME, "/")
                .await
                .unwrap_or_else(|e| panic!("round {round}: a runtime serves another CA: {e}"));
            assert_eq!((r.status, r.body.as_str()), (200, NAME));
            serials.push(serial(&r.peer));
        }
        let stored = std::fs::read_to_string(
            dir.path()
                .join(format!("certificates/local/{NAME}/{NAME}.crt")),
        )
        .unwrap();
        let stored = bellhop_runtime::tls::load::parse_certs(stored.as_bytes()).unwrap();
        assert_eq!(
            serials,
            [serial(&stored[0]), serial(&stored[0])],
            "round {round}: both serve the one stored certificate"
        );
        assert_eq!(
            files(dir.path()),
            [
                format!("certificates/local/{NAME}/{NAME}.crt"),
                format!("certificates/local/{NAME}/{NAME}.json"),
                format!("certificates/local/{NAME}/{NAME}.key"),
                "pki/authorities/local/intermediate.crt".into(),
                "pki/authorities/local/intermediate.key".into(),
                "pki/authorities/local/root.crt".into(),
                "pki/authorities/local/root.key".into(),
            ],
            "round {round}: one root, one leaf, no lock or temporary file left"
        );
        a.rt.stop().await;
        b.rt.stop().await;
    }
}
