//! The ACME server's issuance `policy` (Caddy's `acmeserver.Policy`,
//! evaluated as smallstep's X.509 name policy engine does):
//!
//! - a name matching a `deny` rule is refused;
//! - when `allow` has rules, a name must match one of them, and a name of a
//!   type `allow` has no rules for (a domain when only `ip_ranges` are
//!   allowed, or the other way round) is refused;
//! - wildcard names (`*.example.com`) are refused unless
//!   `allow_wildcard_names`.
//!
//! Domain rules: `example.com` matches that name only, `*.example.com`
//! exactly one label more (`www.example.com`, not `a.b.example.com` nor
//! `example.com`), letters in any case. IP rules: a CIDR range, or an
//! address matched exactly.

use crate::error::Error;
use serde::Deserialize;
use std::net::IpAddr;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyJson {
    allow: Option<RuleSetJson>,
    deny: Option<RuleSetJson>,
    #[serde(default)]
    allow_wildcard_names: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RuleSetJson {
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    ip_ranges: Vec<String>,
}

#[derive(Default, Debug)]
struct RuleSet {
    domains: Vec<String>,
    ranges: Vec<(IpAddr, u8)>,
}

impl RuleSet {
    fn is_empty(&self) -> bool {
        self.domains.is_empty() && self.ranges.is_empty()
    }
}

/// A provisioned policy.
#[derive(Default, Debug)]
pub struct Policy {
    allow: RuleSet,
    deny: RuleSet,
    wildcards: bool,
}

fn rules(j: Option<RuleSetJson>, path: &str) -> Result<RuleSet, Error> {
    let j = j.unwrap_or_default();
    let mut ranges = Vec::new();
    for (i, r) in j.ip_ranges.iter().enumerate() {
        ranges.push(parse_range(r).ok_or_else(|| {
            Error::config(
                format!("{path}.ip_ranges[{i}]"),
                format!("{r:?} is neither an IP address nor a CIDR range"),
            )
        })?);
    }
    Ok(RuleSet {
        domains: j.domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
        ranges,
    })
}

fn parse_range(s: &str) -> Option<(IpAddr, u8)> {
    match s.split_once('/') {
        Some((ip, bits)) => {
            let ip: IpAddr = ip.parse().ok()?;
            let bits: u8 = bits.parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            (bits <= max).then_some((ip, bits))
        }
        None => {
            let ip: IpAddr = s.parse().ok()?;
            Some((ip, if ip.is_ipv4() { 32 } else { 128 }))
        }
    }
}

fn in_range(ip: IpAddr, (net, bits): (IpAddr, u8)) -> bool {
    let (a, b) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b)),
        _ => return false,
    };
    let width = if ip.is_ipv4() { 32 } else { 128 };
    let shift = width - u32::from(bits);
    shift >= 128 || (a >> shift) == (b >> shift)
}

fn domain_matches(name: &str, rule: &str) -> bool {
    let name = name.to_ascii_lowercase();
    match rule.strip_prefix("*.") {
        Some(base) => name
            .strip_suffix(base)
            .and_then(|head| head.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        None => name == rule,
    }
}

impl Policy {
    /// Provisions `policy` (absent: allow everything but wildcards).
    pub fn provision(j: Option<PolicyJson>, path: &str) -> Result<Policy, Error> {
        let j = j.unwrap_or_default();
        Ok(Policy {
            allow: rules(j.allow, &format!("{path}.allow"))?,
            deny: rules(j.deny, &format!("{path}.deny"))?,
            wildcards: j.allow_wildcard_names,
        })
    }

    /// Whether the policy lets anything through (Caddy warns then).
    pub fn allows_all(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Whether a DNS name (possibly a wildcard) may be issued.
    pub fn allows_domain(&self, name: &str) -> bool {
        if name.starts_with("*.") && !self.wildcards {
            return false;
        }
        if name.is_empty() || name[1..].contains('*') {
            return false;
        }
        if self.deny.domains.iter().any(|r| domain_matches(name, r)) {
            return false;
        }
        if self.allow.is_empty() {
            return true;
        }
        self.allow.domains.iter().any(|r| domain_matches(name, r))
    }

    /// Whether an IP address may be issued.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        if self.deny.ranges.iter().any(|r| in_range(ip, *r)) {
            return false;
        }
        if self.allow.is_empty() {
            return true;
        }
        self.allow.ranges.iter().any(|r| in_range(ip, *r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(j: serde_json::Value) -> Policy {
        Policy::provision(Some(serde_json::from_value(j).unwrap()), "policy").unwrap()
    }

    #[test]
    fn wildcard_rules_match_one_label_more() {
        let p = policy(serde_json::json!({"allow": {"domains": ["*.example.com", "host.test"]}}));
        assert!(p.allows_domain("www.example.com"));
        assert!(p.allows_domain("WWW.Example.COM"));
        assert!(!p.allows_domain("a.b.example.com"));
        assert!(!p.allows_domain("example.com"));
        assert!(p.allows_domain("host.test"));
        assert!(!p.allows_domain("other.test"));
        // Only domains are allowed, so every IP is refused.
        assert!(!p.allows_ip("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn deny_wins_and_wildcard_names_need_allowing() {
        let p = policy(
            serde_json::json!({"deny": {"domains": ["bad.test"], "ip_ranges": ["10.0.0.0/8"]}}),
        );
        assert!(!p.allows_domain("bad.test"));
        assert!(p.allows_domain("good.test"));
        assert!(!p.allows_domain("*.good.test"));
        assert!(!p.allows_ip("10.1.2.3".parse().unwrap()));
        assert!(p.allows_ip("192.168.0.1".parse().unwrap()));
        let p = policy(serde_json::json!({"allow_wildcard_names": true}));
        assert!(p.allows_domain("*.good.test"));
        assert!(!p.allows_domain("a.*.good.test"));
    }

    #[test]
    fn ip_ranges_and_exact_addresses() {
        let p = policy(serde_json::json!({"allow": {"ip_ranges": ["127.0.0.0/24", "::1"]}}));
        assert!(p.allows_ip("127.0.0.9".parse().unwrap()));
        assert!(!p.allows_ip("127.0.1.9".parse().unwrap()));
        assert!(p.allows_ip("::1".parse().unwrap()));
        assert!(!p.allows_ip("::2".parse().unwrap()));
        assert!(!p.allows_domain("example.com"));
        assert!(Policy::provision(
            Some(
                serde_json::from_value(serde_json::json!({"allow": {"ip_ranges": ["nope"]}}))
                    .unwrap()
            ),
            "policy"
        )
        .is_err());
    }
}
