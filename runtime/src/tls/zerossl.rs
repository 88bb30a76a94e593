//! The `zerossl` issuer (`tls.issuance.zerossl`): certificates from
//! ZeroSSL's REST API with an API key, as certmagic's `ZeroSSLIssuer`
//! gets them (distinct from ZeroSSL's ACME endpoint, which the `acme`
//! issuer uses with EAB credentials fetched by email, see `api`).
//!
//! One issuance: create a draft certificate from a CSR (its common name
//! is the first name: ZeroSSL's API requires one), publish the
//! validation file it names on `/.well-known/pki-validation/` (this
//! process's listeners, and storage for the rest of a fleet), ask for
//! `HTTP_CSR_HASH` validation, poll until `issued`, download the leaf
//! and CA bundle. A failed issuance cancels its draft.

pub mod api;

use super::challenge;
use super::config::ZeroSslIssuerConfig;
use super::storage::Storage;
use crate::error::Error;
use api::{Bundle, CertificateObject, Client};
use serde_json::json;
use std::time::Duration;

/// certmagic's poll interval while ZeroSSL validates.
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// How long validation may take before the issuance fails.
const VALIDATION_LIMIT: Duration = Duration::from_secs(600);

/// A provisioned `zerossl` issuer.
pub struct ZeroSslIssuer {
    api_key: String,
    validity_days: u32,
    /// Ask for certificates with the TLS Feature (Must-Staple) extension.
    pub must_staple: bool,
}

impl ZeroSslIssuer {
    /// Decodes the issuer's JSON at `at`.
    pub fn provision(value: &serde_json::Value, at: &str) -> Result<Self, Error> {
        let c: ZeroSslIssuerConfig = crate::config::decode(value, at)?;
        crate::config::unread::zerossl_issuer(&c);
        if let Some(cname) = &c.cname_validation {
            let provider = cname.get("provider").unwrap_or(&serde_json::Value::Null);
            return Err(super::acme::dns_unsupported(
                provider,
                &format!("{at}.cname_validation.provider"),
            ));
        }
        let api_key = crate::util::expand_env(&c.api_key);
        if api_key.trim().is_empty() {
            return Err(Error::config(
                format!("{at}.api_key"),
                "required: the ZeroSSL API key (from the ZeroSSL dashboard's Developer page)",
            ));
        }
        Ok(ZeroSslIssuer {
            api_key,
            validity_days: c.validity_days,
            must_staple: false,
        })
    }

    fn client(&self) -> Client {
        Client {
            access_key: self.api_key.clone(),
            base: api::base_url(),
        }
    }

    /// Obtains a certificate for `names` with `key`: (PEM chain, PEM key).
    pub async fn obtain(
        &self,
        storage: &Storage,
        names: &[String],
        key: &rcgen::KeyPair,
    ) -> Result<(String, String), String> {
        let first = names.first().ok_or("no names to certify")?;
        let client = self.client();
        let csr = self.csr(names, key)?;
        let mut payload = json!({
            "certificate_domains": names.join(","),
            "certificate_csr": csr,
            "strict_domains": 1,
        });
        if self.validity_days > 0 {
            payload["certificate_validity_days"] = json!(self.validity_days);
        }
        let draft: CertificateObject = client
            .post("/certificates", Some(&payload))
            .await
            .map_err(|e| format!("creating certificate: {e}"))?;
        tracing::info!(names = ?names, cert_id = %draft.id, "created ZeroSSL certificate");
        match self.validate_and_download(&client, storage, &draft).await {
            Ok(chain) => Ok((chain, key.serialize_pem())),
            Err(e) => {
                let cancel = format!("/certificates/{}/cancel", api::escape(&draft.id));
                match client.post::<serde_json::Value>(&cancel, None).await {
                    Ok(_) => {
                        tracing::info!(cert_id = %draft.id, name = %first, "canceled ZeroSSL certificate")
                    }
                    Err(c) => {
                        tracing::error!(cert_id = %draft.id, error = %c, "unable to cancel ZeroSSL certificate")
                    }
                }
                Err(e)
            }
        }
    }

    /// The CSR in PEM: common name the first name (ZeroSSL's API needs
    /// one), every name a SAN.
    fn csr(&self, names: &[String], key: &rcgen::KeyPair) -> Result<String, String> {
        let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(es)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0].clone());
        if self.must_staple {
            params.custom_extensions = vec![crate::tls::pki::must_staple_extension()];
        }
        params
            .serialize_request(key)
            .and_then(|c| c.pem())
            .map_err(es)
    }

    async fn validate_and_download(
        &self,
        client: &Client,
        storage: &Storage,
        draft: &CertificateObject,
    ) -> Result<String, String> {
        let methods = draft
            .validation
            .as_ref()
            .map(|v| &v.other_methods)
            .filter(|m| !m.is_empty())
            .ok_or("the draft certificate names no validation files")?;
        let (mut published, mut shared) = (Vec::new(), Vec::new());
        for (name, v) in methods {
            let path = validation_path(&v.file_validation_url_http).ok_or_else(|| {
                format!(
                    "invalid validation URL for {name}: {:?}",
                    v.file_validation_url_http
                )
            })?;
            let content = v.file_validation_content.join("\n");
            shared.extend(challenge::share(
                storage,
                name,
                "zerossl-http",
                &path,
                &content,
            ));
            published.push(challenge::publish_http_file(&path, &content));
        }
        tracing::info!(cert_id = %draft.id, "validating identifiers");
        let id = api::escape(&draft.id);
        let mut cert: CertificateObject = client
            .post(
                &format!("/certificates/{id}/challenges"),
                Some(&json!({"validation_method": "HTTP_CSR_HASH"})),
            )
            .await
            .map_err(|e| format!("verifying identifiers: {e}"))?;
        let deadline = tokio::time::Instant::now() + VALIDATION_LIMIT;
        while cert.status == "pending_validation" {
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "waiting for certificate to be issued: still pending after {}s",
                    VALIDATION_LIMIT.as_secs()
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
            cert = client
                .get(&format!("/certificates/{id}"))
                .await
                .map_err(|e| format!("waiting for certificate to be issued: {e}"))?;
        }
        if cert.status != "issued" {
            return Err(format!("unexpected certificate status: {}", cert.status));
        }
        drop((published, shared));
        let bundle: Bundle = client
            .get(&format!("/certificates/{id}/download/return"))
            .await
            .map_err(|e| format!("downloading certificate: {e}"))?;
        tracing::info!(cert_id = %draft.id, "downloaded ZeroSSL certificate");
        let mut chain = bundle.certificate;
        if !chain.ends_with('\n') {
            chain.push('\n');
        }
        chain.push_str(&bundle.ca_bundle);
        Ok(chain)
    }
}

/// The path of a validation URL (`http://host/.well-known/pki-validation/F`),
/// if it is under ZeroSSL's prefix.
fn validation_path(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let path = uri.path();
    path.starts_with(challenge::ZEROSSL_PREFIX)
        .then(|| path.to_string())
}

fn es(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_paths_and_keys() {
        assert_eq!(
            validation_path("http://a.test/.well-known/pki-validation/ABC.txt").as_deref(),
            Some("/.well-known/pki-validation/ABC.txt")
        );
        assert_eq!(validation_path("http://a.test/elsewhere/ABC.txt"), None);
        assert_eq!(validation_path("not a url"), None);
    }
}
