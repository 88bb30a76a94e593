//! TLS end to end: certificates from PEM, SNI choosing between sites,
//! `curl --cacert`, mTLS accepted and refused, TLS 1.1 refused, the
//! internal CA with automatic HTTPS (redirect, trusted root in storage).

use crate::support::*;
use crate::tls_support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;

fn tls_config(storage: &std::path::Path, policies: Value, certs: Value) -> Value {
    json!({
        "storage": {"module": "file_system", "root": storage.display().to_string()},
        "apps": {
            "tls": {"certificates": {"load_pem": certs}},
            "http": {"servers": {"srv0": {
                "listen": ["127.0.0.1:0"],
                "tls_connection_policies": policies,
                "routes": [{"handle": [{"handler": "static_response", "body": "hello {http.request.scheme}"}]}]
            }}}
        }
    })
}

fn two_sites(ca: &TestCa) -> Value {
    let (a, ak) = ca.leaf(&["a.test"]);
    let (b, bk) = ca.leaf(&["b.test"]);
    json!([{"certificate": a, "key": ak, "tags": ["a"]}, {"certificate": b, "key": bk}])
}

#[tokio::test]
async fn sni_selects_the_certificate_and_the_client_verifies_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let s = start(tls_config(dir.path(), json!([{}]), two_sites(&ca)));
    let client = client(&[&ca.pem], None, &[b"http/1.1"]);
    let a = get_tls(client.clone(), s.addr, "a.test", "/")
        .await
        .unwrap();
    assert_eq!((a.status, a.body.as_str()), (200, "hello https"));
    assert_eq!(dns_names(&a.peer), vec!["a.test"]);
    let b = get_tls(client.clone(), s.addr, "b.test", "/")
        .await
        .unwrap();
    assert_eq!(dns_names(&b.peer), vec!["b.test"]);
    // A client trusting another CA refuses the server.
    let other = TestCa::new("Other");
    let e = get_tls(client_for(&other), s.addr, "a.test", "/")
        .await
        .unwrap_err();
    assert!(
        e.contains("UnknownIssuer") || e.contains("invalid peer certificate"),
        "{e}"
    );
}

fn client_for(ca: &TestCa) -> std::sync::Arc<rustls::ClientConfig> {
    client(&[&ca.pem], None, &[b"http/1.1"])
}

#[tokio::test]
async fn alpn_offers_h2_then_http11_and_policies_select_by_sni() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let policies = json!([
        {"match": {"sni": ["a.test"]}, "alpn": ["http/1.1"], "certificate_selection": {"any_tag": ["a"]}},
        {"match": {"sni": ["b.test"]}}
    ]);
    let s = start(tls_config(dir.path(), policies, two_sites(&ca)));
    let c = client(&[&ca.pem], None, &[b"h2", b"http/1.1"]);
    let a = get_tls(c.clone(), s.addr, "a.test", "/").await.unwrap();
    assert_eq!(a.alpn.as_deref(), Some(&b"http/1.1"[..]));
    let c1 = client(&[&ca.pem], None, &[b"http/1.1"]);
    let b = get_tls(c1, s.addr, "b.test", "/").await.unwrap();
    assert_eq!(b.alpn.as_deref(), Some(&b"http/1.1"[..]));
    // No policy matches c.test: the handshake fails.
    let e = get_tls(c, s.addr, "c.test", "/").await.unwrap_err();
    assert!(!e.is_empty());
}

#[tokio::test]
async fn curl_with_cacert_gets_the_page_over_h2() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let s = start(tls_config(dir.path(), json!([{}]), two_sites(&ca)));
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let port = s.addr.port();
    let url = format!("https://b.test:{port}/");
    let resolve = format!("b.test:{port}:127.0.0.1");
    // curl blocks: run it off the test's runtime thread.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-sS", "--http2", "-w", " %{http_version}", "--cacert"])
            .arg(&ca_file)
            .arg("--resolve")
            .arg(resolve)
            .arg(url)
            .output()
            .expect("curl runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "hello https 2");
}

/// Connection policies requiring a client certificate signed by `ca`.
fn require_client_certs(dir: &std::path::Path, ca: &TestCa) -> Value {
    let ca_file = dir.join("clients.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    json!([{"client_authentication": {
        "trusted_ca_certs_pem_files": [ca_file.display().to_string()],
        "mode": "require_and_verify"
    }}])
}

#[tokio::test]
async fn mtls_accepts_a_trusted_client_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Server CA");
    let client_ca = TestCa::new("Client CA");
    let policies = require_client_certs(dir.path(), &client_ca);
    let s = start(tls_config(dir.path(), policies, two_sites(&ca)));
    let (cc, ck) = client_ca.leaf(&["client.test"]);
    let good = client(&[&ca.pem], Some((&cc, &ck)), &[b"http/1.1"]);
    let r = get_tls(good, s.addr, "a.test", "/").await.unwrap();
    assert_eq!(r.status, 200);
    let none = client(&[&ca.pem], None, &[b"http/1.1"]);
    assert!(
        get_tls(none, s.addr, "a.test", "/").await.is_err(),
        "no client cert"
    );
    let rogue = TestCa::new("Rogue");
    let (rc, rk) = rogue.leaf(&["client.test"]);
    let bad = client(&[&ca.pem], Some((&rc, &rk)), &[b"http/1.1"]);
    assert!(
        get_tls(bad, s.addr, "a.test", "/").await.is_err(),
        "untrusted client cert"
    );
    // client auth makes strict_sni_host the default: Host must equal SNI.
    let good = client(&[&ca.pem], Some((&cc, &ck)), &[b"http/1.1"]);
    let r = get_with_host(good, s.addr, "a.test", "b.test").await;
    assert_eq!(r, 421);
}

async fn get_with_host(
    c: std::sync::Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    sni: &str,
    host: &str,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let sn = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(c)
        .connect(sn, tcp)
        .await
        .unwrap();
    let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    String::from_utf8_lossy(&raw)[9..12].parse().unwrap()
}

/// A ClientHello offering only TLS 1.1 (no supported_versions extension).
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend([7u8; 32]);
    body.push(0); // session id
    body.extend([0x00, 0x06, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x13]); // suites
    body.extend([0x01, 0x00]); // null compression
    let sni = b"a.test";
    let mut ext = vec![0x00, 0x00];
    let list_len = sni.len() + 3;
    ext.extend(((list_len + 2) as u16).to_be_bytes());
    ext.extend((list_len as u16).to_be_bytes());
    ext.push(0);
    ext.extend((sni.len() as u16).to_be_bytes());
    ext.extend(sni);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![0x01, 0, (body.len() >> 8) as u8, body.len() as u8];
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01, (hs.len() >> 8) as u8, hs.len() as u8];
    rec.extend(hs);
    rec
}

#[tokio::test]
async fn tls_1_1_clients_are_refused_with_a_protocol_version_alert() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let s = start(tls_config(dir.path(), json!([{}]), two_sites(&ca)));
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(&tls11_client_hello()).await.unwrap();
    let mut buf = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    assert_eq!(buf.first(), Some(&0x15), "an alert record: {buf:?}");
    assert_eq!(buf.get(5), Some(&2), "a fatal alert: {buf:?}");
    assert!(
        matches!(buf.get(6), Some(70 | 40)),
        "version or handshake failure: {buf:?}"
    );
    // And the server still serves TLS 1.2+.
    let ok = get_tls(client_for(&ca), s.addr, "a.test", "/")
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    // Asking for TLS 1.1 in the config is an error naming the field.
    let rt = bellhop_runtime::Runtime::new();
    let e = rt
        .load(
            tls_config(dir.path(), json!([{"protocol_min": "tls1.1"}]), json!([]))
                .to_string()
                .as_bytes(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("tls_connection_policies[0].protocol_min"), "{e}");
}

#[tokio::test]
async fn automatic_https_uses_the_internal_ca_and_redirects_http() {
    let dir = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let https_port = free_port();
    let config = json!({
        "storage": {"module": "file_system", "root": dir.path().display().to_string()},
        "apps": {"http": {"http_port": http_port, "servers": {"srv0": {
            "listen": [format!("127.0.0.1:{https_port}")],
            "routes": [{"match": [{"host": ["localhost"]}],
                        "handle": [{"handler": "static_response", "body": "secure {http.request.scheme}"}]}]
        }}}}
    });
    let s = start(config);
    let root = std::fs::read_to_string(dir.path().join("pki/authorities/local/root.crt"))
        .expect("the internal CA's root is in storage");
    let key = dir
        .path()
        .join("certificates/local/localhost/localhost.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let c = client(&[&root], None, &[b"http/1.1"]);
    let r = get_tls(c, s.addr, "localhost", "/").await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "secure https"));
    // The redirect server on the HTTP port.
    let redirect: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    let resp = get_with(redirect, "/a?b=1", &[("Host", "localhost")]).await;
    assert_eq!(resp.status, 308);
    assert_eq!(
        resp.headers.get("location").unwrap(),
        &format!("https://localhost:{}/a?b=1", s.addr.port())
    );
}

/// `{http.request.tls.*}` over a real mTLS connection, in the forms of
/// Caddy's replacer_test.go table.
#[tokio::test]
async fn tls_placeholders_describe_the_connection_and_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Server CA");
    let client_ca = TestCa::new("Client CA");
    let policies = require_client_certs(dir.path(), &client_ca);
    let mut config = tls_config(dir.path(), policies, two_sites(&ca));
    config["apps"]["http"]["servers"]["srv0"]["routes"] = json!([{"handle": [{
        "handler": "static_response",
        "body": "{http.request.tls.version}|{http.request.tls.cipher_suite}|{http.request.tls.proto}|\
    {http.request.tls.proto_mutual}|{http.request.tls.resumed}|{http.request.tls.server_name}|\
    {http.request.tls.client.subject}|{http.request.tls.client.issuer}|\
    {http.request.tls.client.san.dns_names}|{http.request.tls.client.san.dns_names.0}|\
    {http.request.tls.client.fingerprint}|{http.request.tls.nope}"
    }]}]);
    let s = start(config);
    let (cc, ck) = client_ca.leaf(&["client.test"]);
    let c = client(&[&ca.pem], Some((&cc, &ck)), &[b"http/1.1"]);
    let r = get_tls(c, s.addr, "a.test", "/").await.unwrap();
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(cc.as_bytes()).unwrap();
    let fingerprint: String = ring::digest::digest(&ring::digest::SHA256, &der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let parts: Vec<&str> = r.body.split('|').collect();
    assert_eq!(parts[0], "tls1.3");
    assert!(parts[1].starts_with("TLS_"), "{}", parts[1]);
    assert_eq!(&parts[2..6], ["http/1.1", "true", "false", "a.test"]);
    assert_eq!(parts[6], "CN=rcgen self signed cert");
    assert_eq!(parts[7], "CN=Client CA");
    assert_eq!(&parts[8..10], ["[client.test]", "client.test"]);
    assert_eq!(parts[10], fingerprint);
    assert_eq!(parts[11], "{http.request.tls.nope}", "unknown field stays");
}

/// The suite a client negotiates when it lists `suites` in that order.
async fn negotiated(
    ca: &TestCa,
    addr: SocketAddr,
    suites: Vec<rustls::SupportedCipherSuite>,
    version: &'static rustls::SupportedProtocolVersion,
) -> rustls::CipherSuite {
    use rustls::pki_types::pem::PemObject;
    let mut store = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
        store.add(c.unwrap()).unwrap();
    }
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites: suites,
        ..rustls::crypto::ring::default_provider()
    };
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("a.test").unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.get_ref().1.negotiated_cipher_suite().unwrap().suite()
}

/// testssl's "no cipher order configured": the server's order (strongest
/// first) must win over a client that lists weaker suites first.
#[tokio::test]
async fn the_servers_cipher_order_wins_over_the_clients() {
    use rustls::crypto::ring::cipher_suite as cs;
    use rustls::CipherSuite;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Test CA");
    let s = start(tls_config(dir.path(), json!([{}]), two_sites(&ca)));
    let tls13 = vec![
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_AES_256_GCM_SHA384,
    ];
    let got = negotiated(&ca, s.addr, tls13, &rustls::version::TLS13).await;
    assert_eq!(got, CipherSuite::TLS13_AES_256_GCM_SHA384);
    let tls12 = vec![
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ];
    let got = negotiated(&ca, s.addr, tls12, &rustls::version::TLS12).await;
    assert_eq!(got, CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
}

/// DER of the first certificate of a PEM text, base64.
fn pem_to_b64_der(pem: &str) -> String {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    body
}

/// `client_authentication.ca` (the `tls.ca_pool.source.*` modules the
/// Caddyfile's `trust_pool` adapts to): each source, alone and combined,
/// trusts the client CA and only it.
#[tokio::test]
async fn mtls_trust_pools_from_every_local_source() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Server CA");
    let client_ca = TestCa::new("Client CA");
    let other = TestCa::new("Other CA");
    let ca_file = dir.path().join("clients.pem");
    std::fs::write(&ca_file, &client_ca.pem).unwrap();
    let storage = dir.path().join("store");
    std::fs::create_dir_all(storage.join("pools")).unwrap();
    std::fs::write(storage.join("pools/clients.pem"), &client_ca.pem).unwrap();
    let file = json!({"provider": "file", "pem_files": [ca_file.display().to_string()]});
    let inline =
        json!({"provider": "inline", "trusted_ca_certs": [pem_to_b64_der(&client_ca.pem)]});
    let other_inline =
        json!({"provider": "inline", "trusted_ca_certs": [pem_to_b64_der(&other.pem)]});
    let stored = json!({"provider": "storage", "pem_keys": ["pools/clients.pem"],
        "storage": {"module": "file_system", "root": storage.display().to_string()}});
    let served = pem_server(client_ca.pem.clone());
    let http = json!({"provider": "http", "endpoints": [format!("http://{served}/clients.pem")]});
    let sources = [
        ("file", file.clone()),
        ("inline", inline.clone()),
        ("storage", stored),
        ("http", http),
        ("lazy", json!({"provider": "lazy", "ca": file.clone()})),
        (
            "combined",
            json!({"provider": "combined", "sources": [other_inline, inline]}),
        ),
    ];
    let (cc, ck) = client_ca.leaf(&["client.test"]);
    let (rc, rk) = TestCa::new("Rogue").leaf(&["client.test"]);
    for (name, source) in sources {
        let policies =
            json!([{"client_authentication": {"ca": source, "mode": "require_and_verify"}}]);
        let s = start(tls_config(dir.path(), policies, two_sites(&ca)));
        let good = client(&[&ca.pem], Some((&cc, &ck)), &[b"http/1.1"]);
        let r = get_tls(good, s.addr, "a.test", "/").await;
        assert_eq!(r.map(|r| r.status), Ok(200), "{name}: the client CA's cert");
        let bad = client(&[&ca.pem], Some((&rc, &rk)), &[b"http/1.1"]);
        assert!(
            get_tls(bad, s.addr, "a.test", "/").await.is_err(),
            "{name}: a rogue cert"
        );
    }
}

/// A blocking HTTP server answering every GET with `pem` (200), or 404
/// for a path with `missing` in it; its address.
fn pem_server(pem: String) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            let mut buf = [0u8; 4096];
            let n = c.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let answer = match head.contains("missing") {
                true => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string(),
                false => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{pem}",
                    pem.len()
                ),
            };
            let _ = c.write_all(answer.as_bytes());
        }
    });
    addr
}

/// A bad source is a config error naming its place.
#[tokio::test]
async fn bad_trust_pools_are_refused_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Server CA");
    for (source, want) in [
        (
            json!({"provider": "file", "pem_files": ["/nonexistent/ca.pem"]}),
            "client_authentication.ca.pem_files[0]",
        ),
        (
            json!({"provider": "inline", "trusted_ca_certs": ["%%%"]}),
            "client_authentication.ca.trusted_ca_certs[0]",
        ),
        (
            json!({"provider": "combined", "sources": [{"provider": "nope"}]}),
            "client_authentication.ca.sources[0].provider",
        ),
        (
            json!({"provider": "file", "pem_file": ["x"]}),
            "client_authentication.ca.pem_file",
        ),
        (
            json!({"provider": "http", "endpoints": [format!("http://{}/missing.pem", pem_server(String::new()))]}),
            "client_authentication.ca.endpoints[0]",
        ),
        (
            json!({"provider": "http", "endpoints": ["https://x.invalid"]}),
            "client_authentication.ca.endpoints[0]: https://x.invalid",
        ),
    ] {
        let policies = json!([{"client_authentication": {"ca": source}}]);
        let config = tls_config(dir.path(), policies, two_sites(&ca));
        let e = bellhop_runtime::Runtime::new()
            .load(config.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}");
    }
}

/// Pinned client leaves (`verifiers: [{verifier: leaf}]` with each loader,
/// and the deprecated `trusted_leaf_certs`): the pinned certificate gets
/// in, another from the same CA does not.
#[tokio::test]
async fn mtls_leaf_verifier_pins_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Server CA");
    let client_ca = TestCa::new("Client CA");
    let (pinned, pinned_key) = client_ca.leaf(&["pinned.test"]);
    let (other, other_key) = client_ca.leaf(&["other.test"]);
    let leaf_dir = dir.path().join("leaves/sub");
    std::fs::create_dir_all(&leaf_dir).unwrap();
    std::fs::write(leaf_dir.join("pinned.pem"), &pinned).unwrap();
    std::fs::write(dir.path().join("pinned.pem"), &pinned).unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(store.join("leaves")).unwrap();
    std::fs::write(store.join("leaves/pinned.pem"), &pinned).unwrap();
    let leaf = |loader: Value| json!({"verifiers": [{"verifier": "leaf", "leaf_certs_loaders": [loader]}]});
    let file = dir.path().join("pinned.pem").display().to_string();
    let configs = [
        ("file", leaf(json!({"loader": "file", "files": [file]}))),
        (
            "folder",
            leaf(
                json!({"loader": "folder", "folders": [dir.path().join("leaves").display().to_string()]}),
            ),
        ),
        (
            "pem",
            leaf(json!({"loader": "pem", "certificates": [pinned.clone()]})),
        ),
        (
            "storage",
            leaf(
                json!({"loader": "storage", "certificates": ["leaves/pinned.pem"],
            "storage": {"module": "file_system", "root": store.display().to_string()}}),
            ),
        ),
        (
            "trusted_leaf_certs",
            json!({"trusted_leaf_certs": [pem_to_b64_der(&pinned)]}),
        ),
        (
            "leaf with a CA",
            json!({
                "ca": {"provider": "inline", "trusted_ca_certs": [pem_to_b64_der(&client_ca.pem)]},
                "verifiers": [{"verifier": "leaf", "leaf_certs_loaders": [{"loader": "pem", "certificates": [pinned.clone()]}]}]
            }),
        ),
    ];
    for (name, auth) in configs {
        let s = start(tls_config(
            dir.path(),
            json!([{"client_authentication": auth}]),
            two_sites(&ca),
        ));
        let good = client(&[&ca.pem], Some((&pinned, &pinned_key)), &[b"http/1.1"]);
        let r = get_tls(good, s.addr, "a.test", "/").await;
        assert_eq!(r.map(|r| r.status), Ok(200), "{name}: the pinned cert");
        let bad = client(&[&ca.pem], Some((&other, &other_key)), &[b"http/1.1"]);
        assert!(
            get_tls(bad, s.addr, "a.test", "/").await.is_err(),
            "{name}: an unpinned cert"
        );
        let none = client(&[&ca.pem], None, &[b"http/1.1"]);
        assert!(
            get_tls(none, s.addr, "a.test", "/").await.is_err(),
            "{name}: no cert"
        );
    }
}

/// `http.matchers.tls`: TLS requests match; `handshake_complete: false`
/// (0-RTT only) never does, since bellhop accepts no early data; plain
/// HTTP never matches.
#[tokio::test]
async fn the_tls_matcher() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Matcher CA");
    let mut cfg = tls_config(dir.path(), json!([{}]), two_sites(&ca));
    cfg["apps"]["http"]["servers"]["srv0"]["routes"] = json!([
        {"match": [{"tls": {"handshake_complete": false}}], "handle": [respond("early")]},
        {"match": [{"tls": {}}], "handle": [respond("tls")]},
        {"handle": [respond("plain")]}
    ]);
    let s = start(cfg);
    let r = get_tls(client_for(&ca), s.addr, "a.test", "/")
        .await
        .unwrap();
    assert_eq!(r.body, "tls");
    let plain = start_routes(json!([
        {"match": [{"tls": {}}], "handle": [respond("tls")]},
        {"handle": [respond("plain")]}
    ]));
    assert_eq!(get(plain.addr, "/").await.body, "plain");
}

/// `tls.handshake_match.sni_regexp`: a policy chosen by a Go regexp on
/// the server name (here one that drops the handshake); a `name` for its
/// captures is accepted, as Caddy accepts it.
#[tokio::test]
async fn sni_regexp_selects_a_policy() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Regexp CA");
    let policies = json!([
        {"match": {"sni_regexp": {"pattern": "^b\\.", "name": "bee"}}, "drop": true},
        {}
    ]);
    let s = start(tls_config(dir.path(), policies, two_sites(&ca)));
    let a = get_tls(client_for(&ca), s.addr, "a.test", "/")
        .await
        .unwrap();
    assert_eq!(a.body, "hello https");
    assert!(get_tls(client_for(&ca), s.addr, "b.test", "/")
        .await
        .is_err());
    let bad = tls_config(
        dir.path(),
        json!([{"match": {"sni_regexp": {"pattern": "("}}}]),
        two_sites(&ca),
    );
    let e = bellhop_runtime::validate(bad.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("match.sni_regexp.pattern"), "{e}");
}

/// Whether a GET over a new TLS connection with `client` resumed a
/// session (the client's store keeps the tickets it was given).
async fn resumes(client: &std::sync::Arc<rustls::ClientConfig>, addr: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("a.test").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client.clone())
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
}

/// Session ticket keys belong to the process, not to a config: a session
/// resumes after a reload (with rustls' per-config ticketer it did not).
#[tokio::test]
async fn sessions_resume_across_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Ticket CA");
    let certs = two_sites(&ca);
    let s = start(tls_config(dir.path(), json!([{}]), certs.clone()));
    let client = client_for(&ca);
    assert!(!resumes(&client, s.addr).await, "a first handshake is full");
    assert!(resumes(&client, s.addr).await, "the second resumes");
    let mut cfg = tls_config(dir.path(), json!([{}]), certs);
    cfg["apps"]["http"]["servers"]["srv0"]["listen"] = json!([s.addr.to_string()]);
    s.rt.load(cfg.to_string().as_bytes()).unwrap();
    assert!(resumes(&client, s.addr).await, "resumed after the reload");
}

/// Storage cleaning at start (certmagic's `CleanStorage`): a managed
/// certificate long expired is deleted from storage, unless
/// `disable_storage_clean`.
#[tokio::test]
async fn expired_certificates_are_cleaned_out_of_storage_unless_disabled() {
    for disabled in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec!["old.test".to_string()]).unwrap();
        p.not_before = rcgen::date_time_ymd(2019, 1, 1);
        p.not_after = rcgen::date_time_ymd(2020, 1, 1);
        let stem = dir.path().join("certificates/acme-v02/old.test");
        std::fs::create_dir_all(&stem).unwrap();
        std::fs::write(
            stem.join("old.test.crt"),
            p.self_signed(&key).unwrap().pem(),
        )
        .unwrap();
        std::fs::write(stem.join("old.test.key"), key.serialize_pem()).unwrap();
        let _s = start(json!({
            "storage": {"module": "file_system", "root": dir.path().display().to_string()},
            "apps": {"tls": {"disable_storage_clean": disabled},
                     "http": {"servers": {"s": {"listen": ["127.0.0.1:0"], "routes": []}}}}
        }));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while stem.join("old.test.crt").exists()
            && std::time::Instant::now() < deadline
            && !disabled
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        if disabled {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        assert_eq!(
            stem.join("old.test.crt").exists(),
            disabled,
            "disabled: {disabled}"
        );
    }
}
