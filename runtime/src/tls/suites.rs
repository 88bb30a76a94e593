//! Protocol versions, cipher suites and curves of a connection policy,
//! mapped from Caddy's names onto what rustls (with `ring`) offers.
//!
//! TLS 1.0 and 1.1 do not exist in rustls: asking for them is a config
//! error, and clients offering only them are refused. As in Go,
//! `cipher_suites` restricts the TLS 1.2 suites; TLS 1.3 suites are
//! always on.

use super::config::ConnPolicyConfig;
use crate::error::Error;
use rustls::crypto::{ring, CryptoProvider};
use rustls::SupportedProtocolVersion;

/// The crypto provider for a policy's suites and curves.
pub fn provider(cfg: &ConnPolicyConfig, at: &str) -> Result<CryptoProvider, Error> {
    let mut p = ring::default_provider();
    if !cfg.cipher_suites.is_empty() {
        let all = p.cipher_suites.clone();
        let mut chosen: Vec<_> = all
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .cloned()
            .collect();
        for (i, name) in cfg.cipher_suites.iter().enumerate() {
            let found = all.iter().find(|s| {
                s.suite()
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            });
            match found {
                Some(s) if s.version() == &rustls::version::TLS12 => chosen.push(*s),
                Some(_) => {}
                None => {
                    return Err(Error::config(
                        format!("{at}.cipher_suites[{i}]"),
                        format!("unsupported cipher suite {name:?}"),
                    ))
                }
            }
        }
        p.cipher_suites = chosen;
    }
    if !cfg.curves.is_empty() {
        let mut groups = Vec::new();
        for (i, name) in cfg.curves.iter().enumerate() {
            let g = match name.as_str() {
                "x25519" => ring::kx_group::X25519,
                "secp256r1" => ring::kx_group::SECP256R1,
                "secp384r1" => ring::kx_group::SECP384R1,
                other => {
                    return Err(Error::config(
                        format!("{at}.curves[{i}]"),
                        format!("unsupported curve {other:?} (x25519, secp256r1, secp384r1)"),
                    ))
                }
            };
            groups.push(g);
        }
        p.kx_groups = groups;
    }
    Ok(p)
}

fn version(name: &str, at: &str) -> Result<u8, Error> {
    match name {
        "tls1.2" => Ok(2),
        "tls1.3" => Ok(3),
        "tls1.0" | "tls1.1" => Err(Error::config(
            at,
            format!("{name} is not supported (rustls speaks TLS 1.2 and 1.3 only)"),
        )),
        other => Err(Error::config(
            at,
            format!("unknown protocol version {other:?}"),
        )),
    }
}

/// The protocol versions of a policy (`protocol_min`..`protocol_max`).
pub fn versions(
    cfg: &ConnPolicyConfig,
    at: &str,
) -> Result<Vec<&'static SupportedProtocolVersion>, Error> {
    let min = match cfg.protocol_min.as_deref().filter(|s| !s.is_empty()) {
        Some(v) => version(v, &format!("{at}.protocol_min"))?,
        None => 2,
    };
    let max = match cfg.protocol_max.as_deref().filter(|s| !s.is_empty()) {
        Some(v) => version(v, &format!("{at}.protocol_max"))?,
        None => 3,
    };
    if min > max {
        return Err(Error::config(
            format!("{at}.protocol_min"),
            "protocol_min is greater than protocol_max",
        ));
    }
    let mut v = Vec::new();
    if max == 3 {
        v.push(&rustls::version::TLS13);
    }
    if min == 2 {
        v.push(&rustls::version::TLS12);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_and_errors_name_the_field() {
        let cfg = ConnPolicyConfig {
            cipher_suites: vec!["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into()],
            curves: vec!["x25519".into()],
            protocol_min: Some("tls1.3".into()),
            ..Default::default()
        };
        let p = provider(&cfg, "p").unwrap();
        assert_eq!(p.kx_groups.len(), 1);
        assert!(p.cipher_suites.len() >= 2);
        assert_eq!(versions(&cfg, "p").unwrap().len(), 1);
        let bad = ConnPolicyConfig {
            protocol_min: Some("tls1.1".into()),
            ..Default::default()
        };
        let e = versions(&bad, "p").unwrap_err().to_string();
        assert!(
            e.contains("p.protocol_min") && e.contains("not supported"),
            "{e}"
        );
        let bad = ConnPolicyConfig {
            curves: vec!["secp521r1".into()],
            ..Default::default()
        };
        assert!(provider(&bad, "p")
            .unwrap_err()
            .to_string()
            .contains("p.curves[0]"));
    }
}
