//! Key types of managed certificates (an automation policy's `key_type`,
//! certmagic's names): `p256` (the default), `p384`, `ed25519`, `rsa2048`
//! and `rsa4096`. Used for internal leaves and for ACME CSRs.
//!
//! ring signs with every one of them but generates only EC and Ed25519
//! keys; RSA keys come from the `rsa` crate as PKCS#8 and are handed to
//! rcgen (and rustls) from there.

use crate::error::Error;
use rcgen::{KeyPair, SignatureAlgorithm};
use rustls_pki_types::PrivatePkcs8KeyDer;

/// The key type of a managed certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyType {
    #[default]
    P256,
    P384,
    Ed25519,
    Rsa2048,
    Rsa4096,
}

impl KeyType {
    /// Parses a `key_type` value at JSON path `at` (empty: the default).
    pub fn parse(s: &str, at: &str) -> Result<KeyType, Error> {
        Ok(match s {
            "" | "p256" => KeyType::P256,
            "p384" => KeyType::P384,
            "ed25519" => KeyType::Ed25519,
            "rsa2048" => KeyType::Rsa2048,
            "rsa4096" => KeyType::Rsa4096,
            other => {
                return Err(Error::config(
                    at,
                    format!(
                        "unknown key type {other:?}: expected one of p256, p384, ed25519, rsa2048, rsa4096"
                    ),
                ))
            }
        })
    }

    /// The name in configs and logs.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::P256 => "p256",
            KeyType::P384 => "p384",
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa4096 => "rsa4096",
        }
    }

    /// Generates a new private key of this type.
    pub fn generate(self) -> Result<KeyPair, String> {
        let ec = |alg: &'static SignatureAlgorithm| {
            KeyPair::generate_for(alg).map_err(|e| format!("generating a {} key: {e}", self.name()))
        };
        match self {
            KeyType::P256 => ec(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyType::P384 => ec(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyType::Ed25519 => ec(&rcgen::PKCS_ED25519),
            KeyType::Rsa2048 => rsa_key(2048),
            KeyType::Rsa4096 => rsa_key(4096),
        }
    }
}

/// A private key from PEM in any of the forms Caddy and OpenSSL write:
/// PKCS#8 (`PRIVATE KEY`), SEC1 EC (`EC PRIVATE KEY`, Go's and so Caddy's
/// form for its CA and certificate keys) or PKCS#1 RSA (`RSA PRIVATE
/// KEY`). ring (under rcgen) reads PKCS#8 only, so the others are wrapped.
pub fn key_pair_from_pem(pem: &str) -> Result<KeyPair, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::EncodePrivateKey as _;
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::PrivateKeyDer;
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("no private key in the PEM: {e}"))?;
    let pkcs8 = match &der {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        PrivateKeyDer::Sec1(k) => sec1_to_pkcs8(k.secret_sec1_der())?,
        PrivateKeyDer::Pkcs1(k) => rsa::RsaPrivateKey::from_pkcs1_der(k.secret_pkcs1_der())
            .and_then(|k| k.to_pkcs8_der().map_err(rsa::pkcs1::Error::Pkcs8))
            .map_err(|e| format!("the RSA key: {e}"))?
            .as_bytes()
            .to_vec(),
        _ => return Err("unsupported private key format".into()),
    };
    KeyPair::try_from(pkcs8.as_slice()).map_err(|e| format!("the private key: {e}"))
}

/// DER: a tag, its length and content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// Wraps a SEC1 `ECPrivateKey` (P-256 or P-384, told by the length of its
/// private key) into PKCS#8 (RFC 5208, RFC 5915 §2).
fn sec1_to_pkcs8(sec1: &[u8]) -> Result<Vec<u8>, String> {
    // SEQUENCE { INTEGER 1, OCTET STRING privateKey, ... }: the octet
    // string follows the 3-byte version within a short-form or 0x81 header.
    let bad = || "malformed EC private key".to_string();
    let body = match sec1 {
        [0x30, 0x81, _, rest @ ..] => rest,
        [0x30, n, rest @ ..] if *n < 0x80 => rest,
        _ => return Err(bad()),
    };
    let curve: &[u8] = match body {
        [0x02, 0x01, 0x01, 0x04, 32, ..] => &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        [0x02, 0x01, 0x01, 0x04, 48, ..] => &[0x2b, 0x81, 0x04, 0x00, 0x22],
        _ => return Err("only P-256 and P-384 EC keys are supported".into()),
    };
    let ec_public_key = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let mut alg = tlv(0x06, &ec_public_key);
    alg.extend(tlv(0x06, curve));
    let mut seq = vec![0x02, 0x01, 0x00];
    seq.extend(tlv(0x30, &alg));
    seq.extend(tlv(0x04, sec1));
    Ok(tlv(0x30, &seq))
}

fn rsa_key(bits: usize) -> Result<KeyPair, String> {
    use rsa::pkcs8::EncodePrivateKey as _;
    let fail = |e: &dyn std::fmt::Display| format!("generating an RSA-{bits} key: {e}");
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits).map_err(|e| fail(&e))?;
    let der = key.to_pkcs8_der().map_err(|e| fail(&e))?;
    KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(der.as_bytes()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec1_and_pkcs1_keys_read_as_the_same_key() {
        // openssl's three forms of one key each (SEC1 for EC as Go writes it).
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let ok = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                ok.status.success(),
                "{}",
                String::from_utf8_lossy(&ok.stderr)
            );
        };
        for (gen, legacy) in [
            (
                &[
                    "ecparam",
                    "-name",
                    "prime256v1",
                    "-genkey",
                    "-noout",
                    "-out",
                    "k.pem",
                ][..],
                "ec",
            ),
            (
                &[
                    "ecparam",
                    "-name",
                    "secp384r1",
                    "-genkey",
                    "-noout",
                    "-out",
                    "k.pem",
                ][..],
                "ec",
            ),
            (
                &["genrsa", "-traditional", "-out", "k.pem", "2048"][..],
                "rsa",
            ),
        ] {
            run(gen);
            let legacy_pem = std::fs::read_to_string(dir.path().join("k.pem")).unwrap();
            assert!(legacy_pem.contains(&format!("BEGIN {} PRIVATE KEY", legacy.to_uppercase())));
            run(&[
                "pkcs8", "-topk8", "-nocrypt", "-in", "k.pem", "-out", "p8.pem",
            ]);
            let p8 = std::fs::read_to_string(dir.path().join("p8.pem")).unwrap();
            let a = key_pair_from_pem(&legacy_pem).unwrap();
            let b = key_pair_from_pem(&p8).unwrap();
            assert_eq!(a.public_key_pem(), b.public_key_pem(), "{legacy}");
        }
        assert!(key_pair_from_pem("not a key").is_err());
    }

    #[test]
    fn every_key_type_makes_a_usable_certificate() {
        for (name, alg) in [
            ("p256", "ecdsa"),
            ("p384", "ecdsa"),
            ("ed25519", "ed25519"),
            ("rsa2048", "rsa"),
        ] {
            let kt = KeyType::parse(name, "key_type").unwrap();
            assert_eq!(kt.name(), name);
            let key = kt.generate().unwrap();
            let cert = rcgen::CertificateParams::new(vec!["k.test".into()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            let c = super::super::cache::Cert::from_pem(&cert.pem(), &key.serialize_pem(), vec![])
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(c.facts.key_algorithm, alg, "{name}");
            // A stored key reads back as the same key (reuse_private_keys).
            let back = KeyPair::from_pem(&key.serialize_pem()).unwrap();
            assert_eq!(back.public_key_raw(), key.public_key_raw(), "{name}");
        }
        assert_eq!(KeyType::parse("", "k").unwrap(), KeyType::P256);
        let e = KeyType::parse("rsa1024", "apps.tls.automation.policies[0].key_type");
        let msg = e.unwrap_err().to_string();
        assert!(
            msg.contains("policies[0].key_type") && msg.contains("rsa1024"),
            "{msg}"
        );
    }
}
