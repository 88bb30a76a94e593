//! OCSP stapling, as certmagic does it for Caddy: every certificate whose
//! chain holds its issuer and whose leaf names an OCSP responder
//! (Authority Information Access) gets the responder's answer stapled to
//! its handshakes. The answer is kept in storage (`ocsp/<name>-<hash>`, so
//! a restart or another instance reuses it) and fetched again once half
//! of its validity has passed, checked every `ocsp_interval` (one hour by
//! default). Only a `good` answer for the certificate's own serial number
//! within its validity is stapled; a failed fetch keeps the staple there
//! is, is logged, and is tried again within a minute.
//!
//! `disable_ocsp_stapling` of the `tls` app turns it off for certificates
//! loaded by the user, a policy's for the certificates it manages.
//! Responders are reached over plain HTTP (POST, as Go's OCSP clients).

use super::cache::Cert;
use super::TlsState;
use der::{Decode, Encode};
use std::sync::Arc;
use std::time::Duration;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
use x509_cert::Certificate;
use x509_ocsp::builder::OcspRequestBuilder;
use x509_ocsp::{BasicOcspResponse, CertStatus, OcspResponse, OcspResponseStatus, Request};

/// `id-pe-authorityInfoAccess`.
const OID_AIA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
/// `id-ad-ocsp`.
const OID_AD_OCSP: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
/// `id-pkix-ocsp-basic`.
const OID_BASIC: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// How soon a failed fetch is tried again (at most `ocsp_interval`).
const RETRY: Duration = Duration::from_secs(60);

/// A stapled answer and its validity (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staple {
    pub der: Vec<u8>,
    pub this_update: i64,
    pub next_update: i64,
}

impl Staple {
    /// Whether it is time to ask again: half its validity has passed.
    pub fn needs_refresh(&self, now: i64) -> bool {
        now >= self.this_update + (self.next_update - self.this_update) / 2
    }
}

/// The leaf, its issuer and its responder: what asking needs.
struct Subject {
    leaf: Certificate,
    issuer: Certificate,
    url: String,
}

/// What to ask about `cert`, if it can be asked about at all.
fn subject(cert: &Cert) -> Option<Subject> {
    let chain = &cert.key.cert;
    let leaf = Certificate::from_der(chain.first()?.as_ref()).ok()?;
    let issuer = Certificate::from_der(chain.get(1)?.as_ref()).ok()?;
    let url = responder(&leaf)?;
    Some(Subject { leaf, issuer, url })
}

/// The OCSP responder URL a certificate names.
fn responder(leaf: &Certificate) -> Option<String> {
    let ext = leaf
        .tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == OID_AIA)?;
    let aia = AuthorityInfoAccessSyntax::from_der(ext.extn_value.as_bytes()).ok()?;
    aia.0.iter().find_map(|d| match &d.access_location {
        GeneralName::UniformResourceIdentifier(u) if d.access_method == OID_AD_OCSP => {
            Some(u.to_string())
        }
        _ => None,
    })
}

/// The DER request for `s`'s leaf (SHA-1 `CertID`, as Go's clients send).
fn request(s: &Subject) -> Result<Vec<u8>, String> {
    let req = Request::from_cert::<sha1::Sha1>(&s.issuer, &s.leaf).map_err(|e| e.to_string())?;
    OcspRequestBuilder::default()
        .with_request(req)
        .build()
        .to_der()
        .map_err(|e| e.to_string())
}

/// Reads a responder's answer about `leaf`: a `good` status for its serial
/// number, valid now.
pub fn parse(der: &[u8], leaf_der: &[u8], now: i64) -> Result<Staple, String> {
    let leaf = Certificate::from_der(leaf_der).map_err(|e| e.to_string())?;
    let resp = OcspResponse::from_der(der).map_err(|e| format!("malformed OCSP response: {e}"))?;
    if resp.response_status != OcspResponseStatus::Successful {
        return Err(format!("responder answered {:?}", resp.response_status));
    }
    let bytes = resp.response_bytes.ok_or("no response bytes")?;
    if bytes.response_type != OID_BASIC {
        return Err(format!("unknown response type {}", bytes.response_type));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| format!("malformed basic OCSP response: {e}"))?;
    let serial = &leaf.tbs_certificate.serial_number;
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|r| &r.cert_id.serial_number == serial)
        .ok_or("no answer for this certificate's serial number")?;
    match single.cert_status {
        CertStatus::Good(_) => {}
        CertStatus::Revoked(_) => return Err("the certificate is revoked".into()),
        CertStatus::Unknown(_) => return Err("the responder does not know the certificate".into()),
    }
    let secs = |t: &x509_ocsp::OcspGeneralizedTime| t.0.to_unix_duration().as_secs() as i64;
    let this_update = secs(&single.this_update);
    // Without nextUpdate, newer information is always available: certmagic
    // treats such an answer as good for an hour.
    let next_update = single.next_update.as_ref().map_or(this_update + 3600, secs);
    if this_update > now + 300 || next_update <= now {
        return Err("the answer is not valid now".into());
    }
    Ok(Staple {
        der: der.to_vec(),
        this_update,
        next_update,
    })
}

/// The latest `nextUpdate` of a stored answer (Unix seconds), for
/// cleaning storage; `None` when it cannot be read.
pub fn next_update_of(der: &[u8]) -> Option<i64> {
    let resp = OcspResponse::from_der(der).ok()?;
    let bytes = resp.response_bytes?;
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).ok()?;
    basic
        .tbs_response_data
        .responses
        .iter()
        .filter_map(|r| r.next_update.as_ref())
        .map(|t| t.0.to_unix_duration().as_secs() as i64)
        .max()
}

/// Asks `url` (plain HTTP) with `body`; the answer's bytes.
async fn fetch(url: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{url}: only http:// responders are supported"));
    }
    let ask = crate::util::http_post::post(&uri, "application/ocsp-request", &[], body, None);
    let (status, got) = tokio::time::timeout(FETCH_TIMEOUT, ask)
        .await
        .map_err(|_| format!("{url}: no answer within {FETCH_TIMEOUT:?}"))?
        .map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url}: HTTP {status}"));
    }
    Ok(got.to_vec())
}

/// Where `cert`'s staple is kept: certmagic's `ocsp/<name>-<FNV-32a of
/// the PEM bundle>`.
fn storage_key(cert: &Cert) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |b: &[u8]| {
        for x in b {
            h ^= u32::from(*x);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    match &cert.pem {
        Some((chain, key)) => {
            feed(chain.as_bytes());
            feed(key.as_bytes());
        }
        None => cert.key.cert.iter().for_each(|c| feed(c.as_ref())),
    }
    let name = cert
        .names
        .first()
        .map(|n| super::storage::safe_key(n) + "-");
    format!("ocsp/{}{h:08x}", name.unwrap_or_default())
}

/// Whether stapling is off for `cert`.
fn disabled(state: &TlsState, cert: &Cert) -> bool {
    match (&cert.managed_by, cert.names.first()) {
        (Some(_), Some(name)) => state.policy_for(name).disable_ocsp_stapling,
        _ => state.ocsp.disabled_for_loaded,
    }
}

/// Staples `cert` if it needs it: from storage when what is kept there is
/// still fresh, else from its responder. `Ok(false)`: nothing to do.
pub async fn staple(state: &TlsState, cert: &Arc<Cert>) -> Result<bool, String> {
    let now = super::der::now();
    if disabled(state, cert) || cert.staple.as_ref().is_some_and(|s| !s.needs_refresh(now)) {
        return Ok(false);
    }
    if cert.stapleable.get() == Some(&false) {
        return Ok(false);
    }
    let Some(subject) = subject(cert) else {
        let _ = cert.stapleable.set(false);
        return Ok(false);
    };
    let leaf = cert.key.cert[0].as_ref();
    let key = storage_key(cert);
    let kept = state
        .storage
        .read(&key)
        .ok()
        .flatten()
        .and_then(|der| parse(&der, leaf, now).ok())
        .filter(|s| !s.needs_refresh(now));
    let fresh = match kept {
        Some(s) => s,
        None => {
            let der = fetch(&subject.url, request(&subject)?).await?;
            let s = parse(&der, leaf, now)?;
            if let Err(e) = state.storage.write(&key, &s.der, false) {
                tracing::warn!(key = %key, error = %e, "could not keep the OCSP staple in storage");
            }
            s
        }
    };
    tracing::info!(names = ?cert.names, next_update = fresh.next_update, "stapled OCSP response");
    state.cache.replace(cert, Arc::new(cert.with_staple(fresh)));
    Ok(true)
}

/// Settings of stapling for a `tls` app.
#[derive(Debug, Clone)]
pub struct OcspSettings {
    pub disabled_for_loaded: bool,
    pub interval: Duration,
}

/// Staples every certificate now, then checks every `ocsp_interval` and
/// whenever a certificate is added; after a failure, again within a
/// minute.
pub async fn maintain(state: Arc<TlsState>) {
    loop {
        let mut failed = false;
        for cert in state.cache.all() {
            if let Err(e) = staple(&state, &cert).await {
                tracing::warn!(names = ?cert.names, error = %e, "OCSP stapling failed; will retry");
                failed = true;
            }
        }
        let wait = match failed {
            true => state.ocsp.interval.min(RETRY),
            false => state.ocsp.interval,
        };
        // A certificate obtained meanwhile is stapled at once.
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.cache.added.notified() => {}
        }
    }
}
