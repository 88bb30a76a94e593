//! Certificates from tailscaled, end to end through the `bellhop` binary:
//! a site for a `*.ts.net` name gets no issuer (nothing is obtained at
//! start); each handshake for it asks the local tailscaled, here a
//! stand-in LocalAPI on a unix socket named by `TS_SOCKET` (tscert's own
//! override), which answers `/localapi/v0/status` with the node's
//! `CertDomains` and `/localapi/v0/cert/NAME?type=pair` with the key and
//! certificate PEM, as tailscaled does.

mod common;
use common::{bellhop_run, free_port, Proc};

#[path = "h3/client.rs"]
mod h3c;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NODE: &str = "box.tail1234.ts.net";

/// Starts the stand-in tailscaled at `socket`: the paths it was asked.
fn tailscaled(socket: &Path, ca: Arc<h3c::TestCa>) -> Arc<Mutex<Vec<String>>> {
    let l = UnixListener::bind(socket).unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let keep = asked.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (ca, keep) = (ca.clone(), keep.clone());
            std::thread::spawn(move || answer(s, &ca, &keep));
        }
    });
    asked
}

fn answer(s: UnixStream, ca: &h3c::TestCa, asked: &Mutex<Vec<String>>) {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut host = String::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some(v) = h
            .strip_prefix("host: ")
            .or_else(|| h.strip_prefix("Host: "))
        {
            host = v.trim().to_string();
        }
    }
    let path = line.split(' ').nth(1).unwrap_or("").to_string();
    asked.lock().unwrap().push(format!("{path} (host {host})"));
    let (status, body) = match path.as_str() {
        "/localapi/v0/status" => (
            "200 OK",
            format!(r#"{{"Version":"1.80.0","BackendState":"Running","CertDomains":["{NODE}"]}}"#),
        ),
        p if p == format!("/localapi/v0/cert/{NODE}?type=pair") => {
            let (cert, key) = ca.leaf_for(&[NODE]);
            ("200 OK", format!("{key}{cert}"))
        }
        _ => (
            "500 Internal Server Error",
            r#"{"error":"no such cert"}"#.to_string(),
        ),
    };
    let _ = r.get_mut().write_all(
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

#[test]
fn a_ts_net_site_is_served_with_tailscaleds_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Arc::new(h3c::TestCa::new());
    let socket = dir.path().join("tailscaled.sock");
    let asked = tailscaled(&socket, ca.clone());
    let (http, https) = (free_port(), free_port());
    let caddyfile = dir.path().join("Caddyfile");
    std::fs::write(
        &caddyfile,
        format!(
            "{{\n\thttp_port {http}\n\thttps_port {https}\n\tdefault_bind 127.0.0.1\n\tstorage file_system {}\n\tskip_install_trust\n}}\n\
             {NODE}, other.tail1234.ts.net {{\n\trespond \"via tailscale\"\n}}\n",
            dir.path().join("storage").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("bellhop.log");
    let _bellhop = Proc(
        bellhop_run(dir.path(), &caddyfile)
            .env("TS_SOCKET", &socket)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    let addr = format!("127.0.0.1:{https}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        match h3c::https_get_name(addr, &ca, NODE) {
            Ok(b) => break b,
            Err(e) if Instant::now() > deadline => panic!("{e}\n{}", text()),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert_eq!(body, "via tailscale");
    let seen = asked.lock().unwrap().clone();
    let host = "(host local-tailscaled.sock)";
    assert!(
        seen.contains(&format!("/localapi/v0/status {host}")),
        "{seen:?}"
    );
    assert!(
        seen.contains(&format!("/localapi/v0/cert/{NODE}?type=pair {host}")),
        "{seen:?}"
    );
    // A tailnet name the node has no certificate for: tailscaled is not
    // asked for one, and the handshake finds none.
    asked.lock().unwrap().clear();
    let err = h3c::https_get_name(addr, &ca, "other.tail1234.ts.net").unwrap_err();
    assert_eq!(
        asked.lock().unwrap().clone(),
        [format!("/localapi/v0/status {host}")],
        "{err}"
    );
    // Nothing was obtained or stored: tailscaled manages these names.
    let log = text();
    assert!(!log.contains("managing certificate"), "{log}");
    assert!(!dir.path().join("storage/certificates").exists(), "{log}");
}
