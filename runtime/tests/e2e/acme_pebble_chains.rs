//! The ACME issuer's `preferred_chains` and `certificate_lifetime` against
//! Debian's `pebble` offering two chains (`PEBBLE_ALTERNATE_ROOTS=1`: the
//! default under root 0, an alternate under root 1, linked from the
//! certificate's URL): the chosen chain is stored and served (a client
//! trusting only that chain's root connects, one trusting only the other
//! root does not), and the certificate ends when `certificate_lifetime`
//! asks (pebble honours an order's `notAfter`; its default is five years).
//! pebble names its roots at random when it starts, so bellhop first
//! serves without the `tls` app, and the config naming the root is loaded
//! once pebble runs (on the same listeners).

use crate::acme_pebble::*;
use crate::support::*;
use crate::tls_support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The common name of a PEM certificate's subject.
fn subject_cn(pem: &str) -> String {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let (_, c) = x509_parser::parse_x509_certificate(&der).unwrap();
    let cn = c.subject().iter_common_name().next().unwrap();
    cn.as_str().unwrap().to_string()
}

/// Obtains a certificate for `name` from a pebble with two chains, the
/// issuer's settings made by `issuer` from pebble's two roots (PEM);
/// checks which root's chain is stored and served and returns the leaf's
/// remaining life in seconds.
async fn obtain(name: &str, issuer: impl Fn(&[String]) -> Value, want_root: usize) -> i64 {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let mut pebble = prepare_pebble(dir.path());
    pebble.alternate_roots = 1;
    let mut serving = bellhop_config(&storage, &pebble, name, (0, 0), json!({}));
    serving["apps"].as_object_mut().unwrap().remove("tls");
    let s = start(serving);
    let port = |server: &str| s.rt.server_addrs(server)[0].port();
    let ports = (port("http"), port("https"));
    start_pebble(&mut pebble, dir.path(), ports, None);
    let mut roots = Vec::new();
    for i in 0..2 {
        let api = client(&[&pebble.api_ca.pem], None, &[b"http/1.1"]);
        let r = get_tls(api, pebble.management, "localhost", &format!("/roots/{i}"))
            .await
            .expect("pebble's management API answers");
        assert_eq!(r.status, 200, "{}", r.body);
        roots.push(r.body);
    }
    let config = bellhop_config(&storage, &pebble, name, ports, issuer(&roots));
    s.rt.load(config.to_string().as_bytes())
        .expect("the config with the tls app loads");
    let crt = tokio::task::block_in_place(|| {
        wait_for_file(&storage, &format!("{name}.crt"), Duration::from_secs(40))
    })
    .unwrap_or_else(|| {
        let log = std::fs::read_to_string(dir.path().join("pebble.log")).unwrap_or_default();
        panic!("no certificate for {name} in storage; pebble said:\n{log}")
    });
    let chain = std::fs::read_to_string(crt).unwrap();
    assert_eq!(
        chain_root(&chain),
        subject_cn(&roots[want_root]),
        "the stored chain's root"
    );
    let https: SocketAddr = format!("127.0.0.1:{}", ports.1).parse().unwrap();
    assert!(
        trusted_by(&roots[want_root], https, name).await,
        "a client trusting root {want_root} connects"
    );
    assert!(
        !trusted_by(&roots[1 - want_root], https, name).await,
        "a client trusting only the other root does not"
    );
    s.rt.stop().await;
    let leaf = {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        CertificateDer::pem_slice_iter(chain.as_bytes())
            .next()
            .unwrap()
            .unwrap()
    };
    let (_, c) = x509_parser::parse_x509_certificate(&leaf).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    c.validity().not_after.timestamp() - now
}

/// Whether a client trusting only `root` completes a request to `name`.
async fn trusted_by(root: &str, https: SocketAddr, name: &str) -> bool {
    let c = client(&[root], None, &[b"http/1.1"]);
    get_tls(c, https, name, "/")
        .await
        .is_ok_and(|r| r.status == 200)
}

/// The issuer common name of the last certificate of a PEM chain.
fn chain_root(chain: &str) -> String {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let last = CertificateDer::pem_slice_iter(chain.as_bytes())
        .last()
        .unwrap()
        .unwrap();
    let (_, c) = x509_parser::parse_x509_certificate(&last).unwrap();
    let cn = c.issuer().iter_common_name().next().unwrap();
    cn.as_str().unwrap().to_string()
}

fn http01_only() -> Value {
    json!({"challenges": {"tls-alpn": {"disabled": true}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pebble_default_chain_and_lifetime_without_preferences() {
    let left = obtain("default-chain.bellhop.test", |_| http01_only(), 0).await;
    assert!(
        left > 365 * 86400,
        "pebble's default lifetime: {left} s left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pebble_preferred_root_and_certificate_lifetime() {
    let issuer = |roots: &[String]| {
        let mut i = http01_only();
        i["preferred_chains"] =
            json!({"root_common_name": ["not pebble's", subject_cn(&roots[1])]});
        i["certificate_lifetime"] = json!("2h");
        i
    };
    let left = obtain("preferred-chain.bellhop.test", issuer, 1).await;
    assert!(
        (7000..=7200).contains(&left),
        "certificate_lifetime 2h: {left} s left"
    );
}
