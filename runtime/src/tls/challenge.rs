//! ACME challenge answers, shared by every listener of the process (as
//! certmagic's are): HTTP-01 key authorizations by token, served on
//! `/.well-known/acme-challenge/<token>`, ZeroSSL's validation files on
//! `/.well-known/pki-validation/<file>`, and TLS-ALPN-01 certificates by
//! name, served to ClientHellos offering only `acme-tls/1`.
//!
//! Shared by every process on the storage too (certmagic's distributed
//! solver): while a challenge is live its answer is also kept in storage
//! under `challenge_tokens/<name>.json`, so whichever instance of a fleet
//! the CA's validation request reaches can answer it.

use super::storage::{safe_key, Storage};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// The HTTP-01 path prefix.
pub const HTTP01_PREFIX: &str = "/.well-known/acme-challenge/";
/// The path prefix of ZeroSSL's HTTP validation files.
pub const ZEROSSL_PREFIX: &str = "/.well-known/pki-validation/";
/// The TLS-ALPN-01 protocol ID.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Live HTTP answers by request path.
static HTTP01: LazyLock<RwLock<HashMap<String, String>>> = LazyLock::new(Default::default);
static TLS_ALPN: LazyLock<RwLock<HashMap<String, Arc<CertifiedKey>>>> =
    LazyLock::new(Default::default);

/// Publishes an HTTP-01 answer until the guard drops.
pub fn publish_http01(token: &str, key_authorization: &str) -> Published {
    publish_http_file(&format!("{HTTP01_PREFIX}{token}"), key_authorization)
}

/// Publishes `body` as the answer to GETs of `path` until the guard drops
/// (a ZeroSSL validation file).
pub fn publish_http_file(path: &str, body: &str) -> Published {
    if let Ok(mut m) = HTTP01.write() {
        m.insert(path.to_string(), body.to_string());
    }
    Published::Http(path.to_string())
}

/// Publishes a TLS-ALPN-01 certificate for `name` until the guard drops.
pub fn publish_tls_alpn(name: &str, cert: Arc<CertifiedKey>) -> Published {
    if let Ok(mut m) = TLS_ALPN.write() {
        m.insert(name.to_ascii_lowercase(), cert);
    }
    Published::TlsAlpn(name.to_ascii_lowercase())
}

/// Removes a published answer when dropped.
#[derive(Debug)]
pub enum Published {
    Http(String),
    TlsAlpn(String),
}

impl Drop for Published {
    fn drop(&mut self) {
        match self {
            Published::Http(t) => {
                if let Ok(mut m) = HTTP01.write() {
                    m.remove(t);
                }
            }
            Published::TlsAlpn(n) => {
                if let Ok(mut m) = TLS_ALPN.write() {
                    m.remove(n);
                }
            }
        }
    }
}

/// Whether `path` is where challenge answers are served.
pub fn is_challenge_path(path: &str) -> bool {
    path.starts_with(HTTP01_PREFIX) || path.starts_with(ZEROSSL_PREFIX)
}

/// The HTTP answer for a request path, if it asks for a live token or
/// validation file.
pub fn http01_answer(path: &str) -> Option<String> {
    HTTP01.read().ok()?.get(path).cloned()
}

/// The TLS-ALPN-01 certificate for `name`, if a challenge is live.
pub fn tls_alpn_cert(name: &str) -> Option<Arc<CertifiedKey>> {
    TLS_ALPN
        .read()
        .ok()?
        .get(&name.to_ascii_lowercase())
        .cloned()
}

/// Where a live challenge for `name` is kept in storage.
fn shared_key(name: &str) -> String {
    format!("challenge_tokens/{}.json", safe_key(name))
}

/// A challenge answer kept in storage until dropped.
#[derive(Debug)]
pub struct Shared {
    storage: Storage,
    key: String,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Err(e) = self.storage.delete(&self.key) {
            tracing::warn!(key = %self.storage.describe(&self.key), error = %e, "cannot remove a challenge answer from storage");
        }
    }
}

/// Keeps the answer to a challenge for `name` in storage, for the other
/// instances sharing it (`kind`: `http-01` or `tls-alpn-01`). A storage
/// failure is logged: this instance still answers itself.
pub fn share(
    storage: &Storage,
    name: &str,
    kind: &str,
    token: &str,
    key_auth: &str,
) -> Option<Shared> {
    let key = shared_key(name);
    let body = serde_json::json!({"type": kind, "token": token, "keyAuthorization": key_auth});
    match storage.write(&key, body.to_string().as_bytes(), false) {
        Ok(()) => Some(Shared {
            storage: storage.clone(),
            key,
        }),
        Err(e) => {
            tracing::warn!(name, error = %e, "cannot share a challenge answer through storage; only this instance can answer it");
            None
        }
    }
}

/// The stored challenge for `name` of type `kind`: (token, key authorization).
fn stored(storage: &Storage, name: &str, kind: &str) -> Option<(String, String)> {
    let raw = storage.read(&shared_key(name)).ok()??;
    let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    if v.get("type")?.as_str()? != kind {
        return None;
    }
    Some((
        v.get("token")?.as_str()?.to_string(),
        v.get("keyAuthorization")?.as_str()?.to_string(),
    ))
}

/// The HTTP answer another instance keeps in storage for `host`, if the
/// request path asks for its HTTP-01 token or ZeroSSL validation file
/// (kept as kind `zerossl-http`: the file's path, and its content).
pub fn http01_from_storage(storage: &Storage, host: &str, path: &str) -> Option<String> {
    if let Some(token) = path.strip_prefix(HTTP01_PREFIX) {
        let (stored_token, key_auth) = stored(storage, host, "http-01")?;
        return (stored_token == token).then_some(key_auth);
    }
    let (stored_path, content) = stored(storage, host, "zerossl-http")?;
    (stored_path == path).then_some(content)
}

/// The TLS-ALPN-01 key authorization another instance keeps in storage
/// for `name`.
pub fn tls_alpn_from_storage(storage: &Storage, name: &str) -> Option<String> {
    stored(storage, name, "tls-alpn-01").map(|(_, key_auth)| key_auth)
}

/// A rustls config answering a TLS-ALPN-01 validation with `cert`.
pub fn tls_alpn_config(cert: Arc<CertifiedKey>) -> Arc<rustls::ServerConfig> {
    let mut c = rustls::ServerConfig::builder_with_provider(super::policy::ring())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("ring supports TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(cert)));
    c.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    Arc::new(c)
}

/// Always the same certificate.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl rustls::server::ResolvesServerCert for Fixed {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
