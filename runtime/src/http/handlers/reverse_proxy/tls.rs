//! TLS to upstreams (the HTTP transport's `tls`): rustls with the `ring`
//! provider. Trust comes from the system roots, or from `ca` (any
//! `tls.ca_pool.source.*`; only `inline` and `file` where there is no `tls`
//! app, as in `admin.config.load`), `root_ca_pool` (base64 DER) and
//! `root_ca_pem_files`; a client certificate from PEM files, or the one
//! the `tls` app manages for `client_certificate_automate` (the name is
//! handed to the app to obtain and renew; each handshake presents the
//! newest cached certificate for it whose key can sign one of the schemes
//! the upstream asks for, as Caddy's `GetClientCertificate`);
//! `insecure_skip_verify` accepts any certificate; `server_name` overrides
//! SNI and verification (with placeholders, rendered per request when a
//! connection opens); `curves` restricts key exchange groups. With
//! `renegotiation` `once` or `freely`, the same fields make an OpenSSL
//! client instead (`crate::tls::renegotiation`). The roots are in `roots`.

mod roots;

use crate::config::CaddyDuration;
use crate::error::Error;
use crate::tls::renegotiation::{self, Level};
use crate::tls::TlsState;
use roots::{root_certs, root_store, RootList};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

/// `transport.tls`.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub(crate) ca: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) root_ca_pool: Vec<String>,
    #[serde(default)]
    pub(crate) root_ca_pem_files: Vec<String>,
    #[serde(default)]
    pub(crate) client_certificate_file: String,
    #[serde(default)]
    pub(crate) client_certificate_key_file: String,
    #[serde(default)]
    pub(crate) client_certificate_automate: String,
    #[serde(default)]
    pub(crate) insecure_skip_verify: bool,
    pub(crate) handshake_timeout: Option<CaddyDuration>,
    #[serde(default)]
    pub(crate) server_name: String,
    #[serde(default)]
    pub(crate) renegotiation: String,
    #[serde(default)]
    pub(crate) except_ports: Vec<String>,
    #[serde(default)]
    pub(crate) curves: Vec<String>,
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Builds the client config; `alpn` lists the protocols to offer; `tls`
/// is the config's `tls` app, where `client_certificate_automate` finds its
/// certificate (without it, that field is refused).
pub fn client_config(
    t: &TlsConfig,
    alpn: &[&[u8]],
    tls: Option<&Arc<TlsState>>,
    path: &str,
) -> Result<ClientConfig, Error> {
    // `once` and `freely` are served by OpenSSL (`clients`); their
    // rustls config checks every other field the same way.
    Level::parse(&t.renegotiation, &format!("{path}.renegotiation"))?;
    let roots = trusted(t, tls, path)?;
    rustls_config(t, alpn, tls, path, &roots)
}

/// The transport's clients, with the roots loaded once: rustls's
/// offering `alpn`, and OpenSSL's where `renegotiation` is `once` or
/// `freely` (a managed client certificate is presented by
/// `transport_http` per connection).
pub fn clients(
    t: &TlsConfig,
    alpn: &[&[u8]],
    tls: Option<&Arc<TlsState>>,
    path: &str,
) -> Result<(ClientConfig, Option<renegotiation::Client>), Error> {
    let level = Level::parse(&t.renegotiation, &format!("{path}.renegotiation"))?;
    let roots = trusted(t, tls, path)?;
    let rustls = rustls_config(t, alpn, tls, path, &roots)?;
    if level == Level::Never {
        return Ok((rustls, None));
    }
    let files = (!t.client_certificate_file.is_empty() && t.client_certificate_automate.is_empty())
        .then_some((
            t.client_certificate_file.as_str(),
            t.client_certificate_key_file.as_str(),
        ));
    let spec = renegotiation::Spec {
        roots: roots.flatten(),
        insecure_skip_verify: t.insecure_skip_verify,
        client_cert_files: files,
        curves: &t.curves,
    };
    let openssl = renegotiation::Client::new(level, &spec, path)?;
    Ok((rustls, Some(openssl)))
}

/// The roots, each with the field it came from: `None` with
/// `insecure_skip_verify` (nothing is verified), `Some(None)` for the
/// system's.
type Roots = Option<Option<RootList>>;

fn trusted(t: &TlsConfig, tls: Option<&Arc<TlsState>>, path: &str) -> Result<Roots, Error> {
    if t.insecure_skip_verify {
        return Ok(None);
    }
    root_certs(t, tls, path).map(Some)
}

fn rustls_config(
    t: &TlsConfig,
    alpn: &[&[u8]],
    tls: Option<&Arc<TlsState>>,
    path: &str,
    roots: &Roots,
) -> Result<ClientConfig, Error> {
    let e = |field: &str, m: String| Error::config(format!("{path}.{field}"), m);
    let automated = match (t.client_certificate_automate.as_str(), tls) {
        ("", _) => None,
        (_, None) => {
            return Err(e(
                "client_certificate_automate",
                "needs the tls app, which only a reverse_proxy's transport has".into(),
            ))
        }
        (name, Some(state)) => Some(Arc::new(AutomatedClientCert {
            name: name.to_lowercase(),
            state: state.clone(),
        })),
    };
    let mut prov = provider();
    if !t.curves.is_empty() {
        let mut groups = Vec::new();
        for c in &t.curves {
            let name = match c.as_str() {
                "x25519" => rustls::NamedGroup::X25519,
                "secp256r1" => rustls::NamedGroup::secp256r1,
                "secp384r1" => rustls::NamedGroup::secp384r1,
                other => return Err(e("curves", format!("unsupported curve {other:?}"))),
            };
            groups.extend(prov.kx_groups.iter().copied().filter(|g| g.name() == name));
        }
        prov.kx_groups = groups;
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(prov))
        .with_safe_default_protocol_versions()
        .map_err(|x| e("curves", x.to_string()))?;
    let builder = match roots {
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify)),
        Some(custom) => builder.with_root_certificates(root_store(custom, path)?),
    };
    // Files are read (and their errors reported) even when an automated
    // certificate is set, which wins, as Go's GetClientCertificate wins
    // over Certificates in Caddy.
    let files = match (
        t.client_certificate_file.is_empty(),
        t.client_certificate_key_file.is_empty(),
    ) {
        (true, true) => None,
        (false, false) => {
            let certs = CertificateDer::pem_file_iter(&t.client_certificate_file)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|x| e("client_certificate_file", x.to_string()))?;
            let key = PrivateKeyDer::from_pem_file(&t.client_certificate_key_file)
                .map_err(|x| e("client_certificate_key_file", x.to_string()))?;
            Some((certs, key))
        }
        (false, true) => {
            return Err(e(
                "client_certificate_key_file",
                "client_certificate_file specified without client_certificate_key_file".into(),
            ))
        }
        (true, false) => {
            return Err(e(
                "client_certificate_file",
                "client_certificate_key_file specified without client_certificate_file".into(),
            ))
        }
    };
    let mut cfg = match (automated, files) {
        (Some(resolver), _) => builder.with_client_cert_resolver(resolver),
        (None, Some((certs, key))) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|x| e("client_certificate_file", x.to_string()))?,
        (None, None) => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(cfg)
}

/// The client certificate the `tls` app manages for `name`.
struct AutomatedClientCert {
    name: String,
    state: Arc<TlsState>,
}

impl std::fmt::Debug for AutomatedClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AutomatedClientCert({})", self.name)
    }
}

impl rustls::client::ResolvesClientCert for AutomatedClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        schemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let cert = self
            .state
            .cache
            .lookup(&self.name, |c| c.key.key.choose_scheme(schemes).is_some());
        if cert.is_none() {
            tracing::warn!(name = %self.name, "no managed client certificate for the upstream handshake");
        }
        cert.map(|c| c.key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Standard base64 (with padding), as Go's `StdEncoding`.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// `name` (the configured server name, else the dial host) as rustls
/// presents it, checked.
pub fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_string()).map_err(|e| format!("server name {name:?}: {e}"))
}

/// `insecure_skip_verify`: accepts any server certificate (also the
/// benchmark client's verifier, `examples/h3load.rs`).
#[derive(Debug)]
pub struct NoVerify;

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
