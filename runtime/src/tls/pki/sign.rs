//! Leaf certificates signed by a CA of the `pki` app: for a key bellhop
//! made (the `internal` issuer) or for the public key of a CSR (the
//! `acme_server` handler). Signed by the intermediate, or by the root
//! with `sign_with_root`; valid for the requested lifetime, capped by the
//! signer's own expiry; server and client authentication; a random serial.

use super::{issuer_of, Ca};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use std::time::Duration;

impl Ca {
    /// Issues a leaf for `names` with `key`, valid for `lifetime` (capped by the
    /// signer's own expiry): returns the PEM chain and the PEM key.
    pub fn issue(
        &self,
        names: &[String],
        key: &KeyPair,
        lifetime: Duration,
        sign_with_root: bool,
        must_staple: bool,
    ) -> Result<(String, String), String> {
        let chain = self.sign(names, key, lifetime, sign_with_root, must_staple)?;
        Ok((chain, key.serialize_pem()))
    }

    /// Issues a leaf for `names` to the holder of a public key (its
    /// SubjectPublicKeyInfo DER, from a CSR): returns the PEM chain.
    pub fn issue_for_public_key(
        &self,
        names: &[String],
        spki_der: &[u8],
        lifetime: Duration,
        sign_with_root: bool,
    ) -> Result<String, String> {
        let public = rcgen::SubjectPublicKeyInfo::from_der(spki_der).map_err(|e| e.to_string())?;
        self.sign(names, &public, lifetime, sign_with_root, false)
    }

    fn sign(
        &self,
        names: &[String],
        public: &impl rcgen::PublicKeyData,
        lifetime: Duration,
        sign_with_root: bool,
        must_staple: bool,
    ) -> Result<String, String> {
        let signer = if sign_with_root {
            &self.root
        } else {
            &self.intermediate
        };
        let mut p = CertificateParams::new(names.to_vec()).map_err(|e| e.to_string())?;
        if let Some(first) = names.first() {
            p.distinguished_name = DistinguishedName::new();
            p.distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::minutes(1);
        let cap = time::OffsetDateTime::from_unix_timestamp(signer.facts.not_after)
            .map_err(|e| e.to_string())?;
        p.not_after = (now + lifetime).min(cap);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        p.use_authority_key_identifier_extension = true;
        p.serial_number = Some(random_serial());
        if must_staple {
            p.custom_extensions = vec![must_staple_extension()];
        }
        let cert = p
            .signed_by(public, &issuer_of(signer)?)
            .map_err(|e| e.to_string())?;
        let mut chain = cert.pem();
        if !sign_with_root {
            chain.push_str(&self.intermediate.pem);
        }
        Ok(chain)
    }
}

/// A random positive 128-bit serial number (rcgen's default derives it
/// from the public key, which a renewal with a reused key keeps).
fn random_serial() -> SerialNumber {
    use rand_core::RngCore as _;
    let mut bytes = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01 << 6;
    SerialNumber::from(bytes.to_vec())
}

/// The TLS Feature extension asking for `status_request` (RFC 7633,
/// "Must-Staple").
pub fn must_staple_extension() -> rcgen::CustomExtension {
    rcgen::CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 24],
        vec![0x30, 0x03, 0x02, 0x01, 0x05],
    )
}
