//! ACME against a real ACME server: Debian's `pebble`, started by the
//! test on loopback with its own config (challenge ports pointed at
//! bellhop's listeners, `PEBBLE_VA_NOSLEEP=1`, `-dnsserver` pointed at a
//! tiny UDP DNS responder answering A 127.0.0.1 for every name). A
//! certificate is obtained through HTTP-01 and through TLS-ALPN-01,
//! stored, served to a client trusting pebble's issuing root, and reused
//! by a restarted runtime without a new order, and renewed (a new serial
//! stored and served) once due under `renewal_window_ratio`, checked every
//! `renew_interval`: with a new key, or the old one under
//! `reuse_private_keys`.
//!
//! Without pebble the tests fail, saying how to install it.

use crate::dns_responder::start_dns;
use crate::support::*;
use crate::tls_support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn pebble_bin() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("pebble"))
            .find(|f| f.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("pebble (the ACME test server) is not installed: run `apt-get install -y pebble`")
    })
}

/// A pebble, prepared then started; killed on drop.
pub struct Pebble {
    child: Option<Child>,
    api: u16,
    directory: String,
    pub management: SocketAddr,
    /// The CA (PEM file) of pebble's own HTTPS listeners.
    api_ca_file: PathBuf,
    pub api_ca: TestCa,
    /// Alternate chains pebble offers (`PEBBLE_ALTERNATE_ROOTS`).
    pub alternate_roots: u32,
    /// When set, pebble requires external account binding with these
    /// MAC keys (key ID to base64url key).
    pub eab_keys: Option<Value>,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Picks pebble's ports and writes its API certificate, so that bellhop's
/// config can name the directory before pebble runs.
pub fn prepare_pebble(dir: &Path) -> Pebble {
    let api_ca = TestCa::new("pebble API CA");
    let (cert, key) = api_ca.leaf(&["localhost", "127.0.0.1"]);
    let api_ca_file = dir.join("api-ca.pem");
    std::fs::write(&api_ca_file, &api_ca.pem).unwrap();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let (api, mgmt) = (free_port(), free_port());
    Pebble {
        child: None,
        api,
        directory: format!("https://127.0.0.1:{api}/dir"),
        management: format!("127.0.0.1:{mgmt}").parse().unwrap(),
        api_ca_file,
        api_ca,
        alternate_roots: 0,
        eab_keys: None,
    }
}

/// Starts pebble validating challenges on bellhop's ports, issuing
/// certificates valid `validity` seconds (pebble's default: five years).
pub fn start_pebble(
    pebble: &mut Pebble,
    dir: &Path,
    (http_port, tls_port): (u16, u16),
    validity: Option<u64>,
) {
    let bin = pebble_bin();
    let (api, mgmt) = (pebble.api, pebble.management.port());
    let mut config = json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{api}"),
        "managementListenAddress": format!("127.0.0.1:{mgmt}"),
        "certificate": dir.join("cert.pem"),
        "privateKey": dir.join("key.pem"),
        "httpPort": http_port,
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false
    }});
    if let Some(v) = validity {
        config["pebble"]["certificateValidityPeriod"] = json!(v);
    }
    if let Some(keys) = &pebble.eab_keys {
        config["pebble"]["externalAccountBindingRequired"] = json!(true);
        config["pebble"]["externalAccountMACKeys"] = keys.clone();
    }
    let config_file = dir.join("pebble-config.json");
    std::fs::write(&config_file, config.to_string()).unwrap();
    let log = std::fs::File::create(dir.join("pebble.log")).unwrap();
    let child = Command::new(bin)
        .arg("-config")
        .arg(&config_file)
        .arg("-dnsserver")
        .arg(start_dns().to_string())
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_ALTERNATE_ROOTS", pebble.alternate_roots.to_string())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("pebble starts");
    pebble.child = Some(child);
    // Under a full parallel test run pebble can take a while to start.
    let deadline = Instant::now() + Duration::from_secs(30);
    for port in [api, mgmt] {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = pebble
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            let log = || std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default();
            assert!(exited.is_none(), "pebble exited ({exited:?}):\n{}", log());
            assert!(
                Instant::now() < deadline,
                "pebble did not listen on {port}:\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn bellhop_config(
    storage: &Path,
    pebble: &Pebble,
    name: &str,
    ports: (u16, u16),
    issuer: Value,
) -> Value {
    let mut issuer = issuer;
    issuer["module"] = json!("acme");
    issuer["ca"] = json!(pebble.directory);
    issuer["trusted_roots_pem_files"] = json!([pebble.api_ca_file.display().to_string()]);
    let server = |port: u16, tls: bool| {
        let mut s = json!({
            "listen": [format!("127.0.0.1:{port}")],
            "automatic_https": {"disable": true},
            "routes": [{"handle": [{"handler": "static_response", "body": "hello {http.request.scheme}"}]}]
        });
        if tls {
            s["tls_connection_policies"] = json!([{}]);
        }
        s
    };
    json!({
        "storage": {"module": "file_system", "root": storage.display().to_string()},
        "apps": {
            "tls": {
                "certificates": {"automate": [name]},
                "automation": {"policies": [{"subjects": [name], "issuers": [issuer]}]}
            },
            "http": {"servers": {"http": server(ports.0, false), "https": server(ports.1, true)}}
        }
    })
}

/// The stored certificate file named `file`, waiting up to `limit`.
pub fn wait_for_file(root: &Path, file: &str, limit: Duration) -> Option<PathBuf> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(p) = find_file(root, file) {
            return Some(p);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn find_file(dir: &Path, file: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, file) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == file) {
            return Some(p);
        }
    }
    None
}

/// Obtains a certificate for `name` from a fresh pebble with `issuer`'s
/// settings, checks it is stored and served, and reused on restart.
async fn obtain_and_serve(name: &str, issuer: Value) {
    obtain_and_serve_with(name, issuer, None).await
}

/// [`obtain_and_serve`] from a pebble requiring EAB with `eab_keys`.
async fn obtain_and_serve_with(name: &str, issuer: Value, eab_keys: Option<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let mut pebble = prepare_pebble(dir.path());
    pebble.eab_keys = eab_keys;
    // bellhop binds its ports first (no race for free ports), then pebble
    // starts validating on them; the first order attempt fails and is
    // retried.
    let s = start(bellhop_config(
        &storage,
        &pebble,
        name,
        (0, 0),
        issuer.clone(),
    ));
    let port = |server: &str| s.rt.server_addrs(server)[0].port();
    let ports = (port("http"), port("https"));
    start_pebble(&mut pebble, dir.path(), ports, None);
    let log = || std::fs::read_to_string(dir.path().join("pebble.log")).unwrap_or_default();
    let crt = tokio::task::block_in_place(|| {
        wait_for_file(&storage, &format!("{name}.crt"), Duration::from_secs(40))
    })
    .unwrap_or_else(|| {
        panic!(
            "no certificate for {name} in storage; pebble said:\n{}",
            log()
        )
    });
    assert!(crt.with_extension("key").is_file(), "the key is stored too");
    // pebble's issuing root, from its management API.
    let api = client(&[&pebble.api_ca.pem], None, &[b"http/1.1"]);
    let root = get_tls(api, pebble.management, "localhost", "/roots/0")
        .await
        .expect("pebble's management API answers");
    assert_eq!(root.status, 200, "{}", root.body);
    let https: SocketAddr = format!("127.0.0.1:{}", ports.1).parse().unwrap();
    let c = client(&[&root.body], None, &[b"http/1.1"]);
    let r = get_tls(c, https, name, "/")
        .await
        .unwrap_or_else(|e| panic!("bellhop serves the ACME certificate: {e}"));
    assert_eq!((r.status, r.body.as_str()), (200, "hello https"));
    assert_eq!(dns_names(&r.peer), vec![name.to_string()]);
    // A restart on the same storage reuses the certificate: no new order.
    let orders = log().matches("POST /order-plz").count();
    s.rt.stop().await;
    drop(s);
    // (On new ports: the stored certificate needs no validation.)
    let again = start(bellhop_config(&storage, &pebble, name, (0, 0), issuer));
    let https = again.rt.server_addrs("https")[0];
    let c = client(&[&root.body], None, &[b"http/1.1"]);
    let r2 = get_tls(c, https, name, "/")
        .await
        .unwrap_or_else(|e| panic!("the restarted bellhop serves the stored certificate: {e}"));
    assert_eq!(r2.peer, r.peer, "the stored certificate is served again");
    assert_eq!(
        log().matches("POST /order-plz").count(),
        orders,
        "no new order"
    );
    again.rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pebble_issues_a_certificate_through_http01() {
    obtain_and_serve(
        "http01.bellhop.test",
        json!({"challenges": {"tls-alpn": {"disabled": true}}}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pebble_issues_a_certificate_through_tls_alpn01() {
    obtain_and_serve(
        "alpn.bellhop.test",
        json!({"challenges": {"http": {"disabled": true}}}),
    )
    .await;
}

/// pebble's EAB key for the tests: "kid-1" with 32 bytes, base64url.
fn eab_keys() -> Value {
    json!({"kid-1": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pebble_requiring_eab_issues_with_the_configured_credentials() {
    let eab = json!({"key_id": "kid-1", "mac_key": eab_keys()["kid-1"]});
    obtain_and_serve_with(
        "eab.bellhop.test",
        json!({"external_account": eab, "challenges": {"tls-alpn": {"disabled": true}}}),
        Some(eab_keys()),
    )
    .await;
}

/// A MAC key that is not base64url loads, as in Caddy, with a warning
/// naming the field; registering fails, saying why, and no account is
/// asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eab_mac_key_that_is_not_base64url_fails_at_registration() {
    crate::log_capture::install();
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let mut pebble = prepare_pebble(dir.path());
    pebble.eab_keys = Some(eab_keys());
    let name = "badmac.bellhop.test";
    let issuer = json!({"external_account": {"key_id": "kid-1", "mac_key": "not*base64url"}});
    let s = start(bellhop_config(&storage, &pebble, name, (0, 0), issuer));
    let port = |server: &str| s.rt.server_addrs(server)[0].port();
    start_pebble(&mut pebble, dir.path(), (port("http"), port("https")), None);
    let warned = crate::log_capture::lines_with(&[
        "external_account.mac_key",
        "not valid base64url",
        "will fail",
    ]);
    assert!(!warned.is_empty(), "no warning at load");
    let deadline = Instant::now() + Duration::from_secs(20);
    let failed = loop {
        let lines = crate::log_capture::lines_with(&[
            name,
            "external_account.mac_key: the EAB MAC key is not valid base64url",
        ]);
        if !lines.is_empty() || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        !failed.is_empty(),
        "registering did not fail naming the key"
    );
    let log = std::fs::read_to_string(dir.path().join("pebble.log")).unwrap_or_default();
    assert!(
        !log.contains("sign-me-up"),
        "an account was asked for:\n{log}"
    );
    assert!(find_file(&storage, &format!("{name}.crt")).is_none());
    s.rt.stop().await;
}

/// The serial number of the stored certificate file `crt`.
fn stored_serial(crt: &Path) -> String {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let pem = std::fs::read(crt).unwrap();
    let leaf = CertificateDer::pem_slice_iter(&pem)
        .next()
        .unwrap()
        .unwrap();
    serial(&leaf)
}

fn serial(cert: &[u8]) -> String {
    bellhop_runtime::tls::der::parse(cert).unwrap().serial_hex
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pebble_certificate_is_renewed_when_due() {
    renew_when_due("renew.bellhop.test", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pebble_renewal_reuses_the_key_under_reuse_private_keys() {
    renew_when_due("reuse.bellhop.test", true).await;
}

/// The raw public key of the PEM private key in `file`.
fn public_key(file: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(file).unwrap();
    rcgen::KeyPair::from_pem(&pem)
        .unwrap()
        .public_key_raw()
        .to_vec()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A certificate is obtained, then renewed when due: with the stored
/// key under `reuse_private_keys`, with a new one otherwise.
async fn renew_when_due(name: &str, reuse: bool) {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let mut pebble = prepare_pebble(dir.path());
    let issuer = json!({"challenges": {"tls-alpn": {"disabled": true}}});
    let mut config = bellhop_config(&storage, &pebble, name, (0, 0), issuer);
    // pebble issues 30-second certificates; one is due for renewal once
    // a fifth of its life has passed, and the check runs every second.
    config["apps"]["tls"]["automation"]["policies"][0]["renewal_window_ratio"] = json!(0.8);
    config["apps"]["tls"]["automation"]["renew_interval"] = json!("1s");
    config["apps"]["tls"]["automation"]["policies"][0]["reuse_private_keys"] = json!(reuse);
    let s = start(config);
    let port = |server: &str| s.rt.server_addrs(server)[0].port();
    let ports = (port("http"), port("https"));
    start_pebble(&mut pebble, dir.path(), ports, Some(30));
    let log = || std::fs::read_to_string(dir.path().join("pebble.log")).unwrap_or_default();
    let crt = tokio::task::block_in_place(|| {
        wait_for_file(&storage, &format!("{name}.crt"), Duration::from_secs(20))
    })
    .unwrap_or_else(|| panic!("no first certificate; pebble said:\n{}", log()));
    let api = client(&[&pebble.api_ca.pem], None, &[b"http/1.1"]);
    let root = get_tls(api, pebble.management, "localhost", "/roots/0")
        .await
        .expect("pebble's management API answers");
    let https: SocketAddr = format!("127.0.0.1:{}", ports.1).parse().unwrap();
    let served = || async {
        let c = client(&[&root.body], None, &[b"http/1.1"]);
        let r = get_tls(c, https, name, "/").await.expect("bellhop serves");
        assert_eq!(r.status, 200);
        (serial(&r.peer), r.peer)
    };
    let first_key = public_key(&crt.with_extension("key"));
    let (first, first_cert) = served().await;
    assert!(
        contains(&first_cert, &first_key),
        "served with the stored key"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let (second, second_cert) = loop {
        let now = served().await;
        if now.0 != first {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "no renewed certificate served within 20 s; pebble said:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_ne!(stored_serial(&crt), first, "the renewal is stored");
    assert!(!second.is_empty());
    assert!(log().matches("POST /order-plz").count() >= 2, "a new order");
    assert_eq!(
        contains(&second_cert, &first_key),
        reuse,
        "the renewed certificate has the old key only under reuse_private_keys"
    );
    let stored_key = public_key(&crt.with_extension("key"));
    assert_eq!(stored_key == first_key, reuse, "the stored key");
    s.rt.stop().await;
}
