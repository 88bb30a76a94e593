//! Dynamic upstreams (`http.reverse_proxy.upstreams.*`): `a` resolves a
//! name (placeholders allowed) to A/AAAA records with the system resolver
//! and caches the answer for `refresh`; `multi` concatenates its sources,
//! skipping failing ones. `srv` needs a DNS client bellhop does not have
//! yet and is rejected at provisioning.

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
use std::sync::{Mutex, OnceLock};
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

/// A provisioned upstream source.
pub enum Source {
    A {
        name: Template,
        port: Template,
        refresh: Duration,
        v4: bool,
        v6: bool,
        /// Bound on one lookup (`dial_timeout`).
        timeout: Option<Duration>,
    },
    Multi(Vec<Source>),
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
            "a" => {
                let c: AConfig = p.decode(&v, path)?;
                if c.resolver.is_some() {
                    return Err(Error::config(
                        format!("{path}.resolver"),
                        "not implemented by bellhop yet",
                    ));
                }
                // Caddy gives `dial_timeout` and `dial_fallback_delay` to
                // the dialer of a custom `resolver`; with the system
                // resolver bellhop bounds each lookup by `dial_timeout`,
                // and a fallback delay has no second address family to
                // race (Caddy ignores both without `resolver` too).
                let _parity = c.dial_fallback_delay;
                let (v4, v6) = match c.versions {
                    Some(Versions {
                        ipv4: None,
                        ipv6: None,
                    })
                    | None => (true, true),
                    Some(v) => (v.ipv4.unwrap_or(false), v.ipv6.unwrap_or(false)),
                };
                Ok(Source::A {
                    name: Template::parse(&c.name),
                    port: Template::parse(if c.port.is_empty() { "80" } else { &c.port }),
                    refresh: c
                        .refresh
                        .map(|d| d.0)
                        .filter(|d| !d.is_zero())
                        .unwrap_or(Duration::from_secs(60)),
                    v4,
                    v6,
                    timeout: c.dial_timeout.map(|d| d.0).filter(|d| !d.is_zero()),
                })
            }
            "multi" => {
                let c: MultiConfig = p.decode(&v, path)?;
                let mut out = Vec::new();
                for (i, s) in c.sources.iter().enumerate() {
                    out.push(Source::provision(s, p, &format!("{path}.sources[{i}]"))?);
                }
                Ok(Source::Multi(out))
            }
            "srv" => Err(Error::config(
                path,
                "dynamic upstreams `srv` (DNS SRV lookups): not implemented by bellhop yet",
            )),
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
                Source::A {
                    name,
                    port,
                    refresh,
                    v4,
                    v6,
                    timeout,
                } => {
                    let (name, port) = (name.render(cx).into_owned(), port.render(cx).into_owned());
                    let lookup = lookup_a(&name, &port, *refresh, (*v4, *v6));
                    out.extend(match timeout {
                        Some(t) => tokio::time::timeout(*t, lookup)
                            .await
                            .map_err(|_| format!("looking up {name}: timed out"))??,
                        None => lookup.await?,
                    });
                }
                Source::Multi(srcs) => {
                    for (i, s) in srcs.iter().enumerate() {
                        if let Err(e) = s.collect(cx, out).await {
                            tracing::error!(source_idx = i, error = %e, "upstream source returned error");
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

type Cache = Mutex<HashMap<String, (Instant, Vec<String>)>>;

fn cache() -> &'static Cache {
    static C: OnceLock<Cache> = OnceLock::new();
    C.get_or_init(Default::default)
}

async fn lookup_a(
    name: &str,
    port: &str,
    refresh: Duration,
    (v4, v6): (bool, bool),
) -> Result<Vec<String>, String> {
    let key = format!("{name}:{port}:{v4}{v6}");
    if let Some((at, v)) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        if at.elapsed() < refresh {
            return Ok(v.clone());
        }
    }
    let p: u16 = port.parse().map_err(|_| format!("invalid port {port:?}"))?;
    let addrs = tokio::net::lookup_host((name, p))
        .await
        .map_err(|e| format!("looking up {name}: {e}"))?;
    let mut dials: Vec<String> = addrs
        .filter(|a| (a.is_ipv4() && v4) || (a.is_ipv6() && v6))
        .map(|a| a.to_string())
        .collect();
    dials.dedup();
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= 100 && !c.contains_key(&key) {
        if let Some(k) = c.keys().next().cloned() {
            c.remove(&k);
        }
    }
    c.insert(key, (Instant::now(), dials.clone()));
    Ok(dials)
}
