//! `tls.ca_pool.source.*`: where a client-authentication policy's trusted
//! CA certificates come from (`client_authentication.ca`), as Caddy's
//! sources: `inline` (base64 DER), `file` (PEM files), `system` (the
//! operating system's roots), `pki_root` and
//! `pki_intermediate` (the `pki` app's authorities), `storage` (PEM keys
//! in the config's storage), `lazy` (another source; bellhop loads it at
//! provision time either way), `combined` (several) and `http` (PEM
//! bundles fetched from `endpoints` at provision time, `http_source.rs`).

use super::TlsState;
use crate::error::Error;
use rustls::pki_types::CertificateDer;
use serde_json::{Map, Value};

/// The certificates of the source at `at`.
pub fn load(
    source: &Map<String, Value>,
    state: &TlsState,
    at: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let provider = source.get("provider").and_then(Value::as_str).unwrap_or("");
    let fields: &[&str] = match provider {
        "inline" => &["trusted_ca_certs"],
        "system" => &[],
        "file" => &["pem_files"],
        "pki_root" | "pki_intermediate" => &["authority"],
        "storage" => &["storage", "pem_keys"],
        "lazy" => &["ca", "eager_validation"],
        "combined" => &["sources"],
        "http" => &["endpoints", "tls"],
        other => {
            return Err(Error::config(
                format!("{at}.provider"),
                format!("unknown CA pool source {other:?} (inline, file, system, pki_root, pki_intermediate, storage, lazy, combined, http)"),
            ))
        }
    };
    if let Some(k) = source
        .keys()
        .find(|k| *k != "provider" && !fields.contains(&k.as_str()))
    {
        return Err(Error::config(
            format!("{at}.{k}"),
            format!("unknown field of the {provider} CA pool source"),
        ));
    }
    let strings = |name: &str| string_list(source, name, at);
    let mut out = Vec::new();
    match provider {
        "inline" => {
            for (i, b64) in strings("trusted_ca_certs")?.iter().enumerate() {
                out.push(super::client_auth::der_from_base64(
                    b64,
                    &format!("{at}.trusted_ca_certs[{i}]"),
                )?);
            }
        }
        "system" => {
            let native = rustls_native_certs::load_native_certs();
            if native.certs.is_empty() {
                return Err(Error::config(
                    format!("{at}.provider"),
                    format!(
                        "no system root certificates could be read ({} errors)",
                        native.errors.len()
                    ),
                ));
            }
            out.extend(native.certs);
        }
        "file" => {
            for (i, file) in strings("pem_files")?.iter().enumerate() {
                let p = format!("{at}.pem_files[{i}]");
                out.extend(pem_certs(&read_file(file, &p)?, &p)?);
            }
        }
        "pki_root" | "pki_intermediate" => {
            for (i, id) in strings("authority")?.iter().enumerate() {
                let p = format!("{at}.authority[{i}]");
                let pem = state
                    .with_ca(id, |ca| {
                        Ok(if provider == "pki_root" {
                            ca.root.pem.clone()
                        } else {
                            ca.intermediate.pem.clone()
                        })
                    })
                    .map_err(|e| Error::config(&p, e))?;
                out.extend(pem_certs(pem.as_bytes(), &p)?);
            }
        }
        "storage" => {
            let storage = storage_of(source, state, at)?;
            for (i, key) in strings("pem_keys")?.iter().enumerate() {
                let p = format!("{at}.pem_keys[{i}]");
                out.extend(pem_certs(&read_stored(&storage, key, &p)?, &p)?);
            }
        }
        "http" => out.extend(super::http_source::load(source, state, at)?),
        "lazy" => match source.get("ca") {
            Some(Value::Object(inner)) => out.extend(load(inner, state, &format!("{at}.ca"))?),
            _ => {
                return Err(Error::config(
                    format!("{at}.ca"),
                    "the lazy source needs a CA pool source",
                ))
            }
        },
        _ => match source.get("sources") {
            Some(Value::Array(list)) => {
                for (i, s) in list.iter().enumerate() {
                    let p = format!("{at}.sources[{i}]");
                    let Value::Object(inner) = s else {
                        return Err(Error::config(p, "must be a CA pool source object"));
                    };
                    out.extend(load(inner, state, &p)?);
                }
            }
            _ => {
                return Err(Error::config(
                    format!("{at}.sources"),
                    "the combined source needs a list of sources",
                ))
            }
        },
    }
    Ok(out)
}

pub(super) fn pem_certs(pem: &[u8], at: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = super::load::parse_certs(pem).map_err(|e| Error::config(at, e))?;
    if certs.is_empty() {
        return Err(Error::config(at, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// The list of strings under `name` of a module object (empty when
/// absent), each a string or an error naming its place.
pub(super) fn string_list(
    obj: &Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<Vec<String>, Error> {
    match obj.get(name) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::config(format!("{at}.{name}[{i}]"), "must be a string"))
            })
            .collect(),
        Some(_) => Err(Error::config(
            format!("{at}.{name}"),
            "must be a list of strings",
        )),
    }
}

/// The module's own `storage`, else the config's.
pub(super) fn storage_of(
    obj: &Map<String, Value>,
    state: &TlsState,
    at: &str,
) -> Result<super::storage::Storage, Error> {
    let p = format!("{at}.storage");
    match obj.get("storage") {
        Some(Value::Object(m)) => super::storage::Storage::from_config(Some(m), &p),
        Some(_) => Err(Error::config(p, "must be a storage module object")),
        None => Ok(state.storage.clone()),
    }
}

/// The bytes stored under `key`; missing is an error at `at`.
pub(super) fn read_stored(
    storage: &super::storage::Storage,
    key: &str,
    at: &str,
) -> Result<Vec<u8>, Error> {
    storage
        .read(key)
        .map_err(|e| Error::config(at, format!("{key}: {e}")))?
        .ok_or_else(|| Error::config(at, format!("{key}: not in storage")))
}

/// A file's bytes; an error at `at` names the file.
pub(super) fn read_file(path: &str, at: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::config(at, format!("{path}: {e}")))
}
