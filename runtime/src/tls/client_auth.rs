//! Client authentication (mTLS) of a connection policy: Caddy's modes
//! `request`, `require`, `verify_if_given` and `require_and_verify` over
//! rustls client-certificate verifiers.
//!
//! Without a mode, trusted CA certificates imply `require_and_verify`
//! (Caddy's default). `request` and `require` ask for a certificate but do
//! not verify it, as Go's `tls.RequestClientCert`/`RequireAnyClientCert`.
//! The CAs come from `trusted_ca_certs`, `trusted_ca_certs_pem_files` or a
//! `ca` pool source (`ca_pool.rs`); pinned leaves (`client_leaf.rs`) are
//! checked after the mode's verification (pins alone: `require`).

use super::config::ClientAuthConfig;
use crate::error::Error;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};
use std::sync::Arc;

/// Builds the verifier for `cfg`, or `None` when no client auth is asked.
pub fn verifier(
    cfg: &ClientAuthConfig,
    provider: &Arc<CryptoProvider>,
    state: &super::TlsState,
    at: &str,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, Error> {
    if cfg.ca.is_some()
        && (!cfg.trusted_ca_certs.is_empty() || !cfg.trusted_ca_certs_pem_files.is_empty())
    {
        return Err(Error::config(
            format!("{at}.ca"),
            "conflicting config for client authentication trust CA: `ca` with trusted_ca_certs or trusted_ca_certs_pem_files",
        ));
    }
    let leaves =
        super::client_leaf::trusted_leaves(&cfg.trusted_leaf_certs, &cfg.verifiers, state, at)?;
    let mut roots = RootCertStore::empty();
    for (i, b64) in cfg.trusted_ca_certs.iter().enumerate() {
        let p = format!("{at}.trusted_ca_certs[{i}]");
        let der = der_from_base64(b64, &p)?;
        roots
            .add(der)
            .map_err(|e| Error::config(&p, e.to_string()))?;
    }
    if let Some(source) = &cfg.ca {
        let p = format!("{at}.ca");
        for c in super::ca_pool::load(source, state, &p)? {
            roots.add(c).map_err(|e| Error::config(&p, e.to_string()))?;
        }
    }
    for (i, file) in cfg.trusted_ca_certs_pem_files.iter().enumerate() {
        let p = format!("{at}.trusted_ca_certs_pem_files[{i}]");
        let pem = std::fs::read(file).map_err(|e| Error::config(&p, format!("{file}: {e}")))?;
        for c in super::load::parse_certs(&pem).map_err(|e| Error::config(&p, e))? {
            roots.add(c).map_err(|e| Error::config(&p, e.to_string()))?;
        }
    }
    let has_roots = !roots.is_empty();
    // without a mode: verify against the CAs if there are any; pinned
    // leaves alone ask for any certificate and then check the pin
    let mode = match cfg.mode.as_deref() {
        None | Some("") if has_roots => "require_and_verify",
        None | Some("") if leaves.is_some() => "require",
        None | Some("") => return Ok(None),
        Some(m) => m,
    };
    let roots = Arc::new(roots);
    let webpki = |optional: bool| -> Result<Arc<dyn ClientCertVerifier>, Error> {
        if !has_roots {
            return Err(Error::config(
                format!("{at}.mode"),
                format!("mode {mode:?} needs trusted CA certificates"),
            ));
        }
        let b = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
        let b = if optional {
            b.allow_unauthenticated()
        } else {
            b
        };
        b.build().map_err(|e| Error::config(at, e.to_string()))
    };
    let base: Arc<dyn ClientCertVerifier> = match mode {
        "request" => Arc::new(AnyCert {
            mandatory: false,
            provider: provider.clone(),
        }),
        "require" => Arc::new(AnyCert {
            mandatory: true,
            provider: provider.clone(),
        }),
        "verify_if_given" => webpki(true)?,
        "require_and_verify" => webpki(false)?,
        other => {
            return Err(Error::config(
                format!("{at}.mode"),
                format!("unknown client authentication mode {other:?}"),
            ))
        }
    };
    Ok(Some(match leaves {
        Some(leaves) => Arc::new(super::client_leaf::LeafCheck {
            inner: base,
            leaves,
        }),
        None => base,
    }))
}

/// Asks for any client certificate and accepts it unverified (the
/// signatures of the handshake are still checked).
#[derive(Debug)]
struct AnyCert {
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A certificate given as base64 DER (at `at` of the config).
pub fn der_from_base64(s: &str, at: &str) -> Result<CertificateDer<'static>, Error> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map(CertificateDer::from)
        .map_err(|_| Error::config(at, "not valid base64 DER"))
}
