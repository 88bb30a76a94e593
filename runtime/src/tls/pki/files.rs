//! A CA's root or intermediate given as files (`root` / `intermediate`:
//! `certificate`, `private_key`, `format` `pem_file`, Caddy's `KeyPair`):
//! the certificate file may hold a chain (its first certificate is the
//! CA's); the key, when given, must belong to that certificate. An
//! intermediate needs its key (it signs every leaf); a root needs one only
//! when bellhop makes the intermediate or signs with the root.

use super::CaCert;
use crate::error::Error;
use crate::tls::config::KeyPairFiles;
use crate::tls::der;
use rcgen::PublicKeyData as _;

/// Loads `which` (`root` or `intermediate`) at JSON path `at`.
pub fn load(kp: &KeyPairFiles, which: &str, at: &str) -> Result<CaCert, Error> {
    let fail = |field: &str, e: String| Error::config(format!("{at}.{field}"), e);
    match kp.format.as_deref() {
        None | Some("") | Some("pem_file") => {}
        Some(other) => return Err(fail("format", format!("unsupported format: {other}"))),
    }
    let text = std::fs::read_to_string(&kp.certificate)
        .map_err(|e| fail("certificate", format!("reading {}: {e}", kp.certificate)))?;
    let chain = crate::tls::load::parse_certs(text.as_bytes())
        .map_err(|e| fail("certificate", format!("{}: {e}", kp.certificate)))?;
    let facts = der::parse(&chain[0]).ok_or_else(|| {
        fail(
            "certificate",
            format!("{}: a malformed certificate", kp.certificate),
        )
    })?;
    let key =
        match kp.private_key.as_deref().filter(|k| !k.is_empty()) {
            None if which == "intermediate" => return Err(fail(
                "private_key",
                "an intermediate given as files needs its private key: it signs every certificate"
                    .into(),
            )),
            None => None,
            Some(path) => {
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| fail("private_key", format!("reading {path}: {e}")))?;
                let key = crate::tls::keys::key_pair_from_pem(&pem)
                    .map_err(|e| fail("private_key", format!("{path}: {e}")))?;
                let (_, cert) = x509_parser::parse_x509_certificate(&chain[0])
                    .map_err(|e| fail("certificate", e.to_string()))?;
                if cert.public_key().raw != key.subject_public_key_info().as_slice() {
                    return Err(fail(
                        "private_key",
                        format!(
                            "{path} does not belong to the certificate in {}",
                            kp.certificate
                        ),
                    ));
                }
                Some(key)
            }
        };
    Ok(CaCert {
        pem: certificate_blocks(&text),
        key,
        facts,
    })
}

/// The `CERTIFICATE` blocks of a PEM text, nothing else.
fn certificate_blocks(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            inside = true;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
        if line == "-----END CERTIFICATE-----" {
            inside = false;
        }
    }
    out
}

/// Whether `child`'s first certificate is signed by `parent`'s key.
pub fn signed_by(child: &CaCert, parent: &CaCert) -> bool {
    let certs = |c: &CaCert| crate::tls::load::parse_certs(c.pem.as_bytes()).ok();
    let (Some(child), Some(parent)) = (certs(child), certs(parent)) else {
        return false;
    };
    let (Ok((_, c)), Ok((_, p))) = (
        x509_parser::parse_x509_certificate(&child[0]),
        x509_parser::parse_x509_certificate(&parent[0]),
    ) else {
        return false;
    };
    c.verify_signature(Some(p.public_key())).is_ok()
}

#[cfg(test)]
mod tests {
    use crate::tls::config::CaConfig;
    use crate::tls::pki::Ca;
    use crate::tls::storage::Storage;
    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use std::path::Path;

    fn openssl(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn config(json: serde_json::Value) -> CaConfig {
        serde_json::from_value(json).unwrap()
    }

    /// A leaf of `ca` verifies against `root_pem` as a web PKI chain.
    fn verifies(ca: &Ca, root_pem: &str, name: &str) -> Result<(), String> {
        let key = rcgen::KeyPair::generate().unwrap();
        let (chain, _) = ca
            .issue(
                &[name.to_string()],
                &key,
                std::time::Duration::from_secs(3600),
                false,
                false,
            )
            .unwrap();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain.as_bytes())
            .map(|c| c.unwrap())
            .collect();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap())
            .unwrap();
        let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let sn = ServerName::try_from(name.to_string()).unwrap();
        v.verify_server_cert(&certs[0], &certs[1..], &sn, &[], UnixTime::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_root_from_files_signs_a_generated_intermediate_and_leaves_chain_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "root.p8",
                "-out",
                "root.crt",
                "-days",
                "3650",
                "-subj",
                "/C=US/O=Corp/CN=Corp Root",
            ],
        );
        // The key as Go (and Caddy) writes EC keys: SEC1.
        openssl(d, &["ec", "-in", "root.p8", "-out", "root.key"]);
        let storage = Storage::new(d.join("storage"));
        let cfg = config(serde_json::json!({"install_trust": false, "root": {
            "certificate": d.join("root.crt"), "private_key": d.join("root.key"), "format": "pem_file"}}));
        let ca = Ca::load_or_create(
            "corp",
            &cfg,
            &storage,
            "apps.pki.certificate_authorities.corp",
        )
        .unwrap();
        let root_pem = std::fs::read_to_string(d.join("root.crt")).unwrap();
        verifies(&ca, &root_pem, "svc.corp.test").unwrap();
        assert_eq!(ca.root_path(), d.join("root.crt").display().to_string());
        assert!(
            storage
                .read("pki/authorities/corp/root.crt")
                .unwrap()
                .is_none(),
            "the root stays in its file"
        );
        // A restart keeps the stored intermediate.
        let again = Ca::load_or_create("corp", &cfg, &storage, "x").unwrap();
        assert_eq!(again.intermediate.pem, ca.intermediate.pem);
        // Another root: the intermediate it did not sign is replaced.
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "root2.key",
                "-out",
                "root2.crt",
                "-days",
                "3650",
                "-subj",
                "/CN=Other Root",
            ],
        );
        let cfg2 = config(serde_json::json!({"install_trust": false, "root": {
            "certificate": d.join("root2.crt"), "private_key": d.join("root2.key")}}));
        let other = Ca::load_or_create("corp", &cfg2, &storage, "x").unwrap();
        assert_ne!(other.intermediate.pem, ca.intermediate.pem);
        verifies(
            &other,
            &std::fs::read_to_string(d.join("root2.crt")).unwrap(),
            "a.test",
        )
        .unwrap();
        assert!(
            verifies(&other, &root_pem, "a.test").is_err(),
            "not the old root's any more"
        );
    }

    #[test]
    fn an_intermediate_from_files_signs_leaves_itself() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-nodes",
                "-keyout",
                "root.key",
                "-out",
                "root.crt",
                "-days",
                "3650",
                "-subj",
                "/O=Corp/CN=Corp Root",
            ],
        );
        std::fs::write(d.join("ext.cnf"), "basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n").unwrap();
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "int.key",
                "-out",
                "int.csr",
                "-subj",
                "/O=Corp/CN=Corp Intermediate",
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "int.csr",
                "-CA",
                "root.crt",
                "-CAkey",
                "root.key",
                "-CAcreateserial",
                "-out",
                "int.crt",
                "-days",
                "365",
                "-extfile",
                "ext.cnf",
            ],
        );
        let storage = Storage::new(d.join("storage"));
        let cfg = config(serde_json::json!({"install_trust": false,
            "root": {"certificate": d.join("root.crt")},
            "intermediate": {"certificate": d.join("int.crt"), "private_key": d.join("int.key")}}));
        let ca = Ca::load_or_create(
            "corp",
            &cfg,
            &storage,
            "apps.pki.certificate_authorities.corp",
        )
        .unwrap();
        verifies(
            &ca,
            &std::fs::read_to_string(d.join("root.crt")).unwrap(),
            "svc.corp.test",
        )
        .unwrap();
        assert!(
            storage.list("pki").is_empty(),
            "nothing generated or stored"
        );
    }

    #[test]
    fn a_ca_may_keep_its_data_in_a_storage_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let main = Storage::new(dir.path().join("main"));
        let own = dir.path().join("own");
        let cfg = config(serde_json::json!({"install_trust": false,
            "storage": {"module": "file_system", "root": own}}));
        let ca = Ca::load_or_create("corp", &cfg, &main, "apps.pki.certificate_authorities.corp")
            .unwrap();
        assert!(own.join("pki/authorities/corp/root.crt").is_file());
        assert!(
            main.list("pki").is_empty(),
            "nothing in the config's storage"
        );
        assert_eq!(
            ca.root_path(),
            own.join("pki/authorities/corp/root.crt")
                .display()
                .to_string()
        );
        let bad = config(serde_json::json!({"storage": {"module": "nowhere"}}));
        let e = Ca::load_or_create("corp", &bad, &main, "apps.pki.certificate_authorities.corp")
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("apps.pki.certificate_authorities.corp.storage.module"),
            "{e}"
        );
    }

    #[test]
    fn file_errors_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "a.key",
                "-out",
                "a.crt",
                "-days",
                "30",
                "-subj",
                "/CN=A",
            ],
        );
        openssl(
            d,
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "b.key",
            ],
        );
        let storage = Storage::new(d.join("storage"));
        let at = "apps.pki.certificate_authorities.corp";
        for (json, field, text) in [
            (
                serde_json::json!({"root": {"certificate": d.join("a.crt"), "private_key": d.join("b.key")}}),
                "root.private_key",
                "does not belong",
            ),
            (
                serde_json::json!({"root": {"certificate": d.join("none.crt")}}),
                "root.certificate",
                "reading",
            ),
            (
                serde_json::json!({"root": {"certificate": d.join("a.crt"), "format": "der"}}),
                "root.format",
                "unsupported format: der",
            ),
            (
                serde_json::json!({"intermediate": {"certificate": d.join("a.crt")}}),
                "intermediate.private_key",
                "needs its private key",
            ),
            // A 30-day root cannot sign the default 7-day intermediate... but can;
            // a 60-day intermediate outlives it.
            (
                serde_json::json!({"intermediate_lifetime": "60d", "root": {"certificate": d.join("a.crt"), "private_key": d.join("a.key")}}),
                "intermediate_lifetime",
                "less than actual root",
            ),
        ] {
            let mut json = json;
            json["install_trust"] = false.into();
            let e = Ca::load_or_create("corp", &config(json), &storage, at)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("{at}.{field}")) && e.contains(text),
                "{e}"
            );
        }
    }
}
