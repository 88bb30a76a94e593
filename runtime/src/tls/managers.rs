//! Certificate managers (`tls.get_certificate.*`, an automation policy's
//! `get_certificate`): another party manages the certificates, and the
//! handshake gets one from it. The standard `http` manager is asked, for a
//! name its policy covers and no cached certificate matches, with Caddy's
//! `GET url?server_name=…&signature_schemes=…&cipher_suites=…&local_ip=…`
//! (the ClientHello's values in hex); a 200 answer is a PEM bundle (chain
//! and key) used for that handshake, 204 means it has none. As
//! certmagic's, what a manager returns is not cached: it is asked again
//! on each such handshake.
//!
//! The `tailscale` manager (`tailscale.rs`) asks the local tailscaled for
//! `*.ts.net` names; as in Caddy, automatic HTTPS gives a site's `*.ts.net`
//! names a policy of their own with it (no issuance), and an on-demand
//! policy without managers gets it implicitly.
//!
//! Where Caddy lets a manager imply on-demand issuance, bellhop issues on
//! demand only where the policy sets `on_demand` itself.

mod tailscale;

use super::on_demand::Permission;
use crate::error::Error;
use rustls::sign::CertifiedKey;
use serde_json::{Map, Value};
use std::sync::Arc;

/// One certificate manager.
pub enum Manager {
    /// `tls.get_certificate.http`.
    Http(Permission),
    /// `tls.get_certificate.tailscale`.
    Tailscale,
}

/// What a manager is asked about, from the ClientHello.
pub struct Hello {
    pub server_name: String,
    pub signature_schemes: Vec<u16>,
    pub cipher_suites: Vec<u16>,
    pub local_ip: Option<std::net::IpAddr>,
}

impl Manager {
    /// Provisions one `get_certificate` entry at `at`.
    pub fn provision(m: &Map<String, Value>, at: &str) -> Result<Manager, Error> {
        let via = m.get("via").and_then(Value::as_str).unwrap_or("");
        let fields: &[&str] = match via {
            "http" => &["via", "url"],
            "tailscale" => &["via"],
            _ => {
                return Err(Error::UnknownModule {
                    path: format!("{at}.via"),
                    id: format!("tls.get_certificate.{via}"),
                })
            }
        };
        if let Some(k) = m.keys().find(|k| !fields.contains(&k.as_str())) {
            return Err(Error::config(format!("{at}.{k}"), "unknown field"));
        }
        if via == "tailscale" {
            return Ok(Manager::Tailscale);
        }
        let url = m.get("url").and_then(Value::as_str).unwrap_or("");
        if url.is_empty() {
            return Err(Error::config(format!("{at}.url"), "URL is required"));
        }
        Ok(Manager::Http(Permission::provision(
            url,
            &format!("{at}.url"),
        )?))
    }

    /// The certificate the manager has for `hello`, if any.
    pub async fn get(&self, hello: &Hello) -> Result<Option<Arc<CertifiedKey>>, String> {
        let endpoint = match self {
            Manager::Http(e) => e,
            Manager::Tailscale => return tailscale::get(&hello.server_name).await,
        };
        let hex = |v: &[u16]| {
            v.iter()
                .map(|x| format!("{x:x}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        // Go's `url.Values.Encode`: keys sorted, values query-escaped
        let mut pairs = vec![
            ("cipher_suites", hex(&hello.cipher_suites)),
            ("server_name", hello.server_name.clone()),
            ("signature_schemes", hex(&hello.signature_schemes)),
        ];
        if let Some(ip) = hello.local_ip {
            pairs.insert(1, ("local_ip", ip.to_string()));
        }
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", super::on_demand::query_escape(v)))
            .collect();
        let (status, body) = endpoint.fetch(&query.join("&")).await?;
        match status.as_u16() {
            204 => Ok(None),
            200 => bundle(&body).map(Some),
            s => Err(format!("got HTTP {s}")),
        }
    }
}

/// A PEM bundle (certificates and a key, in any order) as a certified key.
fn bundle(pem: &[u8]) -> Result<Arc<CertifiedKey>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("reading the certificates: {e}"))?;
    if chain.is_empty() {
        return Err("no certificate in the answer".into());
    }
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("reading the key: {e}"))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("unsupported private key: {e}"))?;
    let ck = CertifiedKey::new(chain, signing);
    ck.keys_match()
        .map_err(|e| format!("certificate and key do not match: {e}"))?;
    Ok(Arc::new(ck))
}

/// Serves one certified key, whatever the ClientHello.
#[derive(Debug)]
pub struct Fixed(pub Arc<CertifiedKey>);

impl rustls::server::ResolvesServerCert for Fixed {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
