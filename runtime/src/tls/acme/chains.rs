//! The ACME issuer's `preferred_chains`: which of the chains a CA offers
//! (the default and its alternates) is kept, as certmagic chooses. One
//! chain is kept whatever the preferences; `smallest` orders the chains by
//! PEM size (ascending when true, descending when false) first; then the
//! first `any_common_name` that is the issuer of any certificate of a
//! chain, else the first `root_common_name` that is the issuer of a
//! chain's last certificate, picks that chain; else the first chain.

use crate::error::Error;
use serde::Deserialize;

/// Caddy's `ChainPreference`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainPreference {
    pub(crate) smallest: Option<bool>,
    #[serde(default)]
    pub(crate) root_common_name: Vec<String>,
    #[serde(default)]
    pub(crate) any_common_name: Vec<String>,
}

impl ChainPreference {
    /// Decodes the preferences at `at`.
    pub fn decode(v: &serde_json::Value, at: &str) -> Result<Self, Error> {
        crate::config::decode(v, at)
    }

    /// The chain to keep out of `chains` (PEM, the CA's default first).
    pub fn select(&self, mut chains: Vec<String>) -> String {
        if chains.len() > 1 {
            match self.smallest {
                Some(true) => chains.sort_by_key(String::len),
                Some(false) => chains.sort_by_key(|c| std::cmp::Reverse(c.len())),
                None => {}
            }
            if let Some(i) = self.by_name(&chains) {
                return chains.swap_remove(i);
            }
            if !self.any_common_name.is_empty() || !self.root_common_name.is_empty() {
                tracing::warn!("did not find chain matching preferences; using first");
            }
        }
        chains.into_iter().next().unwrap_or_default()
    }

    fn by_name(&self, chains: &[String]) -> Option<usize> {
        if self.any_common_name.is_empty() && self.root_common_name.is_empty() {
            return None;
        }
        let issuers: Vec<Vec<String>> = chains.iter().map(|c| issuer_names(c)).collect();
        for want in &self.any_common_name {
            if let Some(i) = issuers.iter().position(|c| c.contains(want)) {
                return Some(i);
            }
        }
        for want in &self.root_common_name {
            if let Some(i) = issuers.iter().position(|c| c.last() == Some(want)) {
                return Some(i);
            }
        }
        None
    }
}

/// The issuer common name of each certificate of a PEM chain, in order
/// (empty where one has none or does not parse).
fn issuer_names(pem: &str) -> Vec<String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .flatten()
        .map(|der| {
            x509_parser::parse_x509_certificate(&der)
                .ok()
                .and_then(|(_, c)| {
                    c.issuer()
                        .iter_common_name()
                        .next()
                        .and_then(|cn| cn.as_str().ok().map(str::to_string))
                })
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PEM chain: a leaf under an intermediate `mid` under a root
    /// `root`, with `pad` bytes of comment to vary its size.
    fn chain(mid: &str, root: &str, pad: usize) -> String {
        let ca = |cn: &str| {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            (p, key)
        };
        let (rp, rk) = ca(root);
        let root_cert = rp.self_signed(&rk).unwrap();
        let root_issuer = rcgen::Issuer::new(rp, rk);
        let (mp, mk) = ca(mid);
        let mid_cert = mp.signed_by(&mk, &root_issuer).unwrap();
        let mid_issuer = rcgen::Issuer::new(mp, mk);
        let lk = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["a.test".to_string()])
            .unwrap()
            .signed_by(&lk, &mid_issuer)
            .unwrap();
        // The root's own certificate is not sent; the intermediate's issuer
        // names the root.
        let _ = root_cert;
        format!("{}{}{}", leaf.pem(), mid_cert.pem(), "\n".repeat(pad))
    }

    fn pref(v: serde_json::Value) -> ChainPreference {
        ChainPreference::decode(&v, "p").unwrap()
    }

    #[test]
    fn preferences_pick_as_certmagic_does() {
        let a = chain("Mid A", "Root A", 0);
        let b = chain("Mid B", "Root B", 400);
        let both = || vec![a.clone(), b.clone()];
        let cases = [
            (serde_json::json!({}), &a),
            (serde_json::json!({"smallest": true}), &a),
            (serde_json::json!({"smallest": false}), &b),
            (serde_json::json!({"root_common_name": ["Root B"]}), &b),
            (serde_json::json!({"root_common_name": ["Mid B"]}), &a),
            (serde_json::json!({"any_common_name": ["Mid B"]}), &b),
            (
                serde_json::json!({"any_common_name": ["Root B", "Mid A"]}),
                &b,
            ),
            (
                serde_json::json!({"any_common_name": ["x"], "root_common_name": ["Root B"]}),
                &b,
            ),
            (
                serde_json::json!({"root_common_name": ["nobody"], "smallest": false}),
                &b,
            ),
        ];
        for (p, want) in cases {
            assert_eq!(&pref(p.clone()).select(both()), want, "{p}");
        }
        assert_eq!(
            pref(serde_json::json!({"root_common_name": ["Root B"]})).select(vec![a.clone()]),
            a
        );
        let e =
            ChainPreference::decode(&serde_json::json!({"largest": true}), "x.preferred_chains")
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("x.preferred_chains") && e.contains("largest"),
            "{e}"
        );
    }
}
