//! The `pki` app's certificate authorities: a root and an intermediate made
//! with rcgen and persisted in storage, or either given as files
//! (`files.rs`), and leaf certificates signed by the intermediate
//! (`sign.rs`: the `internal` issuer's and `acme_server`'s back end).
//!
//! Defaults follow Caddy: the CA `local`, a root valid ten years, an
//! intermediate valid seven days and renewed when a third of its life
//! remains, leaf certificates valid twelve hours.

mod files;
mod sign;

pub use sign::must_staple_extension;

use super::config::CaConfig;
use super::der::{self, CertFacts};
use super::storage::{safe_key, LockGuard, Storage, BLOCKING_WAIT};
use crate::error::Error;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::time::Duration;

/// The default CA's ID.
pub const DEFAULT_CA: &str = "local";
const DEFAULT_NAME: &str = "Bellhop Local Authority";
const ROOT_LIFETIME: Duration = Duration::from_secs(3650 * 86_400);
const DEFAULT_INTERMEDIATE_LIFETIME: Duration = Duration::from_secs(7 * 86_400);

/// A CA certificate with its key.
pub struct CaCert {
    pub pem: String,
    /// `None` for a root given as a file without its key.
    pub key: Option<KeyPair>,
    pub facts: CertFacts,
}

/// A certificate authority of the `pki` app.
pub struct Ca {
    pub id: String,
    pub name: String,
    pub root: CaCert,
    pub intermediate: CaCert,
    intermediate_cn: String,
    intermediate_lifetime: Duration,
    renewal_ratio: f64,
    storage: Storage,
    /// The root's file, when it was given as one.
    root_file: Option<String>,
    /// The intermediate was given as files: never renewed here.
    fixed_intermediate: bool,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("id", &self.id).finish()
    }
}

fn ca_params(cn: &str, lifetime: Duration, path_len: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = match path_len {
        Some(n) => IsCa::Ca(BasicConstraints::Constrained(n)),
        None => IsCa::Ca(BasicConstraints::Unconstrained),
    };
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::minutes(1);
    p.not_after = now + lifetime;
    p
}

/// The issuer of a CA certificate: its subject and key identifier, read
/// from the certificate itself, and its key.
fn issuer_of(c: &CaCert) -> Result<Issuer<'_, &KeyPair>, String> {
    let key = c.key.as_ref().ok_or(
        "the CA certificate's private key is needed here, and its files give none (private_key)",
    )?;
    Issuer::from_ca_cert_pem(&c.pem, key).or_else(|_| {
        let cn = c.facts.common_name.clone().unwrap_or_default();
        Ok(Issuer::new(ca_params(&cn, Duration::ZERO, None), key))
    })
}

fn err(at: &str, e: impl std::fmt::Display) -> Error {
    Error::config(at, e.to_string())
}

impl Ca {
    /// Storage key prefix of this CA.
    fn prefix(&self) -> String {
        format!("pki/authorities/{}", safe_key(&self.id))
    }

    /// Loads the CA `id` from storage, creating (or renewing) its root and
    /// intermediate as needed.
    pub fn load_or_create(
        id: &str,
        cfg: &CaConfig,
        storage: &Storage,
        at: &str,
    ) -> Result<Ca, Error> {
        crate::config::unread::ca(cfg);
        // A CA may keep its data in a storage of its own (Caddy's
        // `storage` of a CA), else in the config's.
        let own;
        let storage = match &cfg.storage {
            Some(m) => {
                own = Storage::from_config(Some(m), &format!("{at}.storage"))?;
                &own
            }
            None => storage,
        };
        if cfg.install_trust != Some(false) {
            // Caddy installs the root into the system store here (and only
            // warns when it cannot); bellhop leaves that to an explicit
            // command, and says so.
            tracing::warn!(
                ca = id,
                "not installing this CA's root into the system trust store; run `bellhop trust --install` to do so, or set install_trust false (skip_install_trust) to silence this"
            );
        }
        let name = cfg.name.clone().unwrap_or_else(|| DEFAULT_NAME.into());
        let year = time::OffsetDateTime::now_utc().year();
        let root_cn = cfg
            .root_common_name
            .clone()
            .unwrap_or_else(|| format!("{name} - {year} ECC Root"));
        let intermediate_cn = cfg
            .intermediate_common_name
            .clone()
            .unwrap_or_else(|| format!("{name} - ECC Intermediate"));
        let intermediate_lifetime = cfg
            .intermediate_lifetime
            .map(|d| d.0)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_INTERMEDIATE_LIFETIME);
        let renewal_ratio = match cfg.renewal_window_ratio {
            None => 1.0 / 3.0,
            Some(r) if r > 0.0 && r < 1.0 => r,
            Some(_) => {
                return Err(Error::config(
                    format!("{at}.renewal_window_ratio"),
                    "must be between 0 and 1 (exclusive)",
                ))
            }
        };
        let prefix = format!("pki/authorities/{}", safe_key(id));
        let fresh = |i: &CaCert| !in_renewal_window(&i.facts, renewal_ratio);
        let given = |kp: &Option<super::config::KeyPairFiles>, which: &str| {
            kp.as_ref()
                .map(|kp| files::load(kp, which, &format!("{at}.{which}")))
                .transpose()
        };
        let (root_given, intermediate_given) = (
            given(&cfg.root, "root")?,
            given(&cfg.intermediate, "intermediate")?,
        );
        let fixed_intermediate = intermediate_given.is_some();
        let stored = (
            match root_given {
                Some(r) => Some(r),
                None => load_pair(storage, &prefix, "root", at)?,
            },
            match intermediate_given {
                Some(i) => Some(i),
                None => load_pair(storage, &prefix, "intermediate", at)?.filter(fresh),
            },
        );
        let (root, intermediate) = match stored {
            (Some(r), Some(i)) if fixed_intermediate || files::signed_by(&i, &r) => (r, i),
            (stored_root, stored_intermediate) => {
                // Creating: under the CA's storage lock, looking again, so
                // processes starting together on one storage make one CA.
                let _lock = lock_ca(storage, id, at)?;
                let (root, new_root) = match stored_root {
                    Some(r) => (r, false),
                    None => match load_pair(storage, &prefix, "root", at)? {
                        Some(r) => (r, false),
                        None => (new_root(storage, &prefix, &root_cn, id, at)?, true),
                    },
                };
                let intermediate = match stored_intermediate.filter(|_| fixed_intermediate) {
                    Some(i) => i,
                    None => {
                        let stored = load_pair(storage, &prefix, "intermediate", at)?;
                        match stored.filter(|i| !new_root && fresh(i) && files::signed_by(i, &root))
                        {
                            Some(i) => i,
                            None => {
                                let left = (root.facts.not_after - der::now()).max(0) as u64;
                                if intermediate_lifetime >= Duration::from_secs(left) {
                                    return Err(err(
                                        &format!("{at}.intermediate_lifetime"),
                                        format!("intermediate certificate lifetime must be less than actual root certificate lifetime ({left} s)"),
                                    ));
                                }
                                new_intermediate(
                                    storage,
                                    &prefix,
                                    &intermediate_cn,
                                    intermediate_lifetime,
                                    &root,
                                    at,
                                )?
                            }
                        }
                    }
                };
                (root, intermediate)
            }
        };
        Ok(Ca {
            id: id.to_string(),
            name,
            root,
            intermediate,
            intermediate_cn,
            intermediate_lifetime,
            renewal_ratio,
            storage: storage.clone(),
            root_file: cfg.root.as_ref().map(|r| r.certificate.clone()),
            fixed_intermediate,
        })
    }

    /// Renews the intermediate if it is in its renewal window.
    /// Another process sharing the storage may have renewed it already:
    /// that one is used then.
    pub fn maintain(&mut self) -> Result<(), Error> {
        if self.fixed_intermediate
            || !in_renewal_window(&self.intermediate.facts, self.renewal_ratio)
        {
            return Ok(());
        }
        let at = format!("pki CA {}", self.id);
        let _lock = lock_ca(&self.storage, &self.id, &at)?;
        let prefix = self.prefix();
        let stored = load_pair(&self.storage, &prefix, "intermediate", &at)?
            .filter(|i| !in_renewal_window(&i.facts, self.renewal_ratio));
        self.intermediate = match stored {
            Some(i) => i,
            None => {
                let (cn, life) = (&self.intermediate_cn, self.intermediate_lifetime);
                let i = new_intermediate(&self.storage, &prefix, cn, life, &self.root, &at)?;
                tracing::info!(ca = %self.id, "renewed the intermediate certificate");
                i
            }
        };
        Ok(())
    }

    /// Where the root certificate is stored (a file path, or a URL).
    pub fn root_path(&self) -> String {
        if let Some(f) = &self.root_file {
            return f.clone();
        }
        self.storage
            .describe(&format!("{}/root.crt", self.prefix()))
    }
}

/// The storage lock guarding the creation of the CA `id`'s certificates.
fn lock_ca(storage: &Storage, id: &str, at: &str) -> Result<LockGuard, Error> {
    storage
        .lock_blocking(&format!("pki_ca_{id}"), BLOCKING_WAIT)
        .map_err(|e| err(at, format!("taking the CA's storage lock: {e}")))
}

fn new_root(
    storage: &Storage,
    prefix: &str,
    cn: &str,
    id: &str,
    at: &str,
) -> Result<CaCert, Error> {
    let key = KeyPair::generate().map_err(|e| err(at, e))?;
    let cert = ca_params(cn, ROOT_LIFETIME, None)
        .self_signed(&key)
        .map_err(|e| err(at, e))?;
    let c = store_pair(storage, prefix, "root", cert.pem(), key, at)?;
    tracing::info!(ca = id, root = %storage.describe(&format!("{prefix}/root.crt")), "created a new root certificate for the internal CA");
    Ok(c)
}

fn new_intermediate(
    storage: &Storage,
    prefix: &str,
    cn: &str,
    lifetime: Duration,
    root: &CaCert,
    at: &str,
) -> Result<CaCert, Error> {
    let key = KeyPair::generate().map_err(|e| err(at, e))?;
    let cert = ca_params(cn, lifetime, Some(0))
        .signed_by(&key, &issuer_of(root).map_err(|e| err(at, e))?)
        .map_err(|e| err(at, e))?;
    store_pair(storage, prefix, "intermediate", cert.pem(), key, at)
}

/// Whether less than `ratio` of a certificate's lifetime remains.
fn in_renewal_window(f: &CertFacts, ratio: f64) -> bool {
    let life = (f.not_after - f.not_before).max(1) as f64;
    ((f.not_after - der::now()) as f64) < life * ratio
}

fn load_pair(
    storage: &Storage,
    prefix: &str,
    which: &str,
    at: &str,
) -> Result<Option<CaCert>, Error> {
    let crt = storage.read_string(&format!("{prefix}/{which}.crt"));
    let key = storage.read_string(&format!("{prefix}/{which}.key"));
    let (Some(crt), Some(key)) = (crt.map_err(|e| err(at, e))?, key.map_err(|e| err(at, e))?)
    else {
        return Ok(None);
    };
    let chain = super::load::parse_certs(crt.as_bytes())
        .map_err(|e| err(at, format!("stored {which}: {e}")))?;
    let facts = der::parse(&chain[0])
        .ok_or_else(|| err(at, format!("stored {which} certificate is malformed")))?;
    let key = super::keys::key_pair_from_pem(&key)
        .map_err(|e| err(at, format!("stored {which} key: {e}")))?;
    if facts.not_after <= der::now() {
        return Ok(None);
    }
    Ok(Some(CaCert {
        pem: crt,
        key: Some(key),
        facts,
    }))
}

fn store_pair(
    storage: &Storage,
    prefix: &str,
    which: &str,
    pem: String,
    key: KeyPair,
    at: &str,
) -> Result<CaCert, Error> {
    storage
        .write(
            &format!("{prefix}/{which}.key"),
            key.serialize_pem().as_bytes(),
            true,
        )
        .and_then(|_| storage.write(&format!("{prefix}/{which}.crt"), pem.as_bytes(), false))
        .map_err(|e| err(at, format!("storing the CA {which}: {e}")))?;
    let chain = super::load::parse_certs(pem.as_bytes()).map_err(|e| err(at, e))?;
    let facts =
        der::parse(&chain[0]).ok_or_else(|| err(at, "generated certificate is malformed"))?;
    Ok(CaCert {
        pem,
        key: Some(key),
        facts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `must_staple`: the leaf carries the TLS Feature extension asking
    /// for `status_request` (RFC 7633), and only then.
    #[test]
    fn must_staple_leaves_carry_the_tls_feature() {
        use ::der::Decode;
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path());
        let ca = Ca::load_or_create("local", &CaConfig::default(), &storage, "apps.pki").unwrap();
        let feature = |must: bool| {
            let (chain, key) = ca
                .issue(
                    &["a.test".into()],
                    &KeyPair::generate().unwrap(),
                    Duration::from_secs(3600),
                    false,
                    must,
                )
                .unwrap();
            let (certs, _) = super::super::load::parse_pem_pair(&chain, &key).unwrap();
            let leaf = x509_cert::Certificate::from_der(certs[0].as_ref()).unwrap();
            let tls_feature = ::der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.24");
            leaf.tbs_certificate
                .extensions
                .unwrap_or_default()
                .into_iter()
                .find(|e| e.extn_id == tls_feature)
                .map(|e| e.extn_value.as_bytes().to_vec())
        };
        assert_eq!(feature(true), Some(vec![0x30, 0x03, 0x02, 0x01, 0x05]));
        assert_eq!(feature(false), None);
    }

    #[test]
    fn ca_persists_and_issues_verifiable_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path());
        let ca = Ca::load_or_create("local", &CaConfig::default(), &storage, "apps.pki").unwrap();
        let again =
            Ca::load_or_create("local", &CaConfig::default(), &storage, "apps.pki").unwrap();
        assert_eq!(ca.root.pem, again.root.pem, "root is reused from storage");
        assert_eq!(ca.intermediate.pem, again.intermediate.pem);
        let (chain, key) = ca
            .issue(
                &["localhost".into(), "127.0.0.1".into()],
                &KeyPair::generate().unwrap(),
                Duration::from_secs(3600),
                false,
                false,
            )
            .unwrap();
        let (certs, _) = super::super::load::parse_pem_pair(&chain, &key).unwrap();
        assert_eq!(certs.len(), 2);
        let f = der::parse(&certs[0]).unwrap();
        assert_eq!(f.dns_names, vec!["localhost"]);
        assert!(f.not_after - der::now() <= 3600);
        // The chain verifies against the root with webpki.
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(
            super::super::load::parse_certs(ca.root.pem.as_bytes()).unwrap(),
        );
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        use rustls::client::danger::ServerCertVerifier;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        verifier
            .verify_server_cert(
                &certs[0],
                &certs[1..],
                &name,
                &[],
                rustls_pki_types::UnixTime::now(),
            )
            .unwrap();
    }
}
