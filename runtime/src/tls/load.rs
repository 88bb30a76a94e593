//! Certificate loaders of the `tls` app: `load_files`, `load_folders`,
//! `load_pem` and `load_storage` (keys of the config's storage), plus the
//! PEM helpers the rest of the TLS code shares.
//!
//! A folder is walked recursively; each `.pem` file in it must hold both a
//! certificate chain and its private key (Caddy's rule).

use super::cache::Cert;
use super::config::Certificates;
use crate::error::Error;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// Parses a PEM chain and a PEM private key.
pub fn parse_pem_pair(
    chain_pem: &str,
    key_pem: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = parse_certs(chain_pem.as_bytes())?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| format!("no private key found: {e}"))?;
    Ok((chain, key))
}

/// Every certificate in PEM text; at least one.
pub fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM certificate: {e}"))?;
    if chain.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(chain)
}

fn read(path: &str, at: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::config(at, format!("reading {path}: {e}")))
}

/// Runs every loader of `certificates`, in Caddy's order (`storage` is
/// the config's, for `load_storage`).
pub fn load_all(
    c: &Certificates,
    storage: &super::storage::Storage,
    path: &str,
) -> Result<Vec<Cert>, Error> {
    let mut out = Vec::new();
    for (i, f) in c.load_files.iter().enumerate() {
        let at = format!("{path}.load_files[{i}]");
        if let Some(fmt) = f.format.as_deref().filter(|f| *f != "pem") {
            return Err(Error::config(
                format!("{at}.format"),
                format!("unsupported format {fmt:?} (only \"pem\")"),
            ));
        }
        let chain = read(&f.certificate, &format!("{at}.certificate"))?;
        let key = read(&f.key, &format!("{at}.key"))?;
        let cert = Cert::from_pem(&chain, &key, f.tags.clone())
            .map_err(|e| Error::config(&at, format!("{}: {e}", f.certificate)))?;
        out.push(cert);
    }
    for (i, dir) in c.load_folders.iter().enumerate() {
        let at = format!("{path}.load_folders[{i}]");
        load_folder(Path::new(dir), &at, &mut out)?;
    }
    for (i, p) in c.load_pem.iter().enumerate() {
        let at = format!("{path}.load_pem[{i}]");
        let cert = Cert::from_pem(&p.certificate, &p.key, p.tags.clone())
            .map_err(|e| Error::config(&at, e))?;
        out.push(cert);
    }
    let pairs = c.load_storage.iter().flat_map(|l| l.pairs.iter());
    for (i, p) in pairs.enumerate() {
        let at = format!("{path}.load_storage.pairs[{i}]");
        if let Some(fmt) = p.format.as_deref().filter(|f| !f.is_empty() && *f != "pem") {
            return Err(Error::config(
                format!("{at}.format"),
                format!("unrecognized certificate/key encoding format: {fmt}"),
            ));
        }
        let text = |key: &str, field: &str| -> Result<String, Error> {
            let bytes = super::ca_pool::read_stored(storage, key, &format!("{at}.{field}"))?;
            String::from_utf8(bytes)
                .map_err(|_| Error::config(format!("{at}.{field}"), format!("{key}: not PEM text")))
        };
        let (chain, key) = (text(&p.certificate, "certificate")?, text(&p.key, "key")?);
        let cert = Cert::from_pem(&chain, &key, p.tags.clone())
            .map_err(|e| Error::config(&at, format!("{}: {e}", p.certificate)))?;
        out.push(cert);
    }
    Ok(out)
}

fn load_folder(dir: &Path, at: &str, out: &mut Vec<Cert>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::config(at, format!("reading {}: {e}", dir.display())))?;
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            load_folder(&p, at, out)?;
            continue;
        }
        if p.extension().is_none_or(|e| !e.eq_ignore_ascii_case("pem")) {
            continue;
        }
        let text = std::fs::read_to_string(&p)
            .map_err(|e| Error::config(at, format!("reading {}: {e}", p.display())))?;
        let cert = Cert::from_pem(&text, &text, Vec::new())
            .map_err(|e| Error::config(at, format!("{}: {e}", p.display())))?;
        out.push(cert);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::config::{LoadFile, LoadStorage};

    fn storage_in(dir: &Path) -> crate::tls::storage::Storage {
        let cfg = serde_json::json!({"module": "file_system", "root": dir.join("storage").display().to_string()});
        crate::tls::storage::Storage::from_config(cfg.as_object(), "storage").unwrap()
    }

    /// `load_storage`: pairs of storage keys (Caddy's StorageLoader); a
    /// missing key is named with its pair.
    #[test]
    fn storage_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let storage = storage_in(dir.path());
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["s.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        storage
            .write("certs/s.crt", cert.pem().as_bytes(), false)
            .unwrap();
        storage
            .write("certs/s.key", key.serialize_pem().as_bytes(), true)
            .unwrap();
        let pair = |key: &str| LoadFile {
            certificate: "certs/s.crt".into(),
            key: key.into(),
            format: None,
            tags: vec!["t".into()],
        };
        let c = Certificates {
            load_storage: Some(LoadStorage {
                pairs: vec![pair("certs/s.key")],
            }),
            ..Default::default()
        };
        let certs = load_all(&c, &storage, "apps.tls.certificates").unwrap();
        assert_eq!(
            (certs[0].names.clone(), certs[0].tags.clone()),
            (vec!["s.example".to_string()], vec!["t".to_string()])
        );
        let c = Certificates {
            load_storage: Some(LoadStorage {
                pairs: vec![pair("certs/none.key")],
            }),
            ..Default::default()
        };
        let e = load_all(&c, &storage, "apps.tls.certificates")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("load_storage.pairs[0].key") && e.contains("certs/none.key"),
            "{e}"
        );
    }

    #[test]
    fn folder_bundles_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["f.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let bundle = format!("{}{}", cert.pem(), key.serialize_pem());
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/site.pem"), bundle).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let c = Certificates {
            load_folders: vec![dir.path().display().to_string()],
            ..Default::default()
        };
        let storage = storage_in(dir.path());
        let certs = load_all(&c, &storage, "apps.tls.certificates").unwrap();
        assert_eq!(certs[0].names, vec!["f.example"]);

        std::fs::write(dir.path().join("bad.pem"), cert.pem()).unwrap();
        let err = load_all(&c, &storage, "apps.tls.certificates")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("load_folders[0]") && err.contains("bad.pem"),
            "{err}"
        );
    }
}
