//! The remote admin endpoint (`admin.remote`, Caddy's `RemoteAdmin`): the
//! admin API over TLS with mutual authentication, on `listen` (default
//! `:2021`), beside the plain local endpoint.
//!
//! - The server's certificate is this instance's identity (`admin.identity`:
//!   its `identifiers` are managed by the `tls` app with the identity's
//!   `issuers`, default ACME, see `tls::identity`); a remote endpoint
//!   without an identity is refused, as Caddy refuses it.
//! - A client must present a certificate whose public key is one of an
//!   `access_control` entry's `public_keys` (base64 DER certificates), or
//!   whose chain verifies up to one of them.
//! - Each request is then held to that entry's `permissions`, as Caddy
//!   checks them: every permission must allow the method (`methods`, any
//!   when absent) and the path (`paths`: equal, or below at a `/`); the
//!   first one that does not answers 403. Host and Origin are not checked:
//!   the client certificate authenticates.

use crate::config::AdminConfig;
use crate::error::Error;
use crate::Runtime;
use base64::Engine as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use serde::Deserialize;
use std::sync::Arc;

/// Caddy's `DefaultRemoteAdminListen`.
pub const DEFAULT_LISTEN: &str = ":2021";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoteJson {
    listen: Option<String>,
    #[serde(default)]
    access_control: Vec<AccessJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessJson {
    #[serde(default)]
    public_keys: Vec<String>,
    #[serde(default)]
    permissions: Vec<Permission>,
}

/// What an identity may do.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    paths: Option<Vec<String>>,
    methods: Option<Vec<String>>,
}

struct AllowedKey {
    /// The SubjectPublicKeyInfo DER of the certificate.
    spki: Vec<u8>,
    /// Verifies chains up to this certificate.
    chains: Arc<dyn ClientCertVerifier>,
}

struct Access {
    keys: Vec<AllowedKey>,
    permissions: Vec<Permission>,
}

/// A provisioned remote endpoint.
pub struct Remote {
    pub listen: String,
    access: Arc<Vec<Access>>,
    pub tls: Arc<rustls::ServerConfig>,
}

fn spki_of(der: &[u8]) -> Option<Vec<u8>> {
    let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(c.public_key().raw.to_vec())
}

/// The remote endpoint `admin` configures, if any.
pub fn provision(
    admin: Option<&AdminConfig>,
    runtime: &Runtime,
) -> Result<Option<Arc<Remote>>, Error> {
    let Some(raw) = admin.and_then(|a| a.remote.as_ref()) else {
        return Ok(None);
    };
    let j: RemoteJson =
        crate::config::decode(&serde_json::Value::Object(raw.clone()), "admin.remote")?;
    let identifiers = crate::tls::identity::identifiers(admin);
    if identifiers.is_empty() {
        return Err(Error::config(
            "admin.remote",
            "cannot enable remote admin without a certificate: configure identity management (admin.identity with identifiers)",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut access = Vec::new();
    for (i, a) in j.access_control.into_iter().enumerate() {
        let mut keys = Vec::new();
        for (k, b64) in a.public_keys.iter().enumerate() {
            let at = format!("admin.remote.access_control[{i}].public_keys[{k}]");
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| Error::config(&at, format!("parsing base64 certificate DER: {e}")))?;
            let spki = spki_of(&der).ok_or_else(|| {
                Error::config(&at, "parsing base64 certificate DER: not a certificate")
            })?;
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from(der))
                .map_err(|e| Error::config(&at, e.to_string()))?;
            let chains =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| Error::config(&at, e.to_string()))?;
            keys.push(AllowedKey { spki, chains });
        }
        access.push(Access {
            keys,
            permissions: a.permissions,
        });
    }
    let access = Arc::new(access);
    let verifier = Arc::new(KeyVerifier {
        access: access.clone(),
        schemes: provider.signature_verification_algorithms,
    });
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config("admin.remote", e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(IdentityCert {
            runtime: runtime.clone(),
            identifiers,
        }));
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let listen = j
        .listen
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    Ok(Some(Arc::new(Remote {
        listen,
        access,
        tls: Arc::new(tls),
    })))
}

/// The `access_control` entry a client's chain is authorized by: its leaf
/// is one of the entry's certificates, or verifies up to one.
fn authorized(
    access: &[Access],
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    now: UnixTime,
) -> Option<usize> {
    let spki = spki_of(leaf)?;
    access.iter().position(|a| {
        a.keys.iter().any(|k| {
            k.spki == spki
                || k.chains
                    .verify_client_cert(leaf, intermediates, now)
                    .is_ok()
        })
    })
}

impl Remote {
    /// The access entry of a connection's client chain (leaf first).
    pub fn access_of(&self, chain: &[CertificateDer<'_>]) -> Option<usize> {
        let (leaf, rest) = chain.split_first()?;
        authorized(&self.access, leaf, rest, UnixTime::now())
    }

    /// Checks a request of a client authorized by entry `index`.
    pub fn permit(&self, index: usize, method: &str, path: &str) -> Result<(), &'static str> {
        let Some(a) = self.access.get(index) else {
            return Err("client certificate not authorized");
        };
        for p in &a.permissions {
            if !p
                .methods
                .as_ref()
                .is_none_or(|m| m.iter().any(|m| m == method))
            {
                return Err("not authorized to use this method");
            }
            let path_ok = p
                .paths
                .as_ref()
                .is_none_or(|paths| paths.iter().any(|allowed| path_allowed(path, allowed)));
            if !path_ok {
                return Err("not authorized to access this path");
            }
        }
        Ok(())
    }
}

/// Caddy's `adminPathAllowed`: equal, or below at a segment boundary.
fn path_allowed(path: &str, allowed: &str) -> bool {
    if allowed.is_empty() || allowed == "/" || allowed.ends_with('/') {
        return path.starts_with(allowed);
    }
    path == allowed
        || path
            .strip_prefix(allowed)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Requires a client certificate that an `access_control` entry allows.
struct KeyVerifier {
    access: Arc<Vec<Access>>,
    schemes: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl std::fmt::Debug for KeyVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyVerifier")
    }
}

impl ClientCertVerifier for KeyVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match authorized(&self.access, leaf, intermediates, now) {
            Some(_) => Ok(ClientCertVerified::assertion()),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.schemes)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.schemes)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.supported_schemes()
    }
}

/// Serves the identity certificate from the running config's cache (the
/// SNI's, else the first identifier's).
struct IdentityCert {
    runtime: Runtime,
    identifiers: Vec<String>,
}

impl std::fmt::Debug for IdentityCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityCert")
            .field("identifiers", &self.identifiers)
            .finish()
    }
}

impl ResolvesServerCert for IdentityCert {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let instance = self.runtime.current_instance()?;
        let state = &instance.tls.as_ref()?.state;
        let names = hello
            .server_name()
            .into_iter()
            .chain(self.identifiers.iter().map(String::as_str));
        names
            .filter_map(|n| state.cache.lookup(n, |_| true))
            .map(|c| c.key.clone())
            .next()
    }
}

#[cfg(test)]
mod tests {
    use super::path_allowed;

    #[test]
    fn paths_are_allowed_at_segment_boundaries() {
        assert!(path_allowed("/config", "/config"));
        assert!(path_allowed("/config/apps", "/config"));
        assert!(path_allowed("/config/apps", "/config/"));
        assert!(!path_allowed("/configs", "/config"));
        assert!(!path_allowed("/load", "/config"));
    }
}
