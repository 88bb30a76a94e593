//! DNS lookups for the proxy: Caddy's `UpstreamResolver` (`resolver:
//! {"addresses": [...]}`, used by the `a` and `srv` upstream sources and
//! by the HTTP transport to resolve upstream host names) on hickory's
//! resolver, and the system resolver for SRV lookups without one.
//!
//! Resolver addresses take Caddy's network-address syntax with UDP and
//! port 53 as defaults (`8.8.8.8`, `udp/10.0.0.1:5353`, `tcp/[::1]:53`).
//! A host name in an address is resolved by the system on first use, and
//! the hickory client is built then (provisioning does no I/O).
//! `dial_timeout` bounds each query; `dial_fallback_delay` is accepted
//! for parity but has nothing to race: the client talks to the resolver
//! addresses themselves. Answers are not cached here beyond their TTL:
//! the upstream sources cache for their `refresh`.

use crate::error::Error;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, NameServerConfigGroup, ResolverConfig,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::TokioResolver;
use serde::Deserialize;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::OnceCell;

/// The JSON of `resolver`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolverJson {
    #[serde(default)]
    addresses: Vec<String>,
}

/// One configured resolver address.
#[derive(Debug, Clone)]
struct Addr {
    tcp: bool,
    host: String,
    port: u16,
}

/// Which address records an IP lookup asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
    Both,
}

/// One SRV record of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    pub target: String,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
}

/// A DNS client: custom name servers, or the system's configuration.
pub struct DnsResolver {
    addrs: Vec<Addr>,
    timeout: Option<Duration>,
    family: Family,
    /// Whether answers are kept for their TTL (not for ACME validation,
    /// which must see a record as soon as the client has changed it).
    cache: bool,
    client: OnceCell<TokioResolver>,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResolver")
            .field("addrs", &self.addrs)
            .finish()
    }
}

impl DnsResolver {
    /// Provisions a `resolver` object at `path`; `timeout` is the
    /// source's or transport's `dial_timeout`.
    pub fn provision(
        v: &Value,
        timeout: Option<Duration>,
        family: Family,
        path: &str,
    ) -> Result<Arc<Self>, Error> {
        let j: ResolverJson = serde_json::from_value(v.clone())
            .map_err(|e| Error::config(path, format!("resolver: {e}")))?;
        if j.addresses.is_empty() {
            return Err(Error::config(
                format!("{path}.addresses"),
                "a resolver needs at least one address",
            ));
        }
        let mut addrs = Vec::new();
        for (i, a) in j.addresses.iter().enumerate() {
            addrs.push(parse_addr(a).map_err(|e| {
                Error::config(format!("{path}.addresses[{i}]"), format!("{a:?}: {e}"))
            })?);
        }
        Ok(Arc::new(DnsResolver {
            addrs,
            timeout,
            family,
            cache: true,
            client: OnceCell::new(),
        }))
    }

    /// A resolver that caches nothing: at `resolvers` (Caddy's address
    /// syntax), else the system's name servers.
    pub fn uncached(resolvers: &[String], path: &str) -> Result<Arc<Self>, Error> {
        let mut addrs = Vec::new();
        for (i, a) in resolvers.iter().enumerate() {
            addrs.push(
                parse_addr(a)
                    .map_err(|e| Error::config(format!("{path}[{i}]"), format!("{a:?}: {e}")))?,
            );
        }
        Ok(Arc::new(DnsResolver {
            addrs,
            timeout: None,
            family: Family::Both,
            cache: false,
            client: OnceCell::new(),
        }))
    }

    /// The system's resolver (`/etc/resolv.conf`), built on first use.
    pub fn system() -> Arc<Self> {
        static SYSTEM: OnceLock<Arc<DnsResolver>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                Arc::new(DnsResolver {
                    addrs: Vec::new(),
                    timeout: None,
                    family: Family::Both,
                    cache: true,
                    client: OnceCell::new(),
                })
            })
            .clone()
    }

    async fn client(&self) -> Result<&TokioResolver, String> {
        self.client.get_or_try_init(|| self.build()).await
    }

    async fn build(&self) -> Result<TokioResolver, String> {
        let provider = TokioConnectionProvider::default();
        let mut builder = if self.addrs.is_empty() {
            TokioResolver::builder(provider)
                .map_err(|e| format!("reading the system DNS configuration: {e}"))?
        } else {
            let mut group = NameServerConfigGroup::new();
            for a in &self.addrs {
                let proto = if a.tcp { Protocol::Tcp } else { Protocol::Udp };
                for sa in socket_addrs(a).await? {
                    group.push(NameServerConfig::new(sa, proto));
                }
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], group),
                provider,
            )
        };
        let o = builder.options_mut();
        if let Some(t) = self.timeout {
            o.timeout = t;
        }
        if !self.cache {
            o.cache_size = 0;
        }
        o.ip_strategy = match self.family {
            Family::V4 => LookupIpStrategy::Ipv4Only,
            Family::V6 => LookupIpStrategy::Ipv6Only,
            Family::Both => LookupIpStrategy::Ipv4AndIpv6,
        };
        Ok(builder.build())
    }

    /// The addresses `name` resolves to (an IP literal is its own answer).
    pub async fn lookup_ip(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let client = self.client().await?;
        let answer = client
            .lookup_ip(name)
            .await
            .map_err(|e| format!("looking up {name}: {e}"))?;
        let mut ips: Vec<IpAddr> = answer.iter().collect();
        ips.dedup();
        Ok(ips)
    }

    /// The TXT records of `name`, each as one string (its parts joined).
    pub async fn lookup_txt(&self, name: &str) -> Result<Vec<String>, String> {
        let client = self.client().await?;
        let answer = client
            .txt_lookup(name)
            .await
            .map_err(|e| format!("TXT lookup of {name}: {e}"))?;
        Ok(answer
            .iter()
            .map(|r| {
                r.txt_data()
                    .iter()
                    .map(|d| String::from_utf8_lossy(d).into_owned())
                    .collect()
            })
            .collect())
    }

    /// The SRV records of `name`, with their targets as names without
    /// the final dot.
    pub async fn lookup_srv(&self, name: &str) -> Result<Vec<Srv>, String> {
        let client = self.client().await?;
        let answer = client
            .srv_lookup(name)
            .await
            .map_err(|e| format!("SRV lookup of {name}: {e}"))?;
        Ok(answer
            .iter()
            .map(|r| {
                let t = r.target().to_ascii();
                Srv {
                    target: t.strip_suffix('.').unwrap_or(&t).to_string(),
                    port: r.port(),
                    priority: r.priority(),
                    weight: r.weight(),
                }
            })
            .collect())
    }
}

/// Caddy's `ParseNetworkAddressWithDefaults(addr, "udp", 53)` for one
/// resolver address.
fn parse_addr(s: &str) -> Result<Addr, String> {
    let (tcp, rest) = match s.split_once('/') {
        Some(("udp" | "udp4" | "udp6", r)) => (false, r),
        Some(("tcp" | "tcp4" | "tcp6", r)) => (true, r),
        Some((net, _)) => return Err(format!("network {net:?} cannot reach a DNS server")),
        None => (false, s),
    };
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let (h, p) = r.split_once(']').ok_or("missing ']' in address")?;
        (h, p.strip_prefix(':').unwrap_or(""))
    } else if rest.matches(':').count() > 1 {
        (rest, "") // a bare IPv6 address
    } else {
        rest.split_once(':').unwrap_or((rest, ""))
    };
    if host.is_empty() {
        return Err("missing host".into());
    }
    let port = match port {
        "" => 53,
        p => p.parse().map_err(|_| format!("invalid port {p:?}"))?,
    };
    Ok(Addr {
        tcp,
        host: host.to_string(),
        port,
    })
}

async fn socket_addrs(a: &Addr) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = a.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, a.port)]);
    }
    let found = tokio::net::lookup_host((a.host.as_str(), a.port))
        .await
        .map_err(|e| format!("resolving DNS server {}: {e}", a.host))?;
    Ok(found.collect())
}

/// Orders SRV records as Go's `LookupSRV` does (RFC 2782): by priority,
/// and within one priority randomly, weighted by `weight`.
pub fn order_srv(mut recs: Vec<Srv>) -> Vec<Srv> {
    recs.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(recs.len());
    let mut rest = recs.as_slice();
    while let Some(first) = rest.first() {
        let n = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let mut group = rest[..n].to_vec();
        rest = &rest[n..];
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let idx = if total == 0 {
                0
            } else {
                let mut pick = crate::util::random_u64() % total;
                group
                    .iter()
                    .position(|r| {
                        let w = u64::from(r.weight);
                        if pick < w {
                            return true;
                        }
                        pick -= w;
                        false
                    })
                    .unwrap_or(0)
            };
            out.push(group.remove(idx));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_addresses_default_to_udp_port_53() {
        let a = parse_addr("8.8.8.8").unwrap();
        assert_eq!((a.tcp, a.host.as_str(), a.port), (false, "8.8.8.8", 53));
        let a = parse_addr("tcp/[::1]:5353").unwrap();
        assert_eq!((a.tcp, a.host.as_str(), a.port), (true, "::1", 5353));
        let a = parse_addr("2001:db8::1").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("2001:db8::1", 53));
        assert!(parse_addr("unix//tmp/x").is_err());
        assert!(parse_addr("1.2.3.4:x").is_err());
    }

    #[test]
    fn srv_records_are_ordered_by_priority() {
        let r = |t: &str, priority, weight| Srv {
            target: t.into(),
            port: 1,
            priority,
            weight,
        };
        for _ in 0..20 {
            let got = order_srv(vec![r("c", 20, 5), r("a", 10, 0), r("b", 10, 7)]);
            assert_eq!(got[2].target, "c");
            // RFC 2782: a weight-0 record comes after weighted ones.
            assert_eq!(got[0].target, "b");
        }
    }
}
