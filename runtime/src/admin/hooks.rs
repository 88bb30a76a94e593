//! Hooks other parts of the runtime fill for the admin API.
//!
//! Upstreams (`GET /reverse_proxy/upstreams`): upstream state outlives any
//! one config. A reverse proxy calls [`register`] for each upstream
//! address when it is provisioned and keeps the returned counters; a later
//! config naming the same address gets the same counters, so requests in
//! flight and failure counts carry over a reload. An entry disappears when
//! no config holds it any more.
//!
//! Certificate authorities (`GET /pki/ca/<id>`, `/pki/ca/<id>/certificates`)
//! belong to the TLS/PKI part of the runtime; it publishes them with
//! [`set_ca_source`]. Until one is set (or when the ID is unknown) the
//! endpoints answer 404 with a clear error.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

/// The live counters of one upstream address.
#[derive(Debug, Default)]
pub struct UpstreamCounters {
    /// Requests in flight to this upstream.
    pub num_requests: AtomicI64,
    /// Failures counted by passive health checks.
    pub fails: AtomicU64,
}

/// One upstream as the admin API reports it (Caddy's fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamStatus {
    pub address: String,
    pub num_requests: i64,
    pub fails: u64,
}

static REGISTRY: Mutex<BTreeMap<String, Weak<UpstreamCounters>>> = Mutex::new(BTreeMap::new());

/// The counters for `address`, shared with every holder of that address.
pub fn register(address: &str) -> Arc<UpstreamCounters> {
    let mut map = super::lock(&REGISTRY);
    if let Some(c) = map.get(address).and_then(Weak::upgrade) {
        return c;
    }
    let c = Arc::new(UpstreamCounters::default());
    map.insert(address.to_string(), Arc::downgrade(&c));
    map.retain(|_, w| w.strong_count() > 0);
    c
}

/// Every upstream some config holds, sorted by address.
pub fn upstreams_status() -> Vec<UpstreamStatus> {
    let map = super::lock(&REGISTRY);
    map.iter()
        .filter_map(|(address, w)| {
            let c = w.upgrade()?;
            Some(UpstreamStatus {
                address: address.clone(),
                num_requests: c.num_requests.load(Ordering::Relaxed),
                fails: c.fails.load(Ordering::Relaxed),
            })
        })
        .collect()
}

/// A certificate authority as the admin API reports it (Caddy's fields).
#[derive(Debug, Clone, Serialize)]
pub struct CaInfo {
    pub id: String,
    pub name: String,
    pub root_common_name: String,
    pub intermediate_common_name: String,
    /// PEM.
    pub root_certificate: String,
    /// PEM.
    pub intermediate_certificate: String,
}

/// Whatever knows the configured CAs.
pub trait CaSource: Send + Sync {
    /// The CA with this ID, if configured.
    fn ca(&self, id: &str) -> Option<CaInfo>;
}

static CA_SOURCE: RwLock<Option<Arc<dyn CaSource>>> = RwLock::new(None);

/// Publishes (or, with `None`, withdraws) the CA source.
pub fn set_ca_source(source: Option<Arc<dyn CaSource>>) {
    *CA_SOURCE.write().unwrap_or_else(|e| e.into_inner()) = source;
}

/// The CA with this ID, from the published source.
pub fn lookup_ca(id: &str) -> Option<CaInfo> {
    let source = CA_SOURCE.read().unwrap_or_else(|e| e.into_inner()).clone();
    source?.ca(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_by_address_and_dropped_with_the_last_holder() {
        let a = register("unit-test-a:1");
        let b = register("unit-test-a:1");
        a.fails.fetch_add(2, Ordering::Relaxed);
        assert_eq!(b.fails.load(Ordering::Relaxed), 2);
        let listed = upstreams_status();
        assert!(listed
            .iter()
            .any(|u| u.address == "unit-test-a:1" && u.fails == 2));
        drop((a, b));
        assert!(!upstreams_status()
            .iter()
            .any(|u| u.address == "unit-test-a:1"));
    }
}
