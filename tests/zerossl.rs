//! ZeroSSL, end to end through the `bellhop` binary: the `zerossl`
//! issuer (`tls { issuer zerossl KEY }`) against a stand-in of ZeroSSL's
//! REST API run by the test (`BELLHOP_ZEROSSL_API` points bellhop at it).
//! The stand-in does what the API does: it creates a draft from the CSR,
//! names a validation file, fetches that file from bellhop's HTTP port
//! when asked to validate, reports `pending_validation` then `issued`,
//! and returns the leaf (signed by the test's CA) and the CA bundle. Also
//! the EAB credentials by email that the ACME issuer asks for at
//! ZeroSSL's ACME endpoint.

mod common;
use common::{bellhop_run, free_port, Proc};

#[path = "h3/client.rs"]
mod h3c;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "s3cret-key";

/// What the stand-in was asked, and its certificates.
#[derive(Default)]
struct State {
    /// "METHOD path" of every request, access key checked.
    calls: Vec<String>,
    /// Created drafts' payloads.
    created: Vec<Value>,
    /// Certificate ID -> (CSR PEM, names, status).
    certs: BTreeMap<String, (String, Vec<String>, String)>,
    /// Validation answers seen: (path, body).
    fetched: Vec<(String, String)>,
}

struct Api {
    ca: h3c::TestCa,
    http_port: u16,
    /// Validate against this content instead of the issued one (a
    /// failing validation).
    wrong_content: bool,
    state: Mutex<State>,
}

/// Starts the stand-in API: its base URL and shared state.
fn start_api(http_port: u16, wrong_content: bool) -> (String, Arc<Api>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
    let api = Arc::new(Api {
        ca: h3c::TestCa::new(),
        http_port,
        wrong_content,
        state: Mutex::default(),
    });
    let a = api.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let a = a.clone();
            std::thread::spawn(move || serve_one(&a, s));
        }
    });
    (base, api)
}

fn serve_one(api: &Api, s: TcpStream) {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut it = line.split(' ');
    let (method, target) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
    let mut len = 0;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim().split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    let _ = r.read_exact(&mut body);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let answer = route(api, method, path, query, &body);
    let text = answer.to_string();
    let _ = r.get_mut().write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        )
        .as_bytes(),
    );
}

fn api_error(code: u32, kind: &str) -> Value {
    json!({"success": false, "error": {"code": code, "type": kind}})
}

fn route(api: &Api, method: &str, path: &str, query: &str, body: &[u8]) -> Value {
    if path == "/acme/eab-credentials-email" {
        let form = String::from_utf8_lossy(body).to_string();
        api.state
            .lock()
            .unwrap()
            .calls
            .push(format!("{method} {path} {form}"));
        return match form.as_str() {
            "email=ops%40a%2Etest" => {
                json!({"success": true, "eab_kid": "kid-1", "eab_hmac_key": "c2VjcmV0LW1hYy1rZXk"})
            }
            _ => api_error(2900, "invalid_email"),
        };
    }
    if query != format!("access_key={}", KEY.replace('-', "%2D")) {
        return api_error(101, "invalid_access_key");
    }
    let mut st = api.state.lock().unwrap();
    st.calls.push(format!("{method} {path}"));
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("POST", ["certificates"]) => {
            let payload: Value = serde_json::from_slice(body).unwrap();
            let id = format!("cert{}", st.created.len() + 1);
            let names: Vec<String> = payload["certificate_domains"]
                .as_str()
                .unwrap()
                .split(',')
                .map(String::from)
                .collect();
            let csr = payload["certificate_csr"].as_str().unwrap().to_string();
            st.created.push(payload);
            let methods: serde_json::Map<String, Value> = names
                .iter()
                .map(|n| {
                    let url = format!("http://{n}/.well-known/pki-validation/{}.txt", id.to_uppercase());
                    let content = json!([format!("hash-{id}"), "comodoca.com", "tok3n"]);
                    (n.clone(), json!({"file_validation_url_http": url, "file_validation_content": content, "cname_validation_p1": "", "cname_validation_p2": ""}))
                })
                .collect();
            st.certs.insert(id.clone(), (csr, names, "draft".into()));
            json!({"id": id, "type": "1", "status": "draft", "validation": {"email_validation": {}, "other_methods": methods}})
        }
        ("POST", ["certificates", id, "challenges"]) => {
            let id = id.to_string();
            let names = st.certs[&id].1.clone();
            drop(st);
            let want = match api.wrong_content {
                true => "something else".to_string(),
                false => format!("hash-{id}\ncomodoca.com\ntok3n"),
            };
            for n in &names {
                let path = format!("/.well-known/pki-validation/{}.txt", id.to_uppercase());
                let got = fetch(api.http_port, n, &path);
                api.state.lock().unwrap().fetched.push((path, got.clone()));
                if got != want {
                    return api_error(0, "domain_control_validation_failed");
                }
            }
            let mut st = api.state.lock().unwrap();
            st.certs.get_mut(&id).unwrap().2 = "pending_validation".into();
            json!({"id": id, "status": "pending_validation"})
        }
        ("GET", ["certificates", id]) => {
            let c = st.certs.get_mut(*id).unwrap();
            if c.2 == "pending_validation" {
                c.2 = "issued".into();
            }
            json!({"id": id, "status": c.2})
        }
        ("GET", ["certificates", id, "download", "return"]) => {
            let leaf = api.ca.sign_csr(&st.certs[*id].0);
            json!({"certificate.crt": leaf, "ca_bundle.crt": api.ca.pem})
        }
        ("POST", ["certificates", id, "cancel"]) => {
            st.certs.get_mut(*id).unwrap().2 = "cancelled".into();
            json!({"success": true})
        }
        _ => api_error(404, "not_found"),
    }
}

/// The body bellhop's HTTP port answers for `path` with Host `host`
/// (retried while bellhop is still starting).
fn fetch(port: u16, host: &str, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return format!("connect: {e}"),
        }
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    match resp.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => body.to_string(),
        _ => format!("no answer: {resp}"),
    }
}

/// `bellhop run` on a Caddyfile with a `zerossl` issuer for `a.test`,
/// pointed at the stand-in at `base`.
fn run(dir: &Path, base: &str, ports: (u16, u16)) -> Proc {
    let caddyfile = dir.join("Caddyfile");
    std::fs::write(
        &caddyfile,
        format!(
            "{{\n\thttp_port {}\n\thttps_port {}\n\tdefault_bind 127.0.0.1\n\tstorage file_system {}\n\tskip_install_trust\n}}\n\
             a.test {{\n\ttls {{\n\t\tissuer zerossl {{env.ZEROSSL_TEST_KEY}} {{\n\t\t\tvalidity_days 90\n\t\t}}\n\t}}\n\trespond \"zerossl says hi\"\n}}\n",
            ports.0,
            ports.1,
            dir.join("storage").display()
        ),
    )
    .unwrap();
    let child = bellhop_run(dir, &caddyfile)
        .env("BELLHOP_ZEROSSL_API", base)
        .env("ZEROSSL_TEST_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("bellhop.log")).unwrap())
        .spawn()
        .unwrap();
    Proc(child)
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("bellhop.log")).unwrap_or_default()
}

#[test]
fn a_certificate_from_zerossls_api_is_obtained_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let ports = (free_port(), free_port());
    let (base, api) = start_api(ports.0, false);
    let _bellhop = run(dir.path(), &base, ports);
    let https = format!("127.0.0.1:{}", ports.1).parse().unwrap();
    // Validation is polled every 5 s, as certmagic polls.
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        match h3c::https_get(https, &api.ca) {
            Ok(body) => break body,
            Err(e) if Instant::now() > deadline => panic!("{e}\n{}", log(dir.path())),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    assert_eq!(body, "zerossl says hi");
    let st = api.state.lock().unwrap();
    assert_eq!(
        st.calls,
        [
            "POST /certificates",
            "POST /certificates/cert1/challenges",
            "GET /certificates/cert1",
            "GET /certificates/cert1/download/return"
        ]
    );
    let p = &st.created[0];
    assert_eq!(p["certificate_domains"], "a.test");
    assert_eq!(
        (
            p["certificate_validity_days"].as_u64(),
            p["strict_domains"].as_u64()
        ),
        (Some(90), Some(1))
    );
    assert!(p["certificate_csr"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    assert_eq!(
        st.fetched,
        [(
            "/.well-known/pki-validation/CERT1.txt".to_string(),
            "hash-cert1\ncomodoca.com\ntok3n".to_string()
        )]
    );
    drop(st);
    // Stored under the issuer's key, as certmagic stores it.
    let crt = dir
        .path()
        .join("storage/certificates/zerossl/a.test/a.test.crt");
    assert!(crt.is_file(), "{}", log(dir.path()));
    // Once issued, the validation file is no longer served.
    let gone = fetch(ports.0, "a.test", "/.well-known/pki-validation/CERT1.txt");
    assert!(!gone.contains("hash-cert1"), "{gone}");
}

#[test]
fn a_failed_validation_cancels_the_draft() {
    let dir = tempfile::tempdir().unwrap();
    let ports = (free_port(), free_port());
    let (base, api) = start_api(ports.0, true);
    let _bellhop = run(dir.path(), &base, ports);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let calls = api.state.lock().unwrap().calls.clone();
        if calls.iter().any(|c| c == "POST /certificates/cert1/cancel") {
            assert_eq!(
                calls[..3],
                [
                    "POST /certificates",
                    "POST /certificates/cert1/challenges",
                    "POST /certificates/cert1/cancel"
                ]
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no cancel: {calls:?}\n{}",
            log(dir.path())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The file was served while the draft was live.
    let st = api.state.lock().unwrap();
    assert_eq!(st.fetched[0].1, "hash-cert1\ncomodoca.com\ntok3n");
    assert_eq!(st.certs["cert1"].2, "cancelled");
    drop(st);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !log(dir.path()).contains("domain_control_validation_failed") {
        assert!(Instant::now() < deadline, "{}", log(dir.path()));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn eab_credentials_for_zerossls_acme_endpoint_come_by_email() {
    use bellhop_runtime::tls::zerossl::api::eab_for_email;
    let (base, api) = start_api(0, false);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(eab_for_email(&base, "ops@a.test"));
    assert_eq!(
        got,
        Ok(("kid-1".to_string(), "c2VjcmV0LW1hYy1rZXk".to_string()))
    );
    let err = rt.block_on(eab_for_email(&base, "nobody")).unwrap_err();
    assert_eq!(
        err,
        "failed getting EAB credentials: HTTP 200: invalid_email (code 2900)"
    );
    assert_eq!(
        api.state.lock().unwrap().calls,
        [
            "POST /acme/eab-credentials-email email=ops%40a%2Etest",
            "POST /acme/eab-credentials-email email=nobody"
        ]
    );
}
