//! `caddy.listeners.proxy_protocol`: the PROXY protocol (HAProxy's v1
//! text and v2 binary headers) in front of a connection, as Caddy's
//! listener wrapper over pires/go-proxyproto does it.
//!
//! Per connection a policy applies: a unix socket is trusted (`USE`);
//! a peer in `deny` is `REJECT`; in `allow`, `USE`; anyone else the
//! `fallback_policy` (default `IGNORE`).
//!
//! - `USE`: a header, if sent, gives the client's and the destination's
//!   addresses (`{http.request.remote}`, `remote_ip`, access logs);
//! - `IGNORE`: a header, if sent, is read and dropped;
//! - `REJECT`: a connection that sends a header is closed;
//! - `REQUIRE`: a connection that sends none is closed; its header is used;
//! - `SKIP`: nothing is read (a header would reach HTTP as is).
//!
//! A malformed header, or one not complete within `timeout` (default
//! 10 s, go-proxyproto's), closes the connection. Parsing is the `ppp`
//! crate's; this file decides what a connection's first bytes are and
//! what to do with them.

use crate::config::CaddyDuration;
use crate::error::Error;
use crate::util::IpNet;
use ppp::v2::{Addresses as V2, Command};
use ppp::{v1::Addresses as V1, HeaderResult};
use serde::Deserialize;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// go-proxyproto's `DefaultReadHeaderTimeout`, used when `timeout` is 0.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const SIG_V1: &[u8] = b"PROXY ";
const SIG_V2: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, CRLF included (the spec's 107 bytes).
const V1_MAX: usize = 107;

/// What a connection's PROXY header may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Ignore,
    Use,
    Reject,
    Require,
    Skip,
}

/// Caddy's names, in the order of its `Policy` numbers.
const POLICIES: [(&str, Policy); 5] = [
    ("IGNORE", Policy::Ignore),
    ("USE", Policy::Use),
    ("REJECT", Policy::Reject),
    ("REQUIRE", Policy::Require),
    ("SKIP", Policy::Skip),
];

/// A provisioned `proxy_protocol` wrapper.
#[derive(Debug, Clone)]
pub struct ProxyProtocol {
    pub timeout: Duration,
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    fallback: Policy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[allow(dead_code)]
    wrapper: String,
    timeout: Option<CaddyDuration>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    fallback_policy: Option<Value>,
}

impl ProxyProtocol {
    /// Provisions the wrapper object at `path`.
    pub fn provision(obj: &Value, path: &str) -> Result<Self, Error> {
        let raw: Raw = crate::config::decode(obj, path)?;
        let cidrs = |list: &[String], key: &str| {
            list.iter()
                .enumerate()
                .map(|(i, c)| prefix(c).map_err(|e| Error::config(format!("{path}.{key}[{i}]"), e)))
                .collect::<Result<Vec<_>, _>>()
        };
        let fallback = match &raw.fallback_policy {
            None => Policy::Ignore,
            Some(v) => policy(v).ok_or_else(|| {
                Error::config(
                    format!("{path}.fallback_policy"),
                    format!("{v} is invalid policy (IGNORE, USE, REJECT, REQUIRE or SKIP)"),
                )
            })?,
        };
        Ok(ProxyProtocol {
            timeout: match raw.timeout {
                Some(CaddyDuration(d)) if !d.is_zero() => d,
                _ => DEFAULT_TIMEOUT,
            },
            allow: cidrs(&raw.allow, "allow")?,
            deny: cidrs(&raw.deny, "deny")?,
            fallback,
        })
    }

    /// The policy for a connection from `peer` (`None`: a unix socket).
    pub fn policy_for(&self, peer: Option<SocketAddr>) -> Policy {
        let Some(peer) = peer else {
            return Policy::Use;
        };
        let ip = peer.ip();
        if self.deny.iter().any(|n| n.contains(ip)) {
            Policy::Reject
        } else if self.allow.iter().any(|n| n.contains(ip)) {
            Policy::Use
        } else {
            self.fallback
        }
    }
}

/// A CIDR prefix as Go's `netip.ParsePrefix` takes it (a bare address is
/// not one).
fn prefix(s: &str) -> Result<IpNet, String> {
    if !s.contains('/') {
        return Err(format!("netip.ParsePrefix({s:?}): no '/'"));
    }
    s.parse()
}

/// A policy by Caddy's name (any case) or number.
fn policy(v: &Value) -> Option<Policy> {
    match v {
        Value::String(s) => POLICIES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, p)| *p),
        Value::Number(n) => POLICIES
            .get(usize::try_from(n.as_u64()?).ok()?)
            .map(|(_, p)| *p),
        _ => None,
    }
}

/// What the first bytes of a connection are.
#[derive(Debug, PartialEq, Eq)]
pub enum Examined {
    /// Not a PROXY header: the connection's own protocol starts here.
    NotHeader,
    /// The start of a header; at least this many bytes are needed.
    Partial(usize),
    /// A complete header of `len` bytes; the addresses it carries
    /// (source, destination), if it carries inet ones.
    Header {
        len: usize,
        addrs: Option<(SocketAddr, SocketAddr)>,
    },
    /// A malformed header.
    Invalid(String),
}

/// Examines the bytes a connection has sent so far.
pub fn examine(b: &[u8]) -> Examined {
    let starts = |sig: &[u8]| b[..b.len().min(sig.len())] == sig[..b.len().min(sig.len())];
    if b.is_empty() {
        return Examined::Partial(1);
    }
    if starts(SIG_V2) {
        if b.len() < 16 {
            return Examined::Partial(16);
        }
        let len = 16 + usize::from(u16::from_be_bytes([b[14], b[15]]));
        if b.len() < len {
            return Examined::Partial(len);
        }
        return parsed(&b[..len], len);
    }
    if starts(SIG_V1) {
        if b.len() < SIG_V1.len() {
            return Examined::Partial(SIG_V1.len());
        }
        return match b.windows(2).position(|w| w == b"\r\n") {
            Some(end) => parsed(&b[..end + 2], end + 2),
            None if b.len() >= V1_MAX => {
                Examined::Invalid("a PROXY v1 header without CRLF in 107 bytes".into())
            }
            None => Examined::Partial(b.len() + 1),
        };
    }
    Examined::NotHeader
}

fn parsed(header: &[u8], len: usize) -> Examined {
    match HeaderResult::parse(header) {
        HeaderResult::V1(Ok(h)) => Examined::Header {
            len,
            addrs: match h.addresses {
                V1::Tcp4(a) => Some((
                    SocketAddr::new(IpAddr::V4(a.source_address), a.source_port),
                    SocketAddr::new(IpAddr::V4(a.destination_address), a.destination_port),
                )),
                V1::Tcp6(a) => Some((
                    SocketAddr::new(IpAddr::V6(a.source_address), a.source_port),
                    SocketAddr::new(IpAddr::V6(a.destination_address), a.destination_port),
                )),
                V1::Unknown => None,
            },
        },
        HeaderResult::V2(Ok(h)) => Examined::Header {
            len,
            addrs: match (h.command, h.addresses) {
                (Command::Local, _) => None,
                (_, V2::IPv4(a)) => Some((
                    SocketAddr::new(IpAddr::V4(a.source_address), a.source_port),
                    SocketAddr::new(IpAddr::V4(a.destination_address), a.destination_port),
                )),
                (_, V2::IPv6(a)) => Some((
                    SocketAddr::new(IpAddr::V6(a.source_address), a.source_port),
                    SocketAddr::new(IpAddr::V6(a.destination_address), a.destination_port),
                )),
                _ => None,
            },
        },
        HeaderResult::V1(Err(e)) => Examined::Invalid(format!("PROXY v1 header: {e}")),
        HeaderResult::V2(Err(e)) => Examined::Invalid(format!("PROXY v2 header: {e}")),
    }
}

/// What to do with a connection once its first bytes are known:
/// `Ok(Some((source, destination)))` to serve it as from those addresses,
/// `Ok(None)` to serve it as it is, `Err` to close it (why).
pub type Decision = Result<Option<(SocketAddr, SocketAddr)>, String>;

/// Decides by `policy` on what was found: `None` when there is no header
/// (or none came in time, before any byte of one).
pub fn decide(policy: Policy, found: Option<Option<(SocketAddr, SocketAddr)>>) -> Decision {
    match (policy, found) {
        (Policy::Reject, Some(_)) => {
            Err("a PROXY header from a source that may not send one".into())
        }
        (Policy::Require, None) => Err("no PROXY header from a source that must send one".into()),
        (Policy::Use | Policy::Require, Some(addrs)) => Ok(addrs),
        _ => Ok(None),
    }
}

#[cfg(test)]
#[path = "proxy_protocol_tests.rs"]
mod tests;
