//! The roots an upstream's certificate is verified against: the
//! configured ones (`ca`: any `tls.ca_pool.source.*`, or without the `tls`
//! app only `inline` and `file`; `root_ca_pool`; `root_ca_pem_files`),
//! each kept with the field it came from for errors, or else the
//! system's; and the rustls store made of them.

use super::{base64_decode, TlsConfig};
use crate::error::Error;
use crate::tls::TlsState;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Trusted roots, each with the field it came from.
pub type RootList = Vec<(CertificateDer<'static>, &'static str)>;

/// The rustls store of `custom` roots, or of the system's.
pub(super) fn root_store(custom: &Option<RootList>, path: &str) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    let Some(custom) = custom else {
        for c in rustls_native_certs::load_native_certs().certs {
            let _ = store.add(c);
        }
        return Ok(store);
    };
    for (der, field) in custom {
        store
            .add(der.clone())
            .map_err(|x| Error::config(format!("{path}.{field}"), x))?;
    }
    Ok(store)
}

/// The configured roots (`None`: none configured, so the system's are
/// trusted).
pub(super) fn root_certs(
    t: &TlsConfig,
    tls: Option<&Arc<TlsState>>,
    path: &str,
) -> Result<Option<RootList>, Error> {
    let mut certs = Vec::new();
    let mut custom = false;
    let mut add = |der: CertificateDer<'static>, field: &'static str| {
        certs.push((der, field));
        Ok::<(), Error>(())
    };
    for (i, b64) in t.root_ca_pool.iter().enumerate() {
        let der = base64_decode(b64)
            .ok_or_else(|| Error::config(format!("{path}.root_ca_pool[{i}]"), "invalid base64"))?;
        add(CertificateDer::from(der), "root_ca_pool")?;
        custom = true;
    }
    let mut pem_files: Vec<String> = t.root_ca_pem_files.clone();
    if let (Some(ca), Some(state)) = (&t.ca, tls) {
        // Every tls.ca_pool.source module, as client authentication has.
        for c in crate::tls::ca_pool::load(ca, state, &format!("{path}.ca"))? {
            add(c, "ca")?;
        }
        custom = true;
    } else if let Some(ca) = &t.ca {
        // Without the tls app (admin.config.load): the sources that need
        // nothing of it.
        let cpath = format!("{path}.ca");
        match ca.get("provider").and_then(Value::as_str) {
            Some("inline") => {
                for c in str_list(ca, "trusted_ca_certs") {
                    let der = base64_decode(&c)
                        .ok_or_else(|| Error::config(&cpath, "invalid base64 certificate"))?;
                    add(CertificateDer::from(der), "ca.trusted_ca_certs")?;
                }
            }
            Some("file") => pem_files.extend(str_list(ca, "pem_files")),
            Some(other) => {
                return Err(Error::UnknownModule {
                    path: format!("{cpath}.provider"),
                    id: format!("tls.ca_pool.source.{other}"),
                })
            }
            None => {
                return Err(Error::config(
                    cpath,
                    "module name missing: expected `provider`",
                ))
            }
        }
        custom = true;
    }
    for f in &pem_files {
        let certs = CertificateDer::pem_file_iter(f)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|x| Error::config(format!("{path}.root_ca_pem_files"), format!("{f}: {x}")))?;
        for c in certs {
            add(c, "root_ca_pem_files")?;
        }
        custom = true;
    }
    Ok(custom.then_some(certs))
}

fn str_list(m: &Map<String, Value>, key: &str) -> Vec<String> {
    m.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
