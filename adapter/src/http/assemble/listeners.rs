//! Pairing sites with listener addresses (Caddy's
//! `mapAddressToProtocolToServerBlocks` and `consolidateAddrMappings`):
//! every key of every site implies listener addresses (from its port, the
//! HTTP/HTTPS ports, `bind`/`default_bind`); a site is split per listener
//! keeping only the keys served there; listeners serving identical sites
//! become one server. Hash maps keep this linear in the number of sites.

use super::super::address::{split_host_port, Address};
use super::super::options::{Bind, Options};
use super::super::site::Site;
use super::super::value::{class, Payload};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A site as served on one listener: the site index and the indices of
/// the keys that use that listener.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteRef {
    pub site: usize,
    pub keys: Vec<usize>,
}

/// One server to be: listener addresses (with protocols) and its sites.
#[derive(Debug, Clone)]
pub struct Pairing {
    pub addresses: Vec<(String, Vec<String>)>,
    pub sites: Vec<SiteRef>,
}

type ProtoMap = BTreeMap<String, Vec<SiteRef>>;

/// Maps listener → protocol → sites, then consolidates into pairings.
pub fn pairings(sites: &[Site], opts: &Options) -> Result<Vec<Pairing>> {
    let mut by_addr: HashMap<String, ProtoMap> = HashMap::new();
    for (i, site) in sites.iter().enumerate() {
        let mut per_addr: BTreeMap<String, BTreeMap<String, Vec<usize>>> = BTreeMap::new();
        for (j, addr) in site.parsed_keys.iter().enumerate() {
            let listeners = listeners_for_key(site, addr, opts).map_err(|e| {
                Error::plain(format!(
                    "server block {i}, key {j} ({}): determining listener address: {}",
                    site.keys[j].text, e.message
                ))
            })?;
            for (lnaddr, protos) in listeners {
                let entry = per_addr.entry(lnaddr).or_default();
                if protos.is_empty() {
                    entry.entry(String::new()).or_default().push(j);
                }
                for p in protos {
                    entry.entry(p).or_default().push(j);
                }
            }
        }
        for (lnaddr, protos) in per_addr {
            let target = by_addr.entry(lnaddr).or_default();
            for (p, keys) in protos {
                target.entry(p).or_default().push(SiteRef { site: i, keys });
            }
        }
    }
    Ok(consolidate(by_addr))
}

/// Caddy's `consolidateAddrMappings`: per listener (sorted), per protocol
/// (sorted), one server for the sites there and every other (listener,
/// protocol) with the same sites, which are then taken. A protocol of the
/// current listener that an earlier protocol of it took still yields a
/// server, an empty one, as Caddy's loop does (it reads the entry after
/// deleting it); later listeners only see what is left.
fn consolidate(by_addr: HashMap<String, ProtoMap>) -> Vec<Pairing> {
    // index identical site lists so equal ones are found without a
    // quadratic scan
    let mut groups: HashMap<Vec<SiteRef>, BTreeMap<String, BTreeSet<String>>> = HashMap::new();
    let mut addrs: Vec<_> = by_addr.into_iter().collect();
    addrs.sort_by(|a, b| a.0.cmp(&b.0));
    for (addr, protos) in &addrs {
        for (proto, sites) in protos {
            let entry = groups.entry(sites.clone()).or_default();
            entry.entry(addr.clone()).or_default().insert(proto.clone());
        }
    }
    let mut taken: HashSet<(String, String)> = HashSet::new();
    let mut out = Vec::new();
    for (addr, protos) in addrs {
        let left: Vec<(String, Vec<SiteRef>)> = protos
            .into_iter()
            .filter(|(p, _)| !taken.contains(&(addr.clone(), p.clone())))
            .collect();
        for (proto, sites) in left {
            if taken.contains(&(addr.clone(), proto)) {
                out.push(Pairing {
                    addresses: Vec::new(),
                    sites: Vec::new(),
                });
                continue;
            }
            let listeners = groups.remove(&sites).unwrap_or_default();
            for (a, ps) in &listeners {
                taken.extend(ps.iter().map(|p| (a.clone(), p.clone())));
            }
            let addresses = listeners
                .into_iter()
                .map(|(a, ps)| (a, ps.into_iter().collect()))
                .collect();
            out.push(Pairing { addresses, sites });
        }
    }
    out
}

/// The listener addresses (→ protocols) one key implies (Caddy's
/// `listenersForServerBlockAddress`).
fn listeners_for_key(
    site: &Site,
    addr: &Address,
    opts: &Options,
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    match addr.scheme.as_str() {
        "wss" => {
            return Err(Error::plain(
                "the scheme wss:// is only supported in browsers; use https:// instead",
            ))
        }
        "ws" => {
            return Err(Error::plain(
                "the scheme ws:// is only supported in browsers; use http:// instead",
            ))
        }
        "https" | "http" | "" => {}
        other => return Err(Error::plain(format!("unsupported URL scheme {other}://"))),
    }
    let (http_port, https_port) = (opts.http_port(), opts.https_port());
    let port = if !addr.port.is_empty() {
        addr.port.clone()
    } else if addr.scheme == "http" {
        http_port.clone()
    } else {
        https_port.clone()
    };
    if (addr.scheme == "http" && port == https_port)
        || (addr.scheme == "https" && port == http_port)
    {
        return Err(Error::plain(format!(
            "[{}] scheme and port violate convention",
            addr.to_display()
        )));
    }
    let mut binds: Vec<Bind> = site
        .values(class::BIND)
        .iter()
        .filter_map(|v| match &v.value {
            Payload::Json(j) => Some(bind_from_json(j)),
            _ => None,
        })
        .collect();
    if binds.is_empty() {
        binds = if opts.default_bind.is_empty() {
            vec![Bind {
                addresses: vec![String::new()],
                protocols: Vec::new(),
            }]
        } else {
            opts.default_bind.clone()
        };
    }
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for b in binds {
        for a in &b.addresses {
            let ln = listener_address(a, &port);
            out.entry(ln)
                .or_default()
                .extend(b.protocols.iter().cloned());
        }
    }
    Ok(out)
}

/// A `bind` value as stored in the pile: `{"addresses": [...],
/// "protocols": [...]}`.
pub fn bind_from_json(v: &serde_json::Value) -> Bind {
    let list = |k: &str| -> Vec<String> {
        v.get(k)
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    Bind {
        addresses: list("addresses"),
        protocols: list("protocols"),
    }
}

/// Joins a bind address's network and host with the port, as Caddy's
/// `NetworkAddress.String()` prints it.
pub fn listener_address(bind: &str, port: &str) -> String {
    let (network, rest) = match bind.split_once('/') {
        Some((n, r)) => (n.trim().to_ascii_lowercase(), r),
        None => (String::new(), bind),
    };
    if is_unix_or_fd(&network) {
        return format!("{network}/{rest}");
    }
    let host = match split_host_port(rest) {
        Ok((h, _)) => h,
        Err(_) => rest.trim_matches(|c| c == '[' || c == ']').to_string(),
    };
    let hostport = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    if network.is_empty() || network == "tcp" {
        hostport
    } else {
        format!("{network}/{hostport}")
    }
}

/// Unix socket and file descriptor networks carry no port.
pub fn is_unix_or_fd(network: &str) -> bool {
    matches!(
        network,
        "unix" | "unixgram" | "unixpacket" | "fd" | "fdgram"
    )
}
