//! The TLS side of HTTP/3: a server's connection policies turned into the
//! quinn server config of its QUIC endpoint.
//!
//! A TCP handshake reads the ClientHello before choosing a policy; quinn
//! takes one rustls config per connection before the ClientHello is seen.
//! So the QUIC config is the first policy's (versions, client auth, session
//! tickets) with ALPN `h3` and a certificate resolver that picks the first
//! policy matching the SNI, as the TCP path would. Where that cannot be
//! faithful (policies matching on IP addresses, or client authentication
//! that differs between policies, or no TLS 1.3), HTTP/3 is not served for
//! that server and the log says why.

use super::policy::{ConnPolicy, ServerTls};
use crate::http::server::ConnSettings;
use quinn::crypto::rustls::QuicServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;
use std::time::Duration;

/// How long a QUIC connection may go without a packet (quic-go's and so
/// Caddy's default).
const QUIC_IDLE: Duration = Duration::from_secs(30);
/// Connection attempts kept waiting for the accept loop at once.
const MAX_INCOMING: usize = 4096;

/// The QUIC server config of a server, or why it serves no HTTP/3.
pub fn server_config(
    tls: &Arc<ServerTls>,
    settings: &ConnSettings,
) -> Result<quinn::ServerConfig, String> {
    let policies = &tls.policies;
    let Some(first) = policies.first() else {
        return Err("the server has no TLS connection policy".into());
    };
    if policies.iter().any(ConnPolicy::has_ip_matchers) {
        return Err("a connection policy matches on IP addresses, which QUIC cannot see before the handshake".into());
    }
    if policies.len() > 1 && policies.iter().any(ConnPolicy::has_client_auth) {
        return Err("client authentication differs between connection policies".into());
    }
    let mut rustls_config = (*first.config).clone();
    rustls_config.alpn_protocols = vec![b"h3".to_vec()];
    rustls_config.max_early_data_size = 0;
    rustls_config.cert_resolver = Arc::new(BySni(tls.clone()));
    let crypto = QuicServerConfig::try_from(rustls_config)
        .map_err(|e| format!("no TLS 1.3 for QUIC: {e}"))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    let idle = settings.idle_timeout.min(QUIC_IDLE);
    transport.max_idle_timeout(quinn::IdleTimeout::try_from(idle).ok());
    transport.max_concurrent_bidi_streams(100u32.into());
    config.transport_config(Arc::new(transport));
    config.max_incoming(MAX_INCOMING);
    Ok(config)
}

/// Resolves the certificate through the first policy matching the SNI.
struct BySni(Arc<ServerTls>);

impl std::fmt::Debug for BySni {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BySni")
    }
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name();
        let Some(policy) = self.0.policies.iter().find(|p| p.matches_sni(sni)) else {
            tracing::debug!(
                sni,
                "QUIC: no TLS connection policy matches the ClientHello"
            );
            return None;
        };
        if policy.drop {
            return None;
        }
        policy.config.cert_resolver.resolve(hello)
    }
}
