//! The ACME issuer's HTTP client, and the signed requests instant-acme does
//! not make: a newOrder carrying `notAfter` (the issuer's
//! `certificate_lifetime`, as certmagic sends it), and the certificate
//! download that follows the `Link: rel="alternate"` chains (RFC 8555
//! §7.4.2) for `preferred_chains`. Requests are JWS (ES256) signed with
//! the account's key and `kid`, read from the stored credentials.

use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::BodyExt;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use instant_acme::BodyWrapper;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::time::SystemTime;

/// The HTTPS client of an issuer (instant-acme's and ours).
pub type Http = Client<HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>;

/// The client trusting the PEM root in `trusted_root`, else the
/// platform's verifier (instant-acme's default).
pub fn http_client(trusted_root: Option<&str>) -> Result<Http, String> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = match trusted_root {
        Some(path) => {
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(path).map_err(|e| format!("{path}: {e}"))? {
                roots
                    .add(c.map_err(|e| format!("{path}: {e}"))?)
                    .map_err(|e| format!("{path}: {e}"))?;
            }
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(es)?
                .with_root_certificates(roots)
                .with_no_client_auth();
            HttpsConnectorBuilder::new().with_tls_config(config)
        }
        None => HttpsConnectorBuilder::new()
            .with_provider_and_platform_verifier(provider)
            .map_err(es)?,
    };
    let connector = builder.https_only().enable_http1().enable_http2().build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// An account's signing key and URL, from instant-acme's stored
/// credentials (`id`, and `key_pkcs8` in base64url: a P-256 key).
pub struct Signer {
    key: EcdsaKeyPair,
    kid: String,
}

impl Signer {
    pub fn from_credentials(json: &[u8]) -> Result<Self, String> {
        let v: Value = serde_json::from_slice(json).map_err(es)?;
        let field = |k: &str| v[k].as_str().ok_or(format!("stored account: no {k}"));
        let der = b64_decode(field("key_pkcs8")?)?;
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
                .map_err(|e| format!("stored account key: {e}"))?;
        Ok(Signer {
            key,
            kid: field("id")?.to_string(),
        })
    }
}

/// Signed requests to one CA for one account.
pub struct Wire<'a> {
    http: &'a Http,
    signer: &'a Signer,
    new_nonce: String,
    new_order: String,
}

/// A response: status, headers and body.
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl<'a> Wire<'a> {
    /// Reads the CA's directory at `directory`.
    pub async fn new(http: &'a Http, signer: &'a Signer, directory: &str) -> Result<Self, String> {
        let r = send(http, Method::GET, directory, None).await?;
        let d: Value = serde_json::from_slice(&r.body)
            .map_err(|e| format!("the ACME directory {directory}: {e}"))?;
        let url = |k: &str| {
            d[k].as_str()
                .map(str::to_string)
                .ok_or(format!("the ACME directory {directory} has no {k}"))
        };
        Ok(Wire {
            http,
            signer,
            new_nonce: url("newNonce")?,
            new_order: url("newOrder")?,
        })
    }

    /// Places an order for `ids` (instant-acme's identifiers) ending at
    /// `not_after`; the order's URL.
    pub async fn new_order(
        &self,
        ids: &[instant_acme::Identifier],
        profile: Option<&str>,
        not_after: SystemTime,
    ) -> Result<String, String> {
        let mut payload = json!({
            "identifiers": ids,
            "notAfter": rfc3339(not_after)?,
        });
        if let Some(p) = profile {
            payload["profile"] = p.into();
        }
        let r = self.post(&self.new_order, Some(&payload)).await?;
        r.headers
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| "the new order has no Location".to_string())
    }

    /// The certificate chain at `url` (PEM) followed by every alternate
    /// chain the CA links from it.
    pub async fn chains(&self, url: &str) -> Result<Vec<String>, String> {
        let first = self.post(url, None).await?;
        let mut out = vec![pem_text(&first.body)?];
        for alt in alternates(&first.headers) {
            out.push(pem_text(&self.post(&alt, None).await?.body)?);
        }
        Ok(out)
    }

    /// A signed POST (POST-as-GET without a payload); a `badNonce` is
    /// retried once with a fresh nonce, as RFC 8555 §6.5 has clients do.
    async fn post(&self, url: &str, payload: Option<&Value>) -> Result<Reply, String> {
        let mut retried = false;
        loop {
            let nonce = self.nonce().await?;
            let body = self.jws(url, &nonce, payload)?;
            let r = send(self.http, Method::POST, url, Some(body)).await?;
            if r.status < 400 {
                return Ok(r);
            }
            let problem: Value = serde_json::from_slice(&r.body).unwrap_or_default();
            let kind = problem["type"].as_str().unwrap_or_default();
            if kind.ends_with(":badNonce") && !retried {
                retried = true;
                continue;
            }
            return Err(format!(
                "{url}: {} {}: {}",
                r.status,
                kind,
                problem["detail"].as_str().unwrap_or_default()
            ));
        }
    }

    async fn nonce(&self) -> Result<String, String> {
        let r = send(self.http, Method::HEAD, &self.new_nonce, None).await?;
        r.headers
            .get("replay-nonce")
            .and_then(|n| n.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| format!("{}: no Replay-Nonce", self.new_nonce))
    }

    fn jws(&self, url: &str, nonce: &str, payload: Option<&Value>) -> Result<Vec<u8>, String> {
        let protected = json!({"alg": "ES256", "kid": self.signer.kid, "nonce": nonce, "url": url});
        let protected = b64(protected.to_string().as_bytes());
        let payload = payload.map_or(String::new(), |p| b64(p.to_string().as_bytes()));
        let signed = format!("{protected}.{payload}");
        let sig = self
            .signer
            .key
            .sign(&SystemRandom::new(), signed.as_bytes())
            .map_err(|_| "signing an ACME request failed".to_string())?;
        let body =
            json!({"protected": protected, "payload": payload, "signature": b64(sig.as_ref())});
        Ok(body.to_string().into_bytes())
    }
}

/// One request; a status of 400 or more is returned, not an error.
async fn send(
    http: &Http,
    method: Method,
    url: &str,
    body: Option<Vec<u8>>,
) -> Result<Reply, String> {
    let mut req = Request::builder().method(method).uri(url);
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/jose+json");
    }
    let body = body.map_or_else(BodyWrapper::default, BodyWrapper::from);
    let req = req.body(body).map_err(es)?;
    let rsp = http.request(req).await.map_err(|e| format!("{url}: {e}"))?;
    let (parts, body) = rsp.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
    Ok(Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

/// The targets of `Link: <url>;rel="alternate"` headers.
pub fn alternates(headers: &http::HeaderMap) -> Vec<String> {
    let mut out = Vec::new();
    for v in headers.get_all(header::LINK) {
        let Ok(v) = v.to_str() else { continue };
        for link in v.split(',') {
            let mut parts = link.split(';');
            let target = parts.next().unwrap_or("").trim();
            let alternate = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"alternate\"" || p == "rel=alternate"
            });
            if let (true, Some(url)) = (
                alternate,
                target.strip_prefix('<').and_then(|t| t.strip_suffix('>')),
            ) {
                out.push(url.to_string());
            }
        }
    }
    out
}

/// RFC 3339 text of `t`, to the second.
fn rfc3339(t: SystemTime) -> Result<String, String> {
    let t = jiff::Timestamp::try_from(t).map_err(es)?;
    Ok(t.round(jiff::Unit::Second).unwrap_or(t).to_string())
}

fn pem_text(body: &[u8]) -> Result<String, String> {
    String::from_utf8(body.to_vec()).map_err(|_| "a certificate chain is not PEM text".into())
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("stored account key: {e}"))
}

fn es(e: impl std::fmt::Display) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternates_are_read_from_every_link_header() {
        let mut h = http::HeaderMap::new();
        for v in [
            "<https://ca/dir>;rel=\"index\"",
            "<https://ca/cert/1/alt/0>; rel=\"alternate\", <https://ca/up>;rel=\"up\"",
            "<https://ca/cert/1/alt/1>;rel=alternate",
        ] {
            h.append(header::LINK, v.parse().unwrap());
        }
        assert_eq!(
            alternates(&h),
            ["https://ca/cert/1/alt/0", "https://ca/cert/1/alt/1"]
        );
    }
}
