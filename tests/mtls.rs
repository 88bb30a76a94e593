//! mTLS from a Caddyfile, end to end: `client_auth { trust_pool file … }`
//! and the legacy `trusted_ca_cert_file`, served by the `bellhop` binary
//! and checked with `curl --cert` (a trusted client certificate gets in;
//! none, or one from another CA, does not).

mod common;
use common::{bellhop_run, serve};

#[path = "h3/client.rs"]
mod h3c;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// curl's output for GET https://a.test:PORT/ with the given client
/// certificate, or its error.
fn curl(dir: &Path, port: u16, cert: Option<(&Path, &Path)>) -> Result<String, String> {
    let mut c = Command::new("curl");
    c.args(["-sS", "--cacert"])
        .arg(dir.join("ca.pem"))
        .arg("--resolve")
        .arg(format!("a.test:{port}:127.0.0.1"))
        .arg(format!("https://a.test:{port}/"));
    if let Some((cert, key)) = cert {
        c.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    let out = c.output().expect("curl runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn client_auth_from_a_caddyfile_lets_in_only_trusted_client_certificates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca = h3c::TestCa::new();
    let (server_cert, server_key) = ca.leaf();
    let client_ca = h3c::TestCa::new();
    let (client_cert, client_key) = client_ca.leaf();
    let (rogue_cert, rogue_key) = h3c::TestCa::new().leaf();
    write(dir, "ca.pem", &ca.pem);
    let server_cert = write(dir, "server.pem", &server_cert);
    let server_key = write(dir, "server.key", &server_key);
    let clients = write(dir, "clients.pem", &client_ca.pem);
    let good = (
        write(dir, "c.pem", &client_cert),
        write(dir, "c.key", &client_key),
    );
    let rogue = (
        write(dir, "r.pem", &rogue_cert),
        write(dir, "r.key", &rogue_key),
    );
    for trust in [
        format!("trust_pool file {}", clients.display()),
        format!("trusted_ca_cert_file {}", clients.display()),
    ] {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let caddyfile = write(
            dir,
            "Caddyfile",
            &format!(
                "{{\n\tskip_install_trust\n\tstorage file_system {storage}\n}}\n\
                 https://a.test:{port} {{\n\tbind 127.0.0.1\n\ttls {cert} {key} {{\n\t\tclient_auth {{\n\t\t\t{trust}\n\t\t}}\n\t}}\n\
                 \trespond \"hello {{http.request.tls.client.subject}}\"\n}}\n",
                storage = dir.join("storage").display(),
                cert = server_cert.display(),
                key = server_key.display(),
            ),
        );
        let _served = serve(&mut bellhop_run(dir, &caddyfile));
        let body = curl(dir, port, Some((&good.0, &good.1)));
        assert!(
            body.as_deref().is_ok_and(|b| b.starts_with("hello ")),
            "{trust}: {body:?}"
        );
        assert!(
            curl(dir, port, None).is_err(),
            "{trust}: no client certificate"
        );
        assert!(
            curl(dir, port, Some((&rogue.0, &rogue.1))).is_err(),
            "{trust}: a client certificate from another CA"
        );
    }
}
