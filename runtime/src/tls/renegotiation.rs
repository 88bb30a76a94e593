//! TLS clients that follow a server's renegotiation: Caddy's TLS
//! `renegotiation` `once` or `freely` (Go's `RenegotiateOnceAsClient` and
//! `RenegotiateFreelyAsClient`), for the HTTP transport's upstreams and
//! `tls.ca_pool.source.http` endpoints. rustls has no renegotiation by
//! design, so these connections, and only these, go through OpenSSL; every
//! other TLS client stays on rustls. OpenSSL renegotiates only securely
//! (RFC 5746) and only in TLS 1.2, as Go; `once` is held by [`watch`].
//!
//! What the rustls clients honour is mapped here too: the trusted roots
//! (the system's, or the configured ones alone), `insecure_skip_verify`,
//! the server name (SNI and verification; an IP address is verified as
//! one and sent no SNI), a client certificate, `curves`, ALPN, TLS 1.2
//! at least.

pub mod watch;

use crate::error::Error;
use openssl::ssl::{Ssl, SslConnector, SslFiletype, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;
use rustls::pki_types::CertificateDer;
use std::io::{self, Read, Write};
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};
use watch::Watched;

/// Caddy's `renegotiation` level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Level {
    /// No renegotiation (the default): the rustls client.
    #[default]
    Never,
    Once,
    Freely,
}

impl Level {
    /// Reads `renegotiation` at `at`, as Caddy's transport does.
    pub fn parse(s: &str, at: &str) -> Result<Self, Error> {
        match s {
            "" | "never" => Ok(Level::Never),
            "once" => Ok(Level::Once),
            "freely" => Ok(Level::Freely),
            other => Err(Error::config(
                at,
                format!("invalid TLS renegotiation level: {other}"),
            )),
        }
    }
}

/// What a renegotiating client is made of.
#[derive(Default)]
pub struct Spec<'a> {
    /// The trusted roots, each with the field it came from for errors
    /// (`None`: the system's).
    pub roots: Option<Vec<(CertificateDer<'static>, &'static str)>>,
    pub insecure_skip_verify: bool,
    /// `client_certificate_file` and `client_certificate_key_file`.
    pub client_cert_files: Option<(&'a str, &'a str)>,
    pub curves: &'a [String],
}

/// An OpenSSL client for one level and spec.
pub struct Client {
    connector: SslConnector,
    insecure: bool,
    /// Renegotiations allowed per connection (`None`: any).
    limit: Option<u32>,
}

impl Client {
    /// Builds the client; errors name the field at `at` that caused them.
    pub fn new(level: Level, spec: &Spec<'_>, at: &str) -> Result<Self, Error> {
        let e = |field: &str, m: String| Error::config(format!("{at}.{field}"), m);
        let mut b = SslConnector::builder(SslMethod::tls_client())
            .map_err(|x| e("renegotiation", x.to_string()))?;
        b.set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(|x| e("renegotiation", x.to_string()))?;
        if spec.insecure_skip_verify {
            b.set_verify(SslVerifyMode::NONE);
        } else {
            // The system's roots are the ones rustls trusts, read the same
            // way: OpenSSL's own default paths are its build's, and a
            // vendored build's are not the system's.
            let mut store = X509StoreBuilder::new().map_err(|x| e("ca", x.to_string()))?;
            match &spec.roots {
                Some(roots) => {
                    for (der, field) in roots {
                        let cert = X509::from_der(der).map_err(|x| e(field, x.to_string()))?;
                        store.add_cert(cert).map_err(|x| e(field, x.to_string()))?;
                    }
                }
                None => {
                    for der in rustls_native_certs::load_native_certs().certs {
                        if let Ok(cert) = X509::from_der(&der) {
                            let _ = store.add_cert(cert);
                        }
                    }
                }
            }
            b.set_cert_store(store.build());
        }
        if let Some((cert, key)) = spec.client_cert_files {
            b.set_certificate_chain_file(cert)
                .map_err(|x| e("client_certificate_file", format!("{cert}: {x}")))?;
            b.set_private_key_file(key, SslFiletype::PEM)
                .map_err(|x| e("client_certificate_key_file", format!("{key}: {x}")))?;
            b.check_private_key()
                .map_err(|x| e("client_certificate_key_file", x.to_string()))?;
        }
        if !spec.curves.is_empty() {
            let mut groups = Vec::new();
            for c in spec.curves {
                groups.push(match c.as_str() {
                    "x25519" => "X25519",
                    "secp256r1" => "P-256",
                    "secp384r1" => "P-384",
                    other => return Err(e("curves", format!("unsupported curve {other:?}"))),
                });
            }
            b.set_groups_list(&groups.join(":"))
                .map_err(|x| e("curves", x.to_string()))?;
        }
        Ok(Client {
            connector: b.build(),
            insecure: spec.insecure_skip_verify,
            limit: match level {
                Level::Once => Some(1),
                Level::Never => Some(0),
                Level::Freely => None,
            },
        })
    }

    /// The connection's `Ssl` for `name`, offering `alpn` (in its wire
    /// form; empty: none) and presenting `cert` (chain and key PEM) when
    /// given.
    fn ssl(&self, name: &str, alpn: &[u8], cert: Option<(&str, &str)>) -> io::Result<Ssl> {
        let mut ssl = self
            .connector
            .configure()
            .map_err(io::Error::other)?
            .verify_hostname(!self.insecure)
            .into_ssl(name)
            .map_err(io::Error::other)?;
        if !alpn.is_empty() {
            ssl.set_alpn_protos(alpn).map_err(io::Error::other)?;
        }
        if let Some((chain, key)) = cert {
            let chain = X509::stack_from_pem(chain.as_bytes()).map_err(io::Error::other)?;
            let key = openssl::pkey::PKey::private_key_from_pem(key.as_bytes())
                .map_err(io::Error::other)?;
            let mut certs = chain.into_iter();
            if let Some(leaf) = certs.next() {
                ssl.set_certificate(&leaf).map_err(io::Error::other)?;
            }
            for c in certs {
                ssl.add_chain_cert(c).map_err(io::Error::other)?;
            }
            ssl.set_private_key(&key).map_err(io::Error::other)?;
        }
        Ok(ssl)
    }

    /// Opens TLS over `io` to `name`, offering `alpn` (wire form).
    pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        name: &str,
        io: S,
        alpn: &[u8],
        cert: Option<(&str, &str)>,
    ) -> io::Result<tokio_openssl::SslStream<Watched<S>>> {
        let watched = Watched::new(io, self.limit);
        let mut s = tokio_openssl::SslStream::new(self.ssl(name, alpn, cert)?, watched)
            .map_err(io::Error::other)?;
        Pin::new(&mut s).connect().await.map_err(ssl_error)?;
        s.get_mut().records.established();
        Ok(s)
    }

    /// Opens TLS over a blocking `io` to `name`.
    pub fn connect_blocking<S: Read + Write>(
        &self,
        name: &str,
        io: S,
    ) -> io::Result<openssl::ssl::SslStream<Watched<S>>> {
        let watched = Watched::new(io, self.limit);
        let mut s = openssl::ssl::SslStream::new(self.ssl(name, b"", None)?, watched)
            .map_err(io::Error::other)?;
        s.connect().map_err(ssl_error)?;
        s.get_mut().records.established();
        Ok(s)
    }
}

/// An OpenSSL error as an I/O error: the underlying one where there is
/// one (a failed read, the record watch's refusal), else OpenSSL's.
fn ssl_error(e: openssl::ssl::Error) -> io::Error {
    e.into_io_error()
        .unwrap_or_else(|e| io::Error::other(e.to_string()))
}
