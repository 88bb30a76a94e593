//! Pinned client certificates: Caddy's `tls.client_auth.verifier.leaf`
//! (with its `tls.leaf_cert_loader.*` loaders `file`, `folder`, `pem`,
//! `storage`) and the deprecated `trusted_leaf_certs`. A client's leaf
//! certificate must be one of them, byte for byte, after whatever the
//! mode verifies.

use super::ca_pool::{read_file, read_stored, storage_of, string_list};
use super::TlsState;
use crate::error::Error;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The pinned leaves of a client-auth config: `None` when it pins none.
pub fn trusted_leaves(
    legacy: &[String],
    verifiers: &[Map<String, Value>],
    state: &TlsState,
    at: &str,
) -> Result<Option<Vec<CertificateDer<'static>>>, Error> {
    if legacy.is_empty() && verifiers.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (i, b64) in legacy.iter().enumerate() {
        out.push(super::client_auth::der_from_base64(
            b64,
            &format!("{at}.trusted_leaf_certs[{i}]"),
        )?);
    }
    for (i, v) in verifiers.iter().enumerate() {
        let p = format!("{at}.verifiers[{i}]");
        match v.get("verifier").and_then(Value::as_str) {
            Some("leaf") => {}
            other => {
                return Err(Error::config(
                    format!("{p}.verifier"),
                    format!("unknown client certificate verifier {other:?} (leaf)"),
                ))
            }
        }
        if let Some(k) = v
            .keys()
            .find(|k| *k != "verifier" && *k != "leaf_certs_loaders")
        {
            return Err(Error::config(
                format!("{p}.{k}"),
                "unknown field of the leaf verifier",
            ));
        }
        let loaders = match v.get("leaf_certs_loaders") {
            None => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => {
                return Err(Error::config(
                    format!("{p}.leaf_certs_loaders"),
                    "must be a list",
                ))
            }
        };
        for (j, l) in loaders.iter().enumerate() {
            let lp = format!("{p}.leaf_certs_loaders[{j}]");
            let Value::Object(l) = l else {
                return Err(Error::config(
                    lp,
                    "must be a leaf certificate loader object",
                ));
            };
            out.extend(load(l, state, &lp)?);
        }
    }
    Ok(Some(out))
}

fn load(
    l: &Map<String, Value>,
    state: &TlsState,
    at: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let kind = l.get("loader").and_then(Value::as_str).unwrap_or("");
    let field = match kind {
        "file" => "files",
        "folder" => "folders",
        "pem" | "storage" => "certificates",
        other => {
            return Err(Error::config(
                format!("{at}.loader"),
                format!("unknown leaf certificate loader {other:?} (file, folder, pem, storage)"),
            ))
        }
    };
    if let Some(k) = l
        .keys()
        .find(|k| *k != "loader" && *k != field && !(kind == "storage" && *k == "storage"))
    {
        return Err(Error::config(
            format!("{at}.{k}"),
            format!("unknown field of the {kind} loader"),
        ));
    }
    let storage = match kind {
        "storage" => Some(storage_of(l, state, at)?),
        _ => None,
    };
    let mut out = Vec::new();
    for (i, item) in string_list(l, field, at)?.iter().enumerate() {
        let p = format!("{at}.{field}[{i}]");
        let pems: Vec<Vec<u8>> = match (kind, &storage) {
            ("file", _) => vec![read_file(item, &p)?],
            ("folder", _) => {
                pem_files_under(std::path::Path::new(item)).map_err(|e| Error::config(&p, e))?
            }
            (_, Some(storage)) => vec![read_stored(storage, item, &p)?],
            _ => vec![item.clone().into_bytes()],
        };
        for pem in pems {
            out.extend(super::load::parse_certs(&pem).map_err(|e| Error::config(&p, e))?);
        }
    }
    Ok(out)
}

/// The `.pem` files under `dir`, recursively, in name order.
fn pem_files_under(dir: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for p in entries {
        if p.is_dir() {
            out.extend(pem_files_under(&p)?);
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pem")) {
            out.push(std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?);
        }
    }
    Ok(out)
}

/// `inner`'s verification, then the leaf must be pinned.
#[derive(Debug)]
pub struct LeafCheck {
    pub inner: Arc<dyn ClientCertVerifier>,
    pub leaves: Vec<CertificateDer<'static>>,
}

impl ClientCertVerifier for LeafCheck {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if self
            .leaves
            .iter()
            .any(|l| l.as_ref() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
