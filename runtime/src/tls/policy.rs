//! Connection policies: a server's `tls_connection_policies` compiled into
//! rustls server configs, one per policy, each with a certificate resolver
//! over the shared cache.
//!
//! The first policy whose matchers (`sni`, `remote_ip`, `local_ip`) match
//! the ClientHello wins; none matching fails the handshake, as in Caddy.
//! Defaults: TLS 1.2 to 1.3, ALPN from the server's protocols (`h2`,
//! `http/1.1`), session tickets on.

use super::cache::Cert;
use super::client_auth;
use super::config::{CertSelection, ConnPolicyConfig, IpRanges};
use super::TlsState;
use crate::error::Error;
use crate::util::IpNet;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::sync::Arc;

/// The compiled TLS side of one server.
pub struct ServerTls {
    pub policies: Vec<ConnPolicy>,
    /// Whether the Host header must equal the SNI (421 otherwise).
    pub strict_sni_host: bool,
    pub state: Arc<TlsState>,
}

/// One compiled connection policy.
pub struct ConnPolicy {
    sni: Option<Vec<String>>,
    sni_regexp: Option<regex::Regex>,
    remote_ip: Option<IpMatch>,
    local_ip: Option<IpMatch>,
    pub drop: bool,
    pub config: Arc<ServerConfig>,
    resolver: Arc<Resolver>,
    client_auth: bool,
}

struct IpMatch {
    ranges: Vec<IpNet>,
    not_ranges: Vec<IpNet>,
}

impl IpMatch {
    fn compile(r: &IpRanges, at: &str) -> Result<Self, Error> {
        let parse = |v: &[String], key: &str| -> Result<Vec<IpNet>, Error> {
            v.iter()
                .enumerate()
                .map(|(i, s)| {
                    s.parse()
                        .map_err(|e: String| Error::config(format!("{at}.{key}[{i}]"), e))
                })
                .collect()
        };
        Ok(IpMatch {
            ranges: parse(&r.ranges, "ranges")?,
            not_ranges: parse(&r.not_ranges, "not_ranges")?,
        })
    }

    fn matches(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return false };
        let ip = crate::http::conn::canonical_ip(ip);
        (self.ranges.is_empty() || self.ranges.iter().any(|n| n.contains(ip)))
            && !self.not_ranges.iter().any(|n| n.contains(ip))
    }
}

impl ServerTls {
    /// Compiles a server's policies; `alpn` is the server's default ALPN.
    pub fn provision(
        policies: &[Map<String, Value>],
        state: &Arc<TlsState>,
        alpn: &[&str],
        strict_sni_host: Option<bool>,
        path: &str,
    ) -> Result<ServerTls, Error> {
        let mut out = Vec::new();
        for (i, raw) in policies.iter().enumerate() {
            let at = format!("{path}[{i}]");
            let value = Value::Object(raw.clone());
            let cfg: ConnPolicyConfig = crate::config::decode(&value, &at)?;
            out.push(ConnPolicy::compile(&cfg, state, alpn, &at)?);
        }
        let any_client_auth = out.iter().any(|p| p.client_auth);
        Ok(ServerTls {
            policies: out,
            strict_sni_host: strict_sni_host.unwrap_or(any_client_auth),
            state: state.clone(),
        })
    }

    /// The policy for a ClientHello on a connection.
    pub fn select(
        &self,
        sni: Option<&str>,
        remote: Option<IpAddr>,
        local: Option<IpAddr>,
    ) -> Option<&ConnPolicy> {
        self.policies.iter().find(|p| p.matches(sni, remote, local))
    }
}

impl ConnPolicy {
    fn compile(
        cfg: &ConnPolicyConfig,
        state: &Arc<TlsState>,
        alpn: &[&str],
        at: &str,
    ) -> Result<Self, Error> {
        if cfg.insecure_secrets_log.is_some() {
            return Err(Error::config(
                format!("{at}.insecure_secrets_log"),
                "not supported by bellhop",
            ));
        }
        let m = cfg.matchers.clone().unwrap_or_default();
        let provider = Arc::new(super::suites::provider(cfg, at)?);
        let versions = super::suites::versions(cfg, at)?;
        let resolver = Arc::new(Resolver {
            state: state.clone(),
            select: cfg.certificate_selection.clone(),
            default_sni: cfg.default_sni.clone().filter(|s| !s.is_empty()),
            fallback_sni: cfg.fallback_sni.clone().filter(|s| !s.is_empty()),
            local_ip: None,
        });
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| Error::config(at, e.to_string()))?;
        let ca_at = format!("{at}.client_authentication");
        let client_auth = match &cfg.client_authentication {
            Some(ca) => client_auth::verifier(ca, &provider, state, &ca_at)?,
            None => None,
        };
        let has_client_auth = client_auth.is_some();
        let mut config = match client_auth {
            Some(v) => builder.with_client_cert_verifier(v),
            None => builder.with_no_client_auth(),
        }
        .with_cert_resolver(resolver.clone());
        config.alpn_protocols = if cfg.alpn.is_empty() {
            alpn.iter().map(|a| a.as_bytes().to_vec()).collect()
        } else {
            cfg.alpn.iter().map(|a| a.as_bytes().to_vec()).collect()
        };
        if let Some(t) = &state.ticketer {
            config.ticketer = t.clone();
        }
        // the server's order (strongest first) wins over the client's
        config.ignore_client_order = true;
        Ok(ConnPolicy {
            sni: m.sni.map(|v| v.iter().map(|s| s.to_lowercase()).collect()),
            sni_regexp: m
                .sni_regexp
                .as_ref()
                .map(|r| {
                    crate::config::unread::sni_regexp_name(r);
                    crate::util::goregex::compile(&r.pattern)
                        .map_err(|e| Error::config(format!("{at}.match.sni_regexp.pattern"), e))
                })
                .transpose()?,
            remote_ip: m
                .remote_ip
                .as_ref()
                .map(|r| IpMatch::compile(r, &format!("{at}.match.remote_ip")))
                .transpose()?,
            local_ip: m
                .local_ip
                .as_ref()
                .map(|r| IpMatch::compile(r, &format!("{at}.match.local_ip")))
                .transpose()?,
            drop: cfg.drop,
            config: Arc::new(config),
            resolver,
            client_auth: has_client_auth,
        })
    }

    fn matches(&self, sni: Option<&str>, remote: Option<IpAddr>, local: Option<IpAddr>) -> bool {
        if let Some(names) = &self.sni {
            let Some(sni) = sni else { return false };
            let sni = sni.to_ascii_lowercase();
            if !names.iter().any(|n| name_matches(n, &sni)) {
                return false;
            }
        }
        if let Some(re) = &self.sni_regexp {
            if !re.is_match(sni.unwrap_or("")) {
                return false;
            }
        }
        self.remote_ip.as_ref().is_none_or(|m| m.matches(remote))
            && self.local_ip.as_ref().is_none_or(|m| m.matches(local))
    }

    /// Whether the policy's `sni` matcher accepts `sni`. QUIC selects
    /// policies by SNI only (see `tls::quic`), so IP matchers fail here.
    pub(crate) fn matches_sni(&self, sni: Option<&str>) -> bool {
        self.matches(sni, None, None)
    }

    /// Whether the policy matches on remote or local IPs.
    pub(crate) fn has_ip_matchers(&self) -> bool {
        self.remote_ip.is_some() || self.local_ip.is_some()
    }

    /// Whether the policy authenticates clients.
    pub(crate) fn has_client_auth(&self) -> bool {
        self.client_auth
    }

    /// The config for a ClientHello without SNI: certificates for the
    /// connection's local IP are preferred, as certmagic does.
    pub fn config_without_sni(&self, local: Option<IpAddr>) -> Arc<ServerConfig> {
        let Some(ip) = local else {
            return self.config.clone();
        };
        let mut c = (*self.config).clone();
        let mut r = self.resolver.clone_fields();
        r.local_ip = Some(crate::http::conn::canonical_ip(ip).to_string());
        c.cert_resolver = Arc::new(r);
        Arc::new(c)
    }
}

/// Whether host pattern `pattern` (maybe with `*` labels) matches `name`.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    if pattern == name {
        return true;
    }
    let (p, n): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), name.split('.').collect());
    p.len() == n.len() && p.iter().zip(&n).all(|(a, b)| *a == "*" || a == b)
}

/// Picks a certificate from the cache for a ClientHello.
#[derive(Debug)]
struct Resolver {
    state: Arc<TlsState>,
    select: Option<CertSelection>,
    default_sni: Option<String>,
    fallback_sni: Option<String>,
    local_ip: Option<String>,
}

impl Resolver {
    fn clone_fields(&self) -> Resolver {
        Resolver {
            state: self.state.clone(),
            select: self.select.clone(),
            default_sni: self.default_sni.clone(),
            fallback_sni: self.fallback_sni.clone(),
            local_ip: self.local_ip.clone(),
        }
    }

    fn accepts(&self, c: &Cert) -> bool {
        let Some(s) = &self.select else { return true };
        (s.serial_number.is_empty()
            || s.serial_number
                .iter()
                .any(|d| decimal_to_hex(d).as_deref() == Some(c.facts.serial_hex.as_str())))
            && (s.subject_organization.is_empty()
                || s.subject_organization
                    .iter()
                    .any(|o| c.facts.organizations.contains(o)))
            && s.public_key_algorithm
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case(c.facts.key_algorithm))
            && (s.any_tag.is_empty() || s.any_tag.iter().any(|t| c.tags.contains(t)))
            && s.all_tags.iter().all(|t| c.tags.contains(t))
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let cache = &self.state.cache;
        let accept = |c: &Cert| self.accepts(c);
        let name = hello
            .server_name()
            .or(self.default_sni.as_deref())
            .or(self.local_ip.as_deref());
        let hit = name
            .and_then(|n| cache.lookup(n, accept))
            .or_else(|| {
                let f = self.fallback_sni.as_deref()?;
                cache.lookup(f, accept)
            })
            .or_else(|| {
                // No name at all: any certificate beats failing, as Go does.
                if hello.server_name().is_none() {
                    cache.any(accept)
                } else {
                    None
                }
            });
        if hit.is_none() {
            tracing::debug!(sni = ?hello.server_name(), "no certificate matches the ClientHello");
        }
        hit.map(|c| c.key.clone())
    }
}

/// A decimal serial number as lower-case hex without leading zeros.
fn decimal_to_hex(d: &str) -> Option<String> {
    let mut bytes: Vec<u8> = vec![0];
    for ch in d.trim().chars() {
        let mut carry = ch.to_digit(10)?;
        for b in bytes.iter_mut().rev() {
            let v = *b as u32 * 10 + carry;
            *b = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let hex: String = bytes
        .iter()
        .skip_while(|b| **b == 0)
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(hex)
}

/// The provider of a policy, for tests and the QUIC endpoint.
pub fn ring() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_and_patterns() {
        assert_eq!(decimal_to_hex("255").unwrap(), "ff");
        assert_eq!(decimal_to_hex("65536").unwrap(), "010000");
        assert_eq!(decimal_to_hex("x"), None);
        assert!(name_matches("*.example.com", "a.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("a.b", "a.b"));
    }
}
