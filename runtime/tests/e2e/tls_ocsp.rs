//! OCSP stapling end to end: a certificate whose leaf names an OCSP
//! responder is loaded; the responder is `openssl ocsp` run by the test
//! over an index of the test CA; `openssl s_client -status` sees the
//! staple in the handshake, and the answer is kept in storage, where
//! another instance finds it with the responder gone. With
//! `disable_ocsp_stapling`, nothing is stapled.

use crate::support::*;
use crate::tls_support::*;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `openssl ocsp` answering for `ca` from `index`, on `port`.
struct Responder(Child);

impl Drop for Responder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn responder(dir: &Path, ca: &TestCa, serial: &str, port: u16) -> Responder {
    std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
    std::fs::write(dir.join("ca.key"), &ca.key_pem).unwrap();
    // index.txt: status, expiry, revocation, serial, file, subject
    let mut index = std::fs::File::create(dir.join("index.txt")).unwrap();
    writeln!(
        index,
        "V\t491231235959Z\t\t{serial}\tunknown\t/CN=ocsp.test"
    )
    .unwrap();
    let child = Command::new("openssl")
        .args(["ocsp", "-index", "index.txt", "-port", &port.to_string()])
        .args(["-rsigner", "ca.pem", "-rkey", "ca.key", "-CA", "ca.pem"])
        .args(["-ndays", "1"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("ocsp.log")).unwrap())
        .spawn()
        .expect("openssl ocsp (apt-get install openssl)");
    // Ready once it says so (a probing connection would stall it: it
    // serves one client at a time and waits on an empty one).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(dir.join("ocsp.log"))
        .unwrap_or_default()
        .contains("waiting for OCSP client connections")
    {
        assert!(Instant::now() < deadline, "openssl ocsp never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    Responder(child)
}

/// What `openssl s_client -status` prints about the staple of `addr`.
fn s_client_status(addr: std::net::SocketAddr) -> String {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            "ocsp.test",
        ])
        .args(["-status"])
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `s_client_status` of `addr` once it shows a staple (or after 15 s).
async fn stapled(addr: std::net::SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = tokio::task::spawn_blocking(move || s_client_status(addr))
            .await
            .unwrap();
        if out.contains("OCSP Response Status: successful") || Instant::now() > deadline {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn tls_config(chain: &str, key: &str, storage: &Path, disable: bool) -> serde_json::Value {
    json!({
        "storage": {"module": "file_system", "root": storage.display().to_string()},
        "apps": {
            "tls": {"certificates": {"load_pem": [{"certificate": chain, "key": key}]},
                    "disable_ocsp_stapling": disable},
            "http": {"servers": {"s": {
                "listen": ["127.0.0.1:0"],
                "tls_connection_policies": [{}],
                "routes": [{"handle": [respond("ok")]}]
            }}}
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loaded_certificate_gets_its_ocsp_response_stapled() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ca = TestCa::new("OCSP test CA");
    let url = format!("http://127.0.0.1:{port}");
    let (leaf, key, serial) = ca.leaf_with_ocsp(&["ocsp.test"], &url);
    let responder = responder(dir.path(), &ca, &serial, port);
    let chain = format!("{leaf}{}", ca.pem);
    let storage = dir.path().join("storage");
    let s = start(tls_config(&chain, &key, &storage, false));
    let status = stapled(s.addr).await;
    assert!(
        status.contains("OCSP Response Status: successful"),
        "{status}"
    );
    assert!(status.contains("Cert Status: good"), "{status}");
    assert!(status.contains("Next Update:"), "{status}");
    let kept: Vec<_> = std::fs::read_dir(storage.join("ocsp"))
        .expect("the staple is kept in storage")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        kept.len() == 1 && kept[0].starts_with("ocsp.test-"),
        "{kept:?}"
    );
    // With the responder gone, another instance on the same storage
    // staples what is kept there.
    drop(responder);
    let again = start(tls_config(&chain, &key, &storage, false));
    let status = stapled(again.addr).await;
    assert!(status.contains("Cert Status: good"), "{status}");
    // Off: no staple, however long one waits for it.
    let off = start(tls_config(&chain, &key, &dir.path().join("other"), true));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = tokio::task::spawn_blocking(move || s_client_status(off.addr))
        .await
        .unwrap();
    assert!(
        status.contains("OCSP response: no response sent"),
        "{status}"
    );
}
