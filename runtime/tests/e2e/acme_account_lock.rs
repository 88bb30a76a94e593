//! Two runtimes starting together on one fresh storage, each managing
//! its own name through one ACME issuer (same CA, same email), against
//! pebble: the account's storage lock makes one registration, which both
//! use (the second finds it in storage). pebble validates on the ports
//! of a third runtime: challenge answers are shared by the process.

use crate::acme_pebble::{bellhop_config, prepare_pebble, start_pebble, wait_for_file};
use crate::support::*;
use serde_json::json;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// Starts a runtime for each config from threads released together.
async fn start_together(a: serde_json::Value, b: serde_json::Value) -> (TestServer, TestServer) {
    let go = Arc::new(Barrier::new(2));
    let one = |config: serde_json::Value, go: Arc<Barrier>| {
        tokio::task::spawn_blocking(move || {
            go.wait();
            start(config)
        })
    };
    let (a, b) = tokio::join!(one(a, go.clone()), one(b, go));
    (a.unwrap(), b.unwrap())
}

/// The files named `name` under `dir`, recursively.
fn count_files(dir: &Path, name: &str) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += count_files(&p, name);
        } else if p.file_name().is_some_and(|f| f == name) {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtimes_sharing_storage_register_one_acme_account() {
    let dir = tempfile::tempdir().unwrap();
    let mut pebble = prepare_pebble(dir.path());
    let responder = start_routes(json!([]));
    let port = responder.addr.port();
    start_pebble(&mut pebble, dir.path(), (port, port), None);
    let log = || std::fs::read_to_string(dir.path().join("pebble.log")).unwrap_or_default();
    let registrations = || log().matches("POST /sign-me-up").count();
    for round in 0..3 {
        let storage = dir.path().join(format!("storage{round}"));
        let issuer = json!({
            "email": format!("round{round}@bellhop.test"),
            "challenges": {"tls-alpn": {"disabled": true}}
        });
        let names = [
            format!("a{round}.bellhop.test"),
            format!("b{round}.bellhop.test"),
        ];
        let config = |name: &str| bellhop_config(&storage, &pebble, name, (0, 0), issuer.clone());
        let before = registrations();
        let (a, b) = start_together(config(&names[0]), config(&names[1])).await;
        for name in &names {
            tokio::task::block_in_place(|| {
                wait_for_file(&storage, &format!("{name}.crt"), Duration::from_secs(20))
            })
            .unwrap_or_else(|| panic!("round {round}: no certificate for {name}:\n{}", log()));
        }
        assert_eq!(
            registrations() - before,
            1,
            "round {round}: one account registered for both runtimes"
        );
        assert_eq!(count_files(&storage.join("acme"), "account.json"), 1);
        let locks: Vec<_> = std::fs::read_dir(storage.join("locks")).unwrap().collect();
        assert!(locks.is_empty(), "round {round}: locks left: {locks:?}");
        a.rt.stop().await;
        b.rt.stop().await;
    }
    responder.rt.stop().await;
}
