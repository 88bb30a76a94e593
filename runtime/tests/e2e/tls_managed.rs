//! Managed certificates from the internal CA: `key_type` (p256, p384,
//! ed25519, rsa2048), on-demand TLS gated by a real `ask` server, and
//! two runtimes sharing one storage never issuing a name twice.

use crate::support::*;
use crate::tls_support::*;
use serde_json::{json, Value};
use std::path::Path;

/// A config managing `automate` with `policies`, served with TLS on one
/// server on 127.0.0.1:0.
pub fn managed_config(storage: &Path, automation: Value, automate: &[&str]) -> Value {
    json!({
        "storage": {"module": "file_system", "root": storage.display().to_string()},
        "apps": {
            "pki": {"certificate_authorities": {"local": {"install_trust": false}}},
            "tls": {"certificates": {"automate": automate}, "automation": automation},
            "http": {"servers": {"srv0": {
                "listen": ["127.0.0.1:0"],
                "automatic_https": {"disable": true},
                "tls_connection_policies": [{}],
                "routes": [{"handle": [{"handler": "static_response", "body": "{http.request.host}"}]}]
            }}}
        }
    })
}

/// The internal CA's root in `storage`.
pub fn local_root(storage: &Path) -> String {
    std::fs::read_to_string(storage.join("pki/authorities/local/root.crt"))
        .expect("the internal CA's root is in storage")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn key_type_chooses_the_key_of_internal_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let internal = json!([{"module": "internal"}]);
    let policy = |name: &str, kt: Option<&str>| {
        let mut p = json!({"subjects": [name], "issuers": internal});
        if let Some(kt) = kt {
            p["key_type"] = json!(kt);
        }
        p
    };
    let automation = json!({"policies": [
        policy("default.test", None),
        policy("p384.test", Some("p384")),
        policy("ed.test", Some("ed25519")),
        policy("rsa.test", Some("rsa2048")),
    ]});
    let names = ["default.test", "p384.test", "ed.test", "rsa.test"];
    let s = start(managed_config(dir.path(), automation, &names));
    let c = client(&[&local_root(dir.path())], None, &[b"http/1.1"]);
    let peer = |name: &'static str| {
        let c = c.clone();
        async move {
            let r = get_tls(c, s.addr, name, "/")
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.body, name);
            r.peer
        }
    };
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    let algorithm = |der: &[u8]| bellhop_runtime::tls::der::parse(der).unwrap().key_algorithm;
    let d = peer("default.test").await;
    assert!(algorithm(&d) == "ecdsa" && contains(&d, P256) && !contains(&d, P384));
    let p = peer("p384.test").await;
    assert!(algorithm(&p) == "ecdsa" && contains(&p, P384));
    assert_eq!(algorithm(&peer("ed.test").await), "ed25519");
    assert_eq!(algorithm(&peer("rsa.test").await), "rsa");
    let key = std::fs::read_to_string(dir.path().join("certificates/local/rsa.test/rsa.test.key"));
    assert!(
        key.unwrap().contains("PRIVATE KEY"),
        "the RSA key is stored"
    );
    s.rt.stop().await;
}

#[test]
fn unsupported_tls_modules_are_named_with_their_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let load_err = |automation: Value| {
        let config = managed_config(dir.path(), automation, &[]);
        bellhop_runtime::validate(config.to_string().as_bytes())
            .unwrap_err()
            .to_string()
    };
    let e = load_err(json!({"policies": [{"get_certificate": [{"via": "acme_dns"}]}]}));
    assert_eq!(
        e,
        "apps.tls.automation.policies[0].get_certificate[0].via: module not implemented by bellhop: tls.get_certificate.acme_dns"
    );
    let zerossl = |iss: Value| json!({"policies": [{"issuers": [iss]}]});
    let e = load_err(zerossl(json!({"module": "zerossl"})));
    assert!(
        e.starts_with("apps.tls.automation.policies[0].issuers[0].api_key: required"),
        "{e}"
    );
    let e = load_err(zerossl(
        json!({"module": "zerossl", "api_key": "k", "cname_validation": {"provider": {"name": "route53"}}}),
    ));
    assert_eq!(
        e,
        "apps.tls.automation.policies[0].issuers[0].cname_validation.provider.name: module not implemented by bellhop: dns.providers.route53"
    );
    let acme_dns = |dns: Value| json!({"policies": [{"issuers": [{"module": "acme", "challenges": {"dns": dns}}]}]});
    let e = load_err(acme_dns(
        json!({"provider": {"name": "cloudflare", "api_token": "t"}}),
    ));
    assert_eq!(
        e,
        "apps.tls.automation.policies[0].issuers[0].challenges.dns.provider.name: module not implemented by bellhop: dns.providers.cloudflare"
    );
    let e = load_err(acme_dns(json!({"ttl": 1000})));
    assert!(e.starts_with("apps.tls.automation.policies[0].issuers[0].challenges.dns.provider: the DNS-01 challenge needs a DNS provider module"), "{e}");
}

/// A policy's `must_staple` reaches its issuer: the internal CA's
/// certificate for it carries the TLS Feature extension (RFC 7633), and
/// another policy's does not.
#[tokio::test]
async fn must_staple_policies_get_tls_feature_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let automation = json!({"policies": [
        {"subjects": ["staple.test"], "issuers": [{"module": "internal"}], "must_staple": true},
        {"subjects": ["plain.test"], "issuers": [{"module": "internal"}]}
    ]});
    let s = start(managed_config(
        dir.path(),
        automation,
        &["staple.test", "plain.test"],
    ));
    let c = client(&[&local_root(dir.path())], None, &[b"http/1.1"]);
    // the extension: OID 1.3.6.1.5.5.7.1.24, then SEQUENCE { INTEGER 5 }
    const FEATURE: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x18];
    let staple = get_tls(c.clone(), s.addr, "staple.test", "/")
        .await
        .unwrap();
    assert!(
        contains(&staple.peer, FEATURE) && contains(&staple.peer, &[0x30, 0x03, 0x02, 0x01, 0x05])
    );
    let plain = get_tls(c, s.addr, "plain.test", "/").await.unwrap();
    assert!(!contains(&plain.peer, FEATURE));
}
