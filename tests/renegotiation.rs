//! TLS renegotiation towards an upstream from a Caddyfile
//! (`transport http { tls_renegotiation freely }`), served by the `bellhop`
//! binary: `openssl s_server -www` renegotiates when asked for `/reneg`
//! and reports it in its page. The upstream's certificate is verified
//! against the system's roots, here the file `SSL_CERT_FILE` names (read
//! as rustls reads them, whatever OpenSSL bellhop was built with); without
//! it, the upstream is not trusted and the proxy answers 502.

mod common;
use common::{bellhop_run, free_port, serve, Proc};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// A CA's PEM and an `up.test` leaf it signed (PEM cert and key).
fn certs() -> (String, String, String) {
    let mut p = CertificateParams::default();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "Upstream CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = p.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(p, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["up.test".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

/// `openssl s_server -www` on a port of its choosing.
fn upstream(dir: &Path) -> (Proc, u16) {
    let mut child = Command::new("openssl")
        .args(["s_server", "-tls1_2", "-www", "-accept", "127.0.0.1:0"])
        .args(["-cert", "leaf.pem", "-key", "leaf.key"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server (tools/test.sh installs openssl)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ACCEPT ").map(str::to_string))
        .and_then(|a| a.rsplit(':').next()?.trim().parse().ok())
        .expect("s_server says where it listens");
    std::thread::spawn(move || lines.for_each(drop));
    (Proc(child), port)
}

/// Serves `caddyfile` with `SSL_CERT_FILE` set to `roots` (or unset).
fn serve_with_roots(dir: &Path, caddyfile: &Path, roots: Option<&Path>) -> Proc {
    let mut cmd = bellhop_run(dir, caddyfile);
    match roots {
        Some(r) => cmd.env("SSL_CERT_FILE", r),
        None => cmd.env_remove("SSL_CERT_FILE"),
    };
    serve(&mut cmd)
}

/// curl's status and body for `url`.
fn curl(url: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-m", "10", "-w", "\n%{http_code}", url])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_string(), body.to_string())
}

#[test]
fn a_caddyfile_upstream_that_renegotiates_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, leaf, key) = certs();
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
    std::fs::write(dir.path().join("leaf.pem"), leaf).unwrap();
    std::fs::write(dir.path().join("leaf.key"), key).unwrap();
    let (_up, up_port) = upstream(dir.path());
    let port = free_port();
    let caddyfile = dir.path().join("Caddyfile");
    std::fs::write(
        &caddyfile,
        format!(
            "{{\n\tauto_https off\n}}\n:{port} {{\n\treverse_proxy https://127.0.0.1:{up_port} {{\n\
             \t\ttransport http {{\n\t\t\ttls_server_name up.test\n\t\t\ttls_renegotiation freely\n\
             \t\t}}\n\t}}\n}}\n"
        ),
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{port}/reneg");

    let trusted = serve_with_roots(dir.path(), &caddyfile, Some(&dir.path().join("ca.pem")));
    let (code, body) = curl(&url);
    assert_eq!(code, "200", "{body}");
    assert!(
        body.contains("1 server renegotiates"),
        "the upstream renegotiated: {body}"
    );
    drop(trusted);

    let _untrusted = serve_with_roots(dir.path(), &caddyfile, None);
    let (code, body) = curl(&url);
    assert_eq!(code, "502", "an upstream the system does not trust: {body}");
}
