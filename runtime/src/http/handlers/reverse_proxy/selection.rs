//! Selection policies (`http.reverse_proxy.selection_policies.*`): random,
//! random_choose, first, round_robin, weighted_round_robin, least_conn,
//! ip_hash, client_ip_hash, uri_hash, query, header and cookie (sticky,
//! HMAC-SHA256 of the upstream address with the configured secret).
//! Hashing policies use rendezvous hashing, as Caddy does, so a change in
//! the upstream list moves few clients. Every policy skips unavailable
//! upstreams (unhealthy, or at `max_requests`).

use super::upstreams::Upstream;
use crate::error::Error;
use crate::http::replacer::query_pairs;
use crate::http::Cx;
use crate::registry::Provision;
use crate::util::random_u64;
use http::header::{HeaderName, HeaderValue, SET_COOKIE};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A provisioned policy.
pub enum Policy {
    Random,
    RandomChoose(usize),
    First,
    RoundRobin(AtomicUsize),
    Weighted {
        weights: Vec<usize>,
        total: usize,
        next: AtomicUsize,
    },
    LeastConn,
    IpHash,
    ClientIpHash,
    UriHash,
    Query {
        key: String,
        fallback: Box<Policy>,
    },
    Header {
        field: HeaderName,
        fallback: Box<Policy>,
    },
    Cookie {
        name: String,
        secret: String,
        max_age: Option<u64>,
        fallback: Box<Policy>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyConfig {
    #[allow(dead_code)]
    policy: String,
    choose: Option<usize>,
    #[serde(default)]
    weights: Vec<i64>,
    key: Option<String>,
    field: Option<String>,
    name: Option<String>,
    secret: Option<String>,
    max_age: Option<crate::config::CaddyDuration>,
    fallback: Option<Map<String, Value>>,
}

impl Policy {
    /// Provisions a `selection_policy` object at `path`.
    pub fn provision(
        obj: &Map<String, Value>,
        p: &Provision<'_>,
        path: &str,
    ) -> Result<Self, Error> {
        let (name, _) =
            p.module_name(obj, "policy", "http.reverse_proxy.selection_policies", path)?;
        let c: PolicyConfig = p.decode(&Value::Object(obj.clone()), path)?;
        only_fields(obj, name, path)?;
        let fallback = || -> Result<Box<Policy>, Error> {
            Ok(Box::new(match &c.fallback {
                Some(f) => Policy::provision(f, p, &format!("{path}.fallback"))?,
                None => Policy::Random,
            }))
        };
        Ok(match name {
            "random" => Policy::Random,
            "random_choose" => {
                let n = c.choose.unwrap_or(2);
                if n < 2 {
                    return Err(Error::config(
                        format!("{path}.choose"),
                        "choose must be at least 2",
                    ));
                }
                Policy::RandomChoose(n)
            }
            "first" => Policy::First,
            "round_robin" => Policy::RoundRobin(AtomicUsize::new(0)),
            "weighted_round_robin" => provision_weighted(&c.weights, path)?,
            "least_conn" => Policy::LeastConn,
            "ip_hash" => Policy::IpHash,
            "client_ip_hash" => Policy::ClientIpHash,
            "uri_hash" => Policy::UriHash,
            "query" => {
                Policy::Query {
                    key: c.key.clone().filter(|k| !k.is_empty()).ok_or_else(|| {
                        Error::config(format!("{path}.key"), "query key is required")
                    })?,
                    fallback: fallback()?,
                }
            }
            "header" => {
                let f = c.field.clone().filter(|k| !k.is_empty()).ok_or_else(|| {
                    Error::config(format!("{path}.field"), "header field is required")
                })?;
                Policy::Header {
                    field: HeaderName::from_bytes(f.as_bytes())
                        .map_err(|e| Error::config(format!("{path}.field"), e))?,
                    fallback: fallback()?,
                }
            }
            "cookie" => Policy::Cookie {
                name: c
                    .name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "lb".into()),
                secret: c.secret.clone().unwrap_or_default(),
                max_age: c.max_age.map(|d| d.0.as_secs()).filter(|s| *s > 0),
                fallback: fallback()?,
            },
            other => {
                return Err(Error::UnknownModule {
                    path: format!("{path}.policy"),
                    id: format!("http.reverse_proxy.selection_policies.{other}"),
                })
            }
        })
    }

    /// Chooses an available upstream for the request.
    pub fn select<'u>(&self, pool: &'u [Upstream], cx: &mut Cx<'_>) -> Option<&'u Upstream> {
        match self {
            Policy::Random => random(pool),
            Policy::RandomChoose(k) => random_choose(pool, *k),
            Policy::First => pool.iter().find(|u| u.available()),
            Policy::RoundRobin(n) => (0..pool.len()).find_map(|_| {
                let u = &pool[n.fetch_add(1, Ordering::Relaxed).wrapping_add(1) % pool.len()];
                u.available().then_some(u)
            }),
            Policy::Weighted {
                weights,
                total,
                next,
            } => weighted(pool, weights, *total, next),
            Policy::LeastConn => least_conn(pool),
            Policy::IpHash => by_hash(pool, &cx.remote_ip().to_string()),
            Policy::ClientIpHash => by_hash(pool, &cx.client_ip().to_string()),
            Policy::UriHash => {
                let uri = cx
                    .parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                by_hash(pool, &uri)
            }
            Policy::Query { key, fallback } => {
                let vals: Vec<String> = query_pairs(cx.query())
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| v.into_owned())
                    .collect();
                let joined = vals.join(",");
                if joined.is_empty() {
                    fallback.select(pool, cx)
                } else {
                    by_hash(pool, &joined)
                }
            }
            Policy::Header { field, fallback } => {
                let val = if field == http::header::HOST {
                    cx.hostport().to_string()
                } else {
                    cx.parts
                        .headers
                        .get(field)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                if val.is_empty() {
                    fallback.select(pool, cx)
                } else {
                    by_hash(pool, &val)
                }
            }
            Policy::Cookie {
                name,
                secret,
                max_age,
                fallback,
            } => {
                if let Some(v) = cookie(cx, name) {
                    if let Some(u) = pool
                        .iter()
                        .find(|u| u.available() && hmac_hex(secret, &u.key) == v)
                    {
                        return Some(u);
                    }
                }
                let u = fallback.select(pool, cx)?;
                set_cookie(cx, name, &hmac_hex(secret, &u.key), *max_age);
                Some(u)
            }
        }
    }
}

/// Rejects fields that policy `name` does not take.
fn only_fields(obj: &Map<String, Value>, name: &str, path: &str) -> Result<(), Error> {
    let allowed: &[&str] = match name {
        "random_choose" => &["choose"],
        "weighted_round_robin" => &["weights"],
        "query" => &["key", "fallback"],
        "header" => &["field", "fallback"],
        "cookie" => &["name", "secret", "max_age", "fallback"],
        _ => &[],
    };
    match obj
        .keys()
        .find(|k| *k != "policy" && !allowed.contains(&k.as_str()))
    {
        Some(k) => Err(Error::config(
            format!("{path}.{k}"),
            format!("unknown field for policy {name}"),
        )),
        None => Ok(()),
    }
}

/// `weighted_round_robin` with its `weights`.
fn provision_weighted(weights: &[i64], path: &str) -> Result<Policy, Error> {
    let err = |m: &str| Error::config(format!("{path}.weights"), m);
    if weights.iter().any(|w| *w < 0) {
        return Err(err("weight of an upstream cannot be negative"));
    }
    let weights: Vec<usize> = weights.iter().map(|w| *w as usize).collect();
    let total = weights.iter().sum();
    if total == 0 {
        return Err(err(
            "weighted_round_robin requires at least one upstream with a positive weight",
        ));
    }
    Ok(Policy::Weighted {
        weights,
        total,
        next: AtomicUsize::new(0),
    })
}

fn random(pool: &[Upstream]) -> Option<&Upstream> {
    let mut chosen = None;
    let mut count = 0u64;
    for u in pool.iter().filter(|u| u.available()) {
        count += 1;
        if random_u64().is_multiple_of(count) {
            chosen = Some(u);
        }
    }
    chosen
}

fn random_choose(pool: &[Upstream], k: usize) -> Option<&Upstream> {
    let mut choices: Vec<&Upstream> = Vec::with_capacity(k.min(pool.len()));
    let mut seen = 0u64;
    for u in pool.iter().filter(|u| u.available()) {
        seen += 1;
        if choices.len() < k {
            choices.push(u);
        } else {
            let j = (random_u64() % seen) as usize;
            if j < k {
                choices[j] = u;
            }
        }
    }
    least_conn_of(choices.into_iter())
}

fn least_conn(pool: &[Upstream]) -> Option<&Upstream> {
    least_conn_of(pool.iter().filter(|u| u.available()))
}

/// The upstream with the fewest requests in flight; ties broken at random.
fn least_conn_of<'u>(it: impl Iterator<Item = &'u Upstream>) -> Option<&'u Upstream> {
    let (mut best, mut least, mut ties) = (None, usize::MAX, 0u64);
    for u in it {
        let n = u.host.num_requests();
        if n < least {
            (best, least, ties) = (Some(u), n, 1);
        } else if n == least {
            ties += 1;
            if random_u64().is_multiple_of(ties) {
                best = Some(u);
            }
        }
    }
    best
}

fn weighted<'u>(
    pool: &'u [Upstream],
    weights: &[usize],
    total: usize,
    next: &AtomicUsize,
) -> Option<&'u Upstream> {
    if pool.is_empty() {
        return None;
    }
    if weights.len() < 2 {
        return Some(&pool[0]);
    }
    let current = next.fetch_add(1, Ordering::Relaxed).wrapping_add(1) % total;
    let (mut acc, mut index) = (0, 0);
    for (i, w) in weights.iter().filter(|w| **w > 0).enumerate() {
        acc += w;
        if current < acc {
            index = i;
            break;
        }
    }
    let eligible: Vec<&Upstream> = pool
        .iter()
        .zip(weights.iter().chain(std::iter::repeat(&0)))
        .filter(|(u, w)| **w > 0 && u.available())
        .map(|(u, _)| u)
        .collect();
    (!eligible.is_empty()).then(|| eligible[index % eligible.len()])
}

/// Rendezvous hashing, as Caddy's `hostByHashing`: the available upstream
/// whose XXH64 of its address followed by `key` is highest (the first of
/// equals), so bellhop and Caddy instances send a key to the same upstream.
fn by_hash<'u>(pool: &'u [Upstream], key: &str) -> Option<&'u Upstream> {
    let mut best: (u64, Option<&Upstream>) = (0, None);
    for u in pool.iter().filter(|u| u.available()) {
        let mut h = xxhash_rust::xxh64::Xxh64::new(0);
        h.update(u.key.as_bytes());
        h.update(key.as_bytes());
        let h = h.digest();
        if h > best.0 {
            best = (h, Some(u));
        }
    }
    best.1
}

/// HMAC-SHA256 of `data` keyed by `secret`, in lowercase hex.
pub fn hmac_hex(secret: &str, data: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, data.as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn cookie<'c>(cx: &'c Cx<'_>, name: &str) -> Option<&'c str> {
    crate::http::context::cookie(&cx.parts.headers, name)
}

fn set_cookie(cx: &mut Cx<'_>, name: &str, value: &str, max_age: Option<u64>) {
    let trusted_https = cx.server.trusts(cx.conn)
        && cx
            .parts
            .headers
            .get_all("x-forwarded-proto")
            .iter()
            .next_back()
            .is_some_and(|v| v == "https");
    let secure = cx.conn.tls || trusted_https;
    let mut c = format!("{name}={value}; Path=/");
    if let Some(s) = max_age {
        c.push_str(&format!("; Max-Age={s}"));
    }
    c.push_str("; HttpOnly");
    c.push_str(if secure {
        "; Secure; SameSite=None"
    } else {
        "; SameSite=Lax"
    });
    if let Ok(v) = HeaderValue::from_str(&c) {
        cx.resp_headers.append(SET_COOKIE, v);
    }
}
