//! `http.handlers.acme_server` end to end: one runtime runs the ACME
//! server (the `local` CA of its `pki` app, over HTTPS with a certificate
//! from that CA), another obtains a certificate from it with bellhop's own
//! ACME client, through HTTP-01 and through TLS-ALPN-01. The server
//! resolves the test's names through its `resolvers`: a DNS responder of
//! the test answering with the client's loopback address (127.0.0.x, so
//! that the client can bind ports 80 and 443 there, as validation needs).
//! The issued chain verifies against the CA's root and is served by the
//! client. A second test drives the protocol with instant-acme: the
//! directory, a policy refusal, a CSR for other names, and a wrong nonce.

use crate::acme_pebble::wait_for_file;
use crate::dns_responder::start_dns_answering;
use crate::support::*;
use crate::tls_support::*;
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// A loopback address of its own for each test (and each test process).
fn loopback(offset: u32) -> Ipv4Addr {
    let n = 20 + (std::process::id() + offset) % 200;
    Ipv4Addr::new(127, 0, 0, n as u8)
}

/// The ACME server's config: HTTPS on 127.0.0.1:0 for `localhost`, the
/// handler with `handler_extra` fields.
fn server_config(storage: &Path, handler_extra: Value) -> Value {
    let mut handler = json!({"handler": "acme_server"});
    for (k, v) in handler_extra.as_object().unwrap() {
        handler[k] = v.clone();
    }
    json!({
        "storage": {"module": "file_system", "root": storage.display().to_string()},
        "apps": {
            "pki": {"certificate_authorities": {"local": {"install_trust": false}}},
            "tls": {
                "certificates": {"automate": ["localhost"]},
                "automation": {"policies": [{"subjects": ["localhost"], "issuers": [{"module": "internal"}]}]}
            },
            "http": {"servers": {"acme": {
                "listen": ["127.0.0.1:0"],
                "automatic_https": {"disable": true},
                "tls_connection_policies": [{}],
                "routes": [{"handle": [handler, {"handler": "static_response", "body": "not ACME"}]}]
            }}}
        }
    })
}

/// The ACME client's config: `name` from `directory`, served on
/// `ip`:80 and `ip`:443.
fn client_config(
    storage: &Path,
    directory: &str,
    root: &Path,
    name: &str,
    ip: Ipv4Addr,
    challenge_off: &str,
) -> Value {
    let server = |port: u16, tls: bool| {
        let mut s = json!({
            "listen": [format!("{ip}:{port}")],
            "automatic_https": {"disable": true},
            "routes": [{"handle": [{"handler": "static_response", "body": "hello from the client"}]}]
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
                "automation": {"policies": [{"subjects": [name], "issuers": [{
                    "module": "acme",
                    "ca": directory,
                    "trusted_roots_pem_files": [root.display().to_string()],
                    "challenges": {challenge_off: {"disabled": true}}
                }]}]}
            },
            "http": {"servers": {"http": server(80, false), "https": server(443, true)}}
        }
    })
}

async fn obtain(name: &str, ip: Ipv4Addr, challenge_off: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dns = start_dns_answering(ip);
    let ca_storage = dir.path().join("ca");
    let server = start(server_config(
        &ca_storage,
        json!({"resolvers": [dns.to_string()], "policy": {"allow": {"domains": ["*.acme-server.test"]}}}),
    ));
    let root = ca_storage.join("pki/authorities/local/root.crt");
    assert!(
        root.is_file(),
        "the CA exists once the handler is provisioned"
    );
    let directory = format!(
        "https://localhost:{}/acme/local/directory",
        server.addr.port()
    );
    let client_storage = dir.path().join("client");
    let client = start(client_config(
        &client_storage,
        &directory,
        &root,
        name,
        ip,
        challenge_off,
    ));
    let crt = tokio::task::block_in_place(|| {
        wait_for_file(
            &client_storage,
            &format!("{name}.crt"),
            Duration::from_secs(30),
        )
    })
    .unwrap_or_else(|| panic!("no certificate for {name} from the ACME server"));
    let chain = std::fs::read_to_string(&crt).unwrap();
    assert_eq!(
        chain.matches("BEGIN CERTIFICATE").count(),
        2,
        "leaf and intermediate:\n{chain}"
    );
    let root_pem = std::fs::read_to_string(&root).unwrap();
    let https = SocketAddr::new(ip.into(), 443);
    let r = get_tls(client_config_for(&root_pem), https, name, "/")
        .await
        .unwrap_or_else(|e| {
            panic!("the client serves the certificate, which the CA's root verifies: {e}")
        });
    assert_eq!((r.status, r.body.as_str()), (200, "hello from the client"));
    assert_eq!(dns_names(&r.peer), vec![name.to_string()]);
    // Requests outside the prefix go on to the next handler.
    let plain = get_tls(
        client_config_for(&root_pem),
        server.addr,
        "localhost",
        "/other",
    )
    .await
    .unwrap();
    assert_eq!(plain.body, "not ACME");
    client.rt.stop().await;
    server.rt.stop().await;
}

fn client_config_for(root: &str) -> std::sync::Arc<rustls::ClientConfig> {
    client(&[root], None, &[b"http/1.1"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_server_issues_through_http01_to_bellhops_acme_client() {
    obtain("http.acme-server.test", loopback(0), "tls-alpn").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_server_issues_through_tls_alpn01_to_bellhops_acme_client() {
    obtain("alpn.acme-server.test", loopback(1), "http").await;
}

/// Answers every HTTP-01 request on `ip`:80 with `key_auth`.
async fn serve_key_authorization(ip: Ipv4Addr, key_auth: String) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind((ip, 80)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).await;
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{key_auth}",
                key_auth.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    })
}

fn problem_type(e: instant_acme::Error) -> String {
    match e {
        instant_acme::Error::Api(p) => p.r#type.unwrap_or_default(),
        other => format!("not a problem document: {other}"),
    }
}

fn csr_for(name: &str) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.serialize_request(&key).unwrap().der().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_server_protocol_refusals_and_orders() {
    use instant_acme::{
        Account, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
    };
    let dir = tempfile::tempdir().unwrap();
    let ip = loopback(2);
    let dns = start_dns_answering(ip);
    let ca_storage = dir.path().join("ca");
    let server = start(server_config(
        &ca_storage,
        json!({"resolvers": [dns.to_string()], "challenges": ["http-01"], "lifetime": 3_600_000_000_000u64,
               "policy": {"allow": {"domains": ["*.acme-server.test"]}, "deny": {"domains": ["bad.acme-server.test"]}}}),
    ));
    let root = ca_storage.join("pki/authorities/local/root.crt");
    let root_pem = std::fs::read_to_string(&root).unwrap();
    let directory = format!(
        "https://localhost:{}/acme/local/directory",
        server.addr.port()
    );
    let d = get_tls(
        client_config_for(&root_pem),
        server.addr,
        "localhost",
        "/acme/local/directory",
    )
    .await
    .unwrap();
    let dir_json: Value = serde_json::from_str(&d.body).unwrap();
    for k in [
        "newNonce",
        "newAccount",
        "newOrder",
        "revokeCert",
        "keyChange",
    ] {
        let url = dir_json[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} in {}", d.body));
        // Links are built on the request's Host (here without a port).
        assert!(url.starts_with("https://localhost/acme/local/"), "{url}");
    }
    let new = NewAccount {
        contact: &["mailto:ops@acme-server.test"],
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (mut account, _) = Account::builder_with_root(&root)
        .unwrap()
        .create(&new, directory.clone(), None)
        .await
        .unwrap();
    let order_for = |name: &str| vec![Identifier::Dns(name.to_string())];

    // The policy: denied names, names outside `allow`, wildcards.
    for name in [
        "bad.acme-server.test",
        "www.example.com",
        "a.b.acme-server.test",
        "*.acme-server.test",
    ] {
        let ids = order_for(name);
        let e = account
            .new_order(&NewOrder::new(&ids))
            .await
            .err()
            .unwrap_or_else(|| panic!("{name} was ordered"));
        assert_eq!(
            problem_type(e),
            "urn:ietf:params:acme:error:rejectedIdentifier",
            "{name}"
        );
    }

    // Nothing answers the challenge: the order becomes invalid.
    let ids = order_for("silent.acme-server.test");
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    {
        let mut authzs = order.authorizations();
        let mut a = authzs.next().await.unwrap().unwrap();
        assert!(
            a.challenges
                .iter()
                .all(|c| c.r#type == ChallengeType::Http01),
            "only http-01 is offered"
        );
        let mut ch = a.challenge(ChallengeType::Http01).unwrap();
        ch.set_ready().await.unwrap();
    }
    let retry = RetryPolicy::new().timeout(Duration::from_secs(20));
    assert_eq!(
        order.poll_ready(&retry).await.unwrap(),
        OrderStatus::Invalid
    );

    // Answered: the order is ready; a CSR for other names is refused; the
    // right one is signed, for those names only.
    let name = "ok.acme-server.test";
    let ids = order_for(name);
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    let responder;
    {
        let mut authzs = order.authorizations();
        let mut a = authzs.next().await.unwrap().unwrap();
        let mut ch = a.challenge(ChallengeType::Http01).unwrap();
        responder = serve_key_authorization(ip, ch.key_authorization().as_str().to_string()).await;
        ch.set_ready().await.unwrap();
    }
    assert_eq!(order.poll_ready(&retry).await.unwrap(), OrderStatus::Ready);
    let e = order
        .finalize_csr(&csr_for("other.acme-server.test"))
        .await
        .unwrap_err();
    assert_eq!(problem_type(e), "urn:ietf:params:acme:error:badCSR");
    order.finalize_csr(&csr_for(name)).await.unwrap();
    let chain = order.poll_certificate(&retry).await.unwrap();
    responder.abort();
    let certs: Vec<_> = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::pem_slice_iter(chain.as_bytes())
            .map(|c| c.unwrap())
            .collect()
    };
    assert_eq!(certs.len(), 2);
    assert_eq!(dns_names(&certs[0]), vec![name.to_string()]);
    let (_, leaf) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    let life = leaf.validity().not_after.timestamp() - leaf.validity().not_before.timestamp();
    assert!(
        (3600..=3700).contains(&life),
        "the configured 1 h lifetime (plus a minute of backdating): {life} s"
    );

    // The account's key can change; the old key no longer works.
    let _ = account.update_key().await.unwrap();
    let ids = order_for("after-rekey.acme-server.test");
    account
        .new_order(&NewOrder::new(&ids))
        .await
        .expect("the new key signs");
    // Revocation by the holder, then the account deactivates.
    let der = certs[0].clone();
    account
        .revoke(&instant_acme::RevocationRequest {
            certificate: &der,
            reason: None,
        })
        .await
        .unwrap();
    let e = account
        .revoke(&instant_acme::RevocationRequest {
            certificate: &der,
            reason: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        problem_type(e),
        "urn:ietf:params:acme:error:unauthorized",
        "revoked once only"
    );
    account.deactivate().await.unwrap();
    server.rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_server_config_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let rt = bellhop_runtime::Runtime::new();
    for (extra, path, text) in [
        (
            json!({"challenges": ["http-02"]}),
            "challenges[0]",
            "not supported",
        ),
        (
            json!({"lifetime": "8d"}),
            "lifetime",
            "less than intermediate",
        ),
        (
            json!({"policy": {"allow": {"ip_ranges": ["10.0.0.0/99"]}}}),
            "policy.allow.ip_ranges[0]",
            "CIDR",
        ),
    ] {
        let config = server_config(&dir.path().join("ca"), extra);
        let e = rt
            .load(config.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(path) && e.contains(text), "{e}");
    }
}

/// A UDP DNS responder answering A `ip` and TXT with whatever `txt`
/// holds at the time, for every name.
fn start_txt_dns(ip: Ipv4Addr, txt: std::sync::Arc<std::sync::Mutex<String>>) -> SocketAddr {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            let mut i = 12;
            while i < n && q[i] != 0 {
                i += 1 + q[i] as usize;
            }
            if i + 5 > n {
                continue;
            }
            let qtype = u16::from_be_bytes([q[i + 1], q[i + 2]]);
            let rdata: Vec<u8> = match qtype {
                1 => ip.octets().to_vec(),
                16 => {
                    let t = txt.lock().unwrap().clone();
                    let mut d = vec![t.len() as u8];
                    d.extend(t.as_bytes());
                    d
                }
                _ => Vec::new(),
            };
            let answers = u16::from(!rdata.is_empty());
            let mut r = q[..2].to_vec();
            r.extend([0x81, 0x80, 0, 1]);
            r.extend(answers.to_be_bytes());
            r.extend([0, 0, 0, 0]);
            r.extend(&q[12..i + 5]);
            if answers == 1 {
                r.extend([0xc0, 0x0c]);
                r.extend(qtype.to_be_bytes());
                r.extend([0, 1, 0, 0, 0, 60]);
                r.extend((rdata.len() as u16).to_be_bytes());
                r.extend(rdata);
            }
            let _ = sock.send_to(&r, peer);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_server_validates_dns01_for_a_wildcard() {
    use instant_acme::{
        Account, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
    };
    let dir = tempfile::tempdir().unwrap();
    let txt = std::sync::Arc::new(std::sync::Mutex::new(String::from("not yet")));
    let dns = start_txt_dns(Ipv4Addr::LOCALHOST, txt.clone());
    let ca_storage = dir.path().join("ca");
    let server = start(server_config(
        &ca_storage,
        json!({"resolvers": [dns.to_string()],
               "policy": {"allow_wildcard_names": true, "allow": {"domains": ["*.wild.acme-server.test"]}}}),
    ));
    let root = ca_storage.join("pki/authorities/local/root.crt");
    let directory = format!(
        "https://localhost:{}/acme/local/directory",
        server.addr.port()
    );
    let new = NewAccount {
        contact: &[],
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, _) = Account::builder_with_root(&root)
        .unwrap()
        .create(&new, directory, None)
        .await
        .unwrap();
    let retry = RetryPolicy::new().timeout(Duration::from_secs(20));
    let name = "*.wild.acme-server.test";
    for right in [false, true] {
        let ids = vec![Identifier::Dns(name.to_string())];
        let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
        {
            let mut authzs = order.authorizations();
            let mut a = authzs.next().await.unwrap().unwrap();
            assert!(a.wildcard, "the authorization is for the wildcard");
            assert_eq!(
                *a.identifier().identifier,
                Identifier::Dns("wild.acme-server.test".into())
            );
            assert!(
                a.challenges
                    .iter()
                    .all(|c| c.r#type == ChallengeType::Dns01),
                "a wildcard is proved by DNS-01 only"
            );
            let mut ch = a.challenge(ChallengeType::Dns01).unwrap();
            *txt.lock().unwrap() = if right {
                ch.key_authorization().dns_value()
            } else {
                "wrong".into()
            };
            ch.set_ready().await.unwrap();
        }
        let status = order.poll_ready(&retry).await.unwrap();
        if !right {
            assert_eq!(status, OrderStatus::Invalid, "a wrong TXT record fails");
            continue;
        }
        assert_eq!(status, OrderStatus::Ready);
        order.finalize_csr(&csr_for(name)).await.unwrap();
        let chain = order.poll_certificate(&retry).await.unwrap();
        use rustls::pki_types::pem::PemObject;
        let leaf = rustls::pki_types::CertificateDer::pem_slice_iter(chain.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(dns_names(&leaf), vec![name.to_string()]);
    }
    server.rt.stop().await;
}
