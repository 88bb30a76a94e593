//! The `acme` issuer (instant-acme, with ring): one account per CA
//! directory and email, kept in storage (registered under a storage
//! lock); orders validated by HTTP-01 or TLS-ALPN-01, answered by
//! bellhop's own listeners through
//! [`super::challenge`]; external account binding; a custom trusted root
//! for test CAs; polling with backoff; `certificate_lifetime` and
//! `preferred_chains` through signed requests of our own ([`wire`]).
//!
//! Defaults follow Caddy: Let's Encrypt's production directory, both
//! challenge types enabled (HTTP-01 tried first). At ZeroSSL's ACME
//! endpoint without `external_account`, the account's EAB credentials
//! come from ZeroSSL's API for the issuer's email, as Caddy gets them.

mod chains;
mod order;
mod wire;

use super::challenge;
use super::config::AcmeIssuerConfig;
use super::storage::{safe_key, Storage};
use crate::error::Error;
use instant_acme::{Account, AccountCredentials, ExternalAccountKey, NewAccount};
use std::sync::Arc;
use std::time::Duration;

pub use chains::ChainPreference;

/// Let's Encrypt's production directory (Caddy's default `ca`).
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// External account binding credentials: the key ID, and the MAC key
/// (`None` when it is not base64url: registering fails then, as in Caddy).
struct Eab {
    key_id: String,
    mac: Option<Vec<u8>>,
}

/// A provisioned ACME issuer.
pub struct AcmeIssuer {
    pub ca: String,
    pub test_ca: Option<String>,
    pub email: Option<String>,
    eab: Option<Eab>,
    trusted_root: Option<String>,
    http01: bool,
    tls_alpn01: bool,
    timeout: Duration,
    profile: Option<String>,
    /// Ask for certificates with the TLS Feature (Must-Staple) extension.
    pub must_staple: bool,
    /// The `notAfter` asked for, from now (`certificate_lifetime`).
    lifetime: Option<Duration>,
    preferred_chains: Option<ChainPreference>,
    /// The HTTPS client (built at first use: it needs the runtime).
    http: std::sync::OnceLock<Result<wire::Http, String>>,
    account: tokio::sync::Mutex<Option<Arc<Registered>>>,
}

/// An account: instant-acme's handle, and its key for our own requests.
struct Registered {
    account: Account,
    signer: wire::Signer,
}

/// Where ZeroSSL's ACME directories live: an account there needs EAB
/// credentials, fetched by email when none are configured.
pub const ZEROSSL_ACME: &str = "https://acme.zerossl.com/";

/// The issuer used when no policy names one.
pub fn default_issuer() -> super::issuer::Issuer {
    super::issuer::Issuer::Acme(Arc::new(AcmeIssuer::from_config(
        AcmeIssuerConfig::default(),
    )))
}

impl AcmeIssuer {
    /// Decodes the issuer's JSON at `at`.
    pub fn provision(value: &serde_json::Value, at: &str) -> Result<Self, Error> {
        let c: AcmeIssuerConfig = crate::config::decode(value, at)?;
        crate::config::unread::acme_issuer(&c);
        if c.account_key.is_some() {
            return Err(Error::config(
                format!("{at}.account_key"),
                "a fixed account key is not supported; bellhop creates and stores the account",
            ));
        }
        if let Some(dns) = c.challenges.as_ref().and_then(|ch| ch.dns.as_ref()) {
            let provider = dns.get("provider").unwrap_or(&serde_json::Value::Null);
            return Err(dns_unsupported(
                provider,
                &format!("{at}.challenges.dns.provider"),
            ));
        }
        if c.trusted_roots_pem_files.len() > 1 {
            return Err(Error::config(
                format!("{at}.trusted_roots_pem_files"),
                "only one trusted root file is supported",
            ));
        }
        let preferred_chains = c
            .preferred_chains
            .as_ref()
            .map(|p| ChainPreference::decode(p, &format!("{at}.preferred_chains")))
            .transpose()?;
        if c.certificate_lifetime.is_some_and(|l| l.0.is_zero()) {
            return Err(Error::config(
                format!("{at}.certificate_lifetime"),
                "must be more than zero",
            ));
        }
        let issuer = AcmeIssuer {
            preferred_chains,
            ..Self::from_config(c)
        };
        // Caddy loads a MAC key that is not base64url and fails when it
        // registers an account with it; so does bellhop, saying so now too.
        if issuer.eab.as_ref().is_some_and(|e| e.mac.is_none()) {
            tracing::warn!(
                field = %format!("{at}.external_account.mac_key"),
                "the EAB MAC key is not valid base64url: registering an ACME account with this issuer will fail"
            );
        }
        Ok(issuer)
    }

    fn from_config(c: AcmeIssuerConfig) -> Self {
        let ch = c.challenges.unwrap_or_default();
        AcmeIssuer {
            lifetime: c.certificate_lifetime.map(|l| l.0),
            preferred_chains: None,
            http: std::sync::OnceLock::new(),
            ca: c
                .ca
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| LETS_ENCRYPT.into()),
            test_ca: c.test_ca.filter(|s| !s.is_empty()),
            email: c.email.filter(|s| !s.is_empty()),
            eab: c.external_account.map(|e| Eab {
                mac: decode_mac(&e.mac_key),
                key_id: e.key_id,
            }),
            trusted_root: c.trusted_roots_pem_files.into_iter().next(),
            http01: !ch.http.is_some_and(|h| h.disabled),
            tls_alpn01: !ch.tls_alpn.is_some_and(|h| h.disabled),
            timeout: c
                .acme_timeout
                .map(|d| d.0)
                .filter(|d| !d.is_zero())
                .unwrap_or(Duration::from_secs(90)),
            profile: c.profile.filter(|p| !p.is_empty()),
            must_staple: false,
            account: tokio::sync::Mutex::new(None),
        }
    }

    /// The directory under `certificates/` (host and path of the CA).
    pub fn storage_key(&self) -> String {
        directory_key(&self.ca)
    }

    fn account_key(&self, ca: &str) -> String {
        let who = self.email.as_deref().unwrap_or("default");
        format!(
            "acme/{}/users/{}/account.json",
            directory_key(ca),
            safe_key(who)
        )
    }

    fn http(&self) -> Result<&wire::Http, String> {
        self.http
            .get_or_init(|| wire::http_client(self.trusted_root.as_deref()))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn builder(&self) -> Result<instant_acme::AccountBuilder, String> {
        Ok(Account::builder_with_http(Box::new(self.http()?.clone())))
    }

    /// The account stored at `key`, if any.
    async fn stored_account(
        &self,
        storage: &Storage,
        key: &str,
    ) -> Result<Option<Registered>, String> {
        let Some(stored) = storage.read(key).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let Ok(creds) = serde_json::from_slice::<AccountCredentials>(&stored) else {
            return Ok(None);
        };
        let account = self.builder()?.from_credentials(creds).await.map_err(es)?;
        let signer = wire::Signer::from_credentials(&stored)?;
        Ok(Some(Registered { account, signer }))
    }

    /// The account at `ca`: the one in memory, else the stored one, else a
    /// new registration. Registering takes the account's storage lock and
    /// looks in storage again, so processes sharing storage register once.
    async fn account(&self, storage: &Storage, ca: &str) -> Result<Arc<Registered>, String> {
        let mut slot = self.account.lock().await;
        if let Some(a) = slot.as_ref().filter(|_| ca == self.ca) {
            return Ok(a.clone());
        }
        let key = self.account_key(ca);
        let account = match self.stored_account(storage, &key).await? {
            Some(a) => a,
            None => {
                let _lock = storage
                    .lock(&format!("acme_account_{}", key.replace('/', "_")))
                    .await
                    .map_err(|e| format!("taking the ACME account's storage lock: {e}"))?;
                match self.stored_account(storage, &key).await? {
                    Some(a) => a,
                    None => self.register(storage, ca, &key).await?,
                }
            }
        };
        let account = Arc::new(account);
        if ca == self.ca {
            *slot = Some(account.clone());
        }
        Ok(account)
    }

    /// Registers a new account at `ca` and stores it at `key`.
    async fn register(&self, storage: &Storage, ca: &str, key: &str) -> Result<Registered, String> {
        let contact = self.email.as_ref().map(|e| format!("mailto:{e}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let new = NewAccount {
            contact: &contacts,
            terms_of_service_agreed: true,
            only_return_existing: false,
        };
        let eab = match &self.eab {
            Some(Eab {
                key_id,
                mac: Some(k),
            }) => Some(ExternalAccountKey::new(key_id.clone(), k)),
            Some(Eab { mac: None, .. }) => {
                return Err(
                    "external_account.mac_key: the EAB MAC key is not valid base64url".into(),
                )
            }
            None if ca.starts_with(ZEROSSL_ACME) => Some(self.zerossl_eab().await?),
            None => None,
        };
        let (account, creds) = self
            .builder()?
            .create(&new, ca.to_string(), eab.as_ref())
            .await
            .map_err(es)?;
        let json = serde_json::to_vec(&creds).map_err(es)?;
        let signer = wire::Signer::from_credentials(&json)?;
        storage.write(key, &json, true).map_err(es)?;
        tracing::info!(ca, email = ?self.email, "new ACME account registered");
        Ok(Registered { account, signer })
    }

    /// EAB credentials for this issuer's email from ZeroSSL's API (its
    /// ACME endpoint requires EAB), as Caddy generates them.
    async fn zerossl_eab(&self) -> Result<ExternalAccountKey, String> {
        let email = self
            .email
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .ok_or("your email address is required to use ZeroSSL's ACME endpoint")?;
        let base = super::zerossl::api::base_url();
        let (kid, key) = super::zerossl::api::eab_for_email(&base, email).await?;
        let key = decode_mac(&key).ok_or("ZeroSSL's EAB HMAC key is not base64url")?;
        tracing::info!(key_id = %kid, "generated EAB credentials");
        Ok(ExternalAccountKey::new(kid, &key))
    }

    /// Obtains a certificate for `names` from the CA, falling back to the
    /// `test_ca` when the production CA fails (Caddy's staging fallback).
    pub async fn obtain(
        &self,
        storage: &Storage,
        names: &[String],
        key: &rcgen::KeyPair,
    ) -> Result<(String, String), String> {
        match self.obtain_from(storage, &self.ca, names, key).await {
            Ok(r) => Ok(r),
            Err(e) => match &self.test_ca {
                Some(test) => {
                    tracing::warn!(error = %e, test_ca = %test, "trying the test CA");
                    self.obtain_from(storage, test, names, key).await
                }
                None => Err(e),
            },
        }
    }
}

/// The self-signed TLS-ALPN-01 certificate for `name` (RFC 8737).
pub(crate) fn alpn_cert(
    name: &str,
    digest: &[u8],
) -> Result<Arc<rustls::sign::CertifiedKey>, String> {
    let key = rcgen::KeyPair::generate().map_err(es)?;
    let mut p = rcgen::CertificateParams::new(vec![name.to_string()]).map_err(es)?;
    p.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = p.self_signed(&key).map_err(es)?;
    let der = rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    // Not through `Cert::new`: its key check parses the certificate with
    // webpki, which refuses the critical acmeIdentifier extension.
    let signing = rustls::crypto::ring::sign::any_supported_type(&der).map_err(es)?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

/// The error for a DNS provider module (`dns.providers.NAME`, the object
/// at `at`): bellhop has none, like Caddy's standard build, so the DNS-01
/// challenge cannot be used.
pub fn dns_unsupported(provider: &serde_json::Value, at: &str) -> Error {
    match provider.get("name").and_then(serde_json::Value::as_str) {
        Some(name) => Error::UnknownModule {
            path: format!("{at}.name"),
            id: format!("dns.providers.{name}"),
        },
        None => Error::config(
            at,
            "the DNS-01 challenge needs a DNS provider module (dns.providers.*); bellhop has none, as Caddy's standard build has none",
        ),
    }
}

fn es(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn decode_mac(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// A directory URL as a storage key: `host[-path]`, made safe.
fn directory_key(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    safe_key(&rest.trim_end_matches('/').replace(['/', ':'], "-"))
}
