//! Dynamic upstreams (`http.reverse_proxy.upstreams.*`), as Caddy's:
//!
//! - `a`: A/AAAA lookups of `name` (placeholders allowed) for `versions`,
//!   each address dialed at `port` (default 80);
//! - `srv`: an SRV lookup of `_service._proto.name` (or of `name` alone),
//!   each record dialed at its target and port, ordered by priority and
//!   weight; with `grace_period`, a failed lookup keeps serving the last
//!   answer (stale) for that long before trying again;
//! - `multi`: its sources in order, concatenated, failing ones skipped
//!   (and logged).
//!
//! Answers are cached process-wide by the looked-up name for `refresh`
//! (default 1m), as Caddy caches them, so a config reload keeps them. A
//! `resolver` sends the queries to the given DNS servers (see
//! [`super::resolver`]); without one, `a` uses the system's lookup
//! (hosts file included) and `srv` the system's name servers.

use super::resolver::{order_srv, DnsResolver, Family};
use super::respond::Shared;
use super::upstreams::Upstream;
use crate::config::CaddyDuration;
use crate::error::Error;
use crate::http::replacer::Template;
use crate::http::Cx;
use crate::registry::Provision;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AConfig {
    #[allow(dead_code)]
    source: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    port: String,
    refresh: Option<CaddyDuration>,
    resolver: Option<Value>,
    dial_timeout: Option<CaddyDuration>,
    dial_fallback_delay: Option<super::config::SignedDuration>,
    versions: Option<Versions>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SrvConfig {
    #[allow(dead_code)]
    source: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    proto: String,
    #[serde(default)]
    name: String,
    refresh: Option<CaddyDuration>,
    grace_period: Option<CaddyDuration>,
    resolver: Option<Value>,
    dial_timeout: Option<CaddyDuration>,
    dial_fallback_delay: Option<super::config::SignedDuration>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct Versions {
    ipv4: Option<bool>,
    ipv6: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MultiConfig {
    #[allow(dead_code)]
    source: String,
    #[serde(default)]
    sources: Vec<Map<String, Value>>,
}

/// An `a` source.
pub struct ASource {
    name: Template,
    port: Template,
    refresh: Duration,
    family: Family,
    /// A custom resolver; `None` is the system's lookup.
    resolver: Option<Arc<DnsResolver>>,
    /// Bound on one lookup (`dial_timeout`).
    timeout: Option<Duration>,
}

/// An `srv` source.
pub struct SrvSource {
    /// Whether `service` or `proto` is set (else `name` is the domain).
    labels: bool,
    service: Template,
    proto: Template,
    name: Template,
    refresh: Duration,
    grace: Duration,
    resolver: Arc<DnsResolver>,
}

/// A provisioned upstream source.
pub enum Source {
    A(ASource),
    Srv(SrvSource),
    Multi(Vec<Source>),
}

fn nonzero(d: Option<CaddyDuration>) -> Option<Duration> {
    d.map(|d| d.0).filter(|d| !d.is_zero())
}

fn resolver(
    v: &Option<Value>,
    timeout: Option<Duration>,
    family: Family,
    path: &str,
) -> Result<Option<Arc<DnsResolver>>, Error> {
    v.as_ref()
        .map(|v| DnsResolver::provision(v, timeout, family, &format!("{path}.resolver")))
        .transpose()
}

impl Source {
    /// Provisions a `dynamic_upstreams` object at `path`.
    pub fn provision(
        obj: &Map<String, Value>,
        p: &Provision<'_>,
        path: &str,
    ) -> Result<Self, Error> {
        let (name, _) = p.module_name(obj, "source", "http.reverse_proxy.upstreams", path)?;
        let v = Value::Object(obj.clone());
        match name {
            "a" => Ok(Source::A(provision_a(p.decode(&v, path)?, path)?)),
            "srv" => Ok(Source::Srv(provision_srv(p.decode(&v, path)?, path)?)),
            "multi" => {
                let c: MultiConfig = p.decode(&v, path)?;
                let mut out = Vec::new();
                for (i, s) in c.sources.iter().enumerate() {
                    out.push(Source::provision(s, p, &format!("{path}.sources[{i}]"))?);
                }
                Ok(Source::Multi(out))
            }
            other => Err(Error::UnknownModule {
                path: format!("{path}.source"),
                id: format!("http.reverse_proxy.upstreams.{other}"),
            }),
        }
    }

    /// The upstreams for this request.
    pub async fn upstreams(&self, cx: &Cx<'_>, shared: &Shared) -> Result<Vec<Upstream>, String> {
        let mut dials = Vec::new();
        self.collect(cx, &mut dials).await?;
        let max_fails = shared.passive.as_ref().map_or(0, |_| shared.max_fails);
        let mut out = Vec::new();
        for d in dials {
            out.extend(
                Upstream::provision(&d, 0, max_fails, &Default::default(), "dynamic_upstreams")
                    .map_err(|e| e.to_string())?,
            );
        }
        for u in &mut out {
            u.own_pool = false;
            u.host = super::upstreams::dynamic_host_for(&u.key);
        }
        Ok(out)
    }

    fn collect<'a>(
        &'a self,
        cx: &'a Cx<'_>,
        out: &'a mut Vec<String>,
    ) -> crate::http::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            match self {
                Source::A(a) => out.extend(a.dials(cx).await?),
                Source::Srv(s) => out.extend(s.dials(cx).await?),
                Source::Multi(srcs) => {
                    for (i, s) in srcs.iter().enumerate() {
                        let before = out.len();
                        match s.collect(cx, out).await {
                            Err(e) => {
                                tracing::error!(source_idx = i, error = %e, "upstream source returned error")
                            }
                            Ok(()) if out.len() == before => {
                                tracing::warn!(
                                    source_idx = i,
                                    "upstream source returned 0 upstreams"
                                )
                            }
                            Ok(()) => {}
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

fn provision_a(c: AConfig, path: &str) -> Result<ASource, Error> {
    // Caddy's `resolveIpVersion`: nothing chosen means both.
    let family = match c.versions {
        Some(Versions {
            ipv4: Some(true),
            ipv6: None | Some(false),
        }) => Family::V4,
        Some(Versions {
            ipv4: None | Some(false),
            ipv6: Some(true),
        }) => Family::V6,
        _ => Family::Both,
    };
    let _accepted = c.dial_fallback_delay; // see `resolver`'s module doc
    let timeout = nonzero(c.dial_timeout);
    Ok(ASource {
        name: Template::parse(&c.name),
        port: Template::parse(if c.port.is_empty() { "80" } else { &c.port }),
        refresh: nonzero(c.refresh).unwrap_or(Duration::from_secs(60)),
        family,
        resolver: resolver(&c.resolver, timeout, family, path)?,
        timeout,
    })
}

fn provision_srv(c: SrvConfig, path: &str) -> Result<SrvSource, Error> {
    let _accepted = c.dial_fallback_delay;
    let timeout = nonzero(c.dial_timeout);
    Ok(SrvSource {
        labels: !c.service.is_empty() || !c.proto.is_empty(),
        service: Template::parse(&c.service),
        proto: Template::parse(&c.proto),
        name: Template::parse(&c.name),
        refresh: nonzero(c.refresh).unwrap_or(Duration::from_secs(60)),
        grace: nonzero(c.grace_period).unwrap_or(Duration::ZERO),
        resolver: resolver(&c.resolver, timeout, Family::Both, path)?
            .unwrap_or_else(DnsResolver::system),
    })
}

impl ASource {
    async fn dials(&self, cx: &Cx<'_>) -> Result<Vec<String>, String> {
        let (name, port) = (self.name.render(cx), self.port.render(cx));
        let key = format!("a {name}:{port} {:?}", self.family);
        if let Some(hit) = cached(&key) {
            return Ok(hit);
        }
        let p: u16 = port.parse().map_err(|_| format!("invalid port {port:?}"))?;
        let lookup = async {
            match &self.resolver {
                Some(r) => r.lookup_ip(&name).await,
                None => system_lookup(&name, self.family).await,
            }
        };
        let ips = match self.timeout {
            Some(t) => tokio::time::timeout(t, lookup)
                .await
                .map_err(|_| format!("looking up {name}: timed out"))??,
            None => lookup.await?,
        };
        let dials: Vec<String> = ips
            .into_iter()
            .map(|ip| std::net::SocketAddr::new(ip, p).to_string())
            .collect();
        store(key, Instant::now() + self.refresh, &dials);
        Ok(dials)
    }
}

async fn system_lookup(name: &str, family: Family) -> Result<Vec<std::net::IpAddr>, String> {
    let addrs = tokio::net::lookup_host((name, 0))
        .await
        .map_err(|e| format!("looking up {name}: {e}"))?;
    let mut ips: Vec<_> = addrs
        .map(|a| a.ip())
        .filter(|ip| match family {
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
            Family::Both => true,
        })
        .collect();
    ips.dedup();
    Ok(ips)
}

impl SrvSource {
    async fn dials(&self, cx: &Cx<'_>) -> Result<Vec<String>, String> {
        let name = self.name.render(cx);
        let domain = if !self.labels {
            name.into_owned()
        } else {
            format!(
                "_{}._{}.{name}",
                self.service.render(cx),
                self.proto.render(cx)
            )
        };
        let key = format!("srv {domain}");
        if let Some(hit) = cached(&key) {
            return Ok(hit);
        }
        match self.resolver.lookup_srv(&domain).await {
            Ok(recs) => {
                let dials: Vec<String> = order_srv(recs)
                    .into_iter()
                    .map(|r| super::upstreams::join_host_port(&r.target, r.port))
                    .collect();
                store(key, Instant::now() + self.refresh, &dials);
                Ok(dials)
            }
            Err(e) if !self.grace.is_zero() => {
                // Serve the last answer (possibly none) for the grace
                // period, then look up again.
                tracing::error!(error = %e, "SRV lookup failed; using previously cached");
                let stale = stale(&key);
                store(key, Instant::now() + self.grace, &stale);
                Ok(stale)
            }
            Err(e) => Err(e),
        }
    }
}

struct Entry {
    fresh_until: Instant,
    dials: Vec<String>,
}

type Cache = Mutex<HashMap<String, Entry>>;

fn cache() -> &'static Cache {
    static C: OnceLock<Cache> = OnceLock::new();
    C.get_or_init(Default::default)
}

fn cached(key: &str) -> Option<Vec<String>> {
    let c = cache().lock().unwrap_or_else(|e| e.into_inner());
    c.get(key)
        .filter(|e| Instant::now() < e.fresh_until)
        .map(|e| e.dials.clone())
}

fn stale(key: &str) -> Vec<String> {
    let c = cache().lock().unwrap_or_else(|e| e.into_inner());
    c.get(key).map(|e| e.dials.clone()).unwrap_or_default()
}

/// Caches `dials` under `key`; as Caddy's, the cache holds at most 100
/// names and makes room by dropping an arbitrary one.
fn store(key: String, fresh_until: Instant, dials: &[String]) {
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= 100 && !c.contains_key(&key) {
        if let Some(k) = c.keys().next().cloned() {
            c.remove(&k);
        }
    }
    c.insert(
        key,
        Entry {
            fresh_until,
            dials: dials.to_vec(),
        },
    );
}
