//! The remote admin endpoint (`admin.remote`) over mutual TLS: its server
//! certificate is the instance's identity (`admin.identity`, here from the
//! internal CA), a client is let in by a certificate listed in an
//! `access_control` entry or issued by one listed there, and each request
//! is held to that entry's permissions (methods, paths) as Caddy holds
//! them. Real TLS clients (rustls) with real certificates (rcgen).

use super::support::*;
use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NAME: &str = "admin.bellhop.test";

/// A client certificate (DER, PEM chain, PEM key), self-signed or signed by `ca`.
struct Client {
    der: Vec<u8>,
    chain: String,
    key: String,
}

fn ca() -> (rcgen::Issuer<'static, rcgen::KeyPair>, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "operators CA");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let cert = p.self_signed(&key).unwrap();
    let der = cert.der().to_vec();
    (rcgen::Issuer::new(p, key), der)
}

fn client(cn: &str, issuer: Option<&rcgen::Issuer<'static, rcgen::KeyPair>>) -> Client {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = match issuer {
        Some(i) => p.signed_by(&key, i).unwrap(),
        None => p.self_signed(&key).unwrap(),
    };
    Client {
        der: cert.der().to_vec(),
        chain: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

fn config(storage: &Path, access: Value) -> Value {
    json!({
        "storage": {"module": "file_system", "root": storage.display().to_string()},
        "admin": {
            "identity": {"identifiers": [NAME], "issuers": [{"module": "internal"}]},
            "remote": {"listen": "127.0.0.1:0", "access_control": access}
        },
        "apps": {"pki": {"certificate_authorities": {"local": {"install_trust": false}}}}
    })
}

/// A request over mutual TLS: `Ok((status, body))`, or `Err` when the
/// handshake or the connection fails.
async fn call(
    addr: &str,
    root: &str,
    who: Option<&Client>,
    method: &str,
    path: &str,
) -> Result<(u16, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root.as_bytes()).unwrap())
        .unwrap();
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = match who {
        Some(c) => {
            let chain = CertificateDer::pem_slice_iter(c.chain.as_bytes())
                .map(|c| c.unwrap())
                .collect();
            b.with_client_auth_cert(
                chain,
                PrivateKeyDer::from_pem_slice(c.key.as_bytes()).unwrap(),
            )
            .unwrap()
        }
        None => b.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {NAME}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or(format!("no response: {text:?}"))?;
    Ok((head[9..12].parse().unwrap(), body.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_admin_requires_a_listed_client_certificate_and_its_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let (operators, operators_der) = ca();
    let reader = client("reader", None);
    let operator = client("operator", Some(&operators));
    let stranger = client("stranger", None);
    let access = json!([
        {"public_keys": [b64(&reader.der)], "permissions": [{"paths": ["/config/"], "methods": ["GET"]}]},
        {"public_keys": [b64(&operators_der)]}
    ]);
    let t = start(config(&storage, access.clone())).await;
    let remote = t
        .admin
        .remote_address()
        .expect("the remote endpoint is started");
    let root = std::fs::read_to_string(storage.join("pki/authorities/local/root.crt")).unwrap();

    // The reader: GET under /config/ only.
    let (status, body) = call(&remote, &root, Some(&reader), "GET", "/config/")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("access_control"),
        "the running config: {body}"
    );
    let (status, body) = call(&remote, &root, Some(&reader), "POST", "/config/")
        .await
        .unwrap();
    assert_eq!(
        (status, body.contains("not authorized to use this method")),
        (403, true),
        "{body}"
    );
    let (status, body) = call(&remote, &root, Some(&reader), "GET", "/pki/ca/local")
        .await
        .unwrap();
    assert_eq!(
        (status, body.contains("not authorized to access this path")),
        (403, true),
        "{body}"
    );
    // The operator's certificate is issued by a listed CA: no limits.
    let (status, body) = call(&remote, &root, Some(&operator), "GET", "/pki/ca/local")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    // No certificate, or one nobody listed: no connection.
    assert!(call(&remote, &root, None, "GET", "/config/").await.is_err());
    assert!(call(&remote, &root, Some(&stranger), "GET", "/config/")
        .await
        .is_err());
    // The local endpoint is unchanged.
    assert_eq!(
        t.req("GET", "/config/admin/remote/listen", &[], "")
            .await
            .status,
        200
    );

    // A reload keeps the endpoint and applies new access controls.
    let fewer = json!([{"public_keys": [b64(&operators_der)]}]);
    let r = t.load(&config(&storage, fewer)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(t.admin.remote_address().as_deref(), Some(remote.as_str()));
    assert!(
        call(&remote, &root, Some(&reader), "GET", "/config/")
            .await
            .is_err(),
        "the reader is no longer listed"
    );
    assert_eq!(
        call(&remote, &root, Some(&operator), "GET", "/config/")
            .await
            .unwrap()
            .0,
        200
    );
    // Without `remote`, the endpoint stops.
    let mut none = config(&storage, json!([]));
    none["admin"].as_object_mut().unwrap().remove("remote");
    assert_eq!(t.load(&none).await.status, 200);
    assert!(t.admin.remote_address().is_none());
    assert!(call(&remote, &root, Some(&operator), "GET", "/config/")
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_admin_refuses_bad_configs_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let t = start(site("up")).await;
    let mut no_identity = config(&storage, json!([]));
    no_identity["admin"]
        .as_object_mut()
        .unwrap()
        .remove("identity");
    let bad_key = config(&storage, json!([{"public_keys": ["bm90IGEgY2VydA=="]}]));
    for (c, want) in [
        (no_identity, "admin.remote: cannot enable remote admin"),
        (bad_key, "admin.remote.access_control[0].public_keys[0]"),
    ] {
        let r = t.load(&c).await;
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert_eq!(r.status, 400, "{body}");
        assert!(body.contains(want), "{body}");
    }
    // The running config is untouched.
    assert_eq!(get(t.site(), "/").await, (200, "up".to_string()));
}
