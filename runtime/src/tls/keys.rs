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
