//! The certificate cache: every certificate loaded or managed by the `tls`
//! app, indexed by name for the handshake.
//!
//! Handshakes read an immutable index through an atomic pointer (no lock
//! on the hot path); loading, issuing and renewing rebuild the index whole.
//! Lookup follows certmagic: the exact name, then the name with its
//! left-most label replaced by `*`.

use super::der::{self, CertFacts};
use arc_swap::ArcSwap;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One certificate with its key and what was read from it.
#[derive(Debug)]
pub struct Cert {
    pub key: Arc<CertifiedKey>,
    pub facts: CertFacts,
    /// The names it is for (lower case; SANs, else the CN).
    pub names: Vec<String>,
    pub tags: Vec<String>,
    /// The issuer that manages it (`None`: loaded by the user).
    pub managed_by: Option<String>,
    /// The PEM it was made from (chain, key), for storage.
    pub pem: Option<(String, String)>,
    /// The OCSP response stapled to its handshakes (`tls/ocsp.rs`).
    pub staple: Option<super::ocsp::Staple>,
    /// Whether it can be stapled at all (its responder and issuer are
    /// known), worked out once.
    pub stapleable: std::sync::OnceLock<bool>,
}

impl Cert {
    /// Builds a certificate from a DER chain and key.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        tags: Vec<String>,
    ) -> Result<Cert, String> {
        let leaf = chain.first().ok_or("no certificate in the chain")?;
        let facts = der::parse(leaf).ok_or("malformed certificate")?;
        let signing = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|e| format!("unsupported private key: {e}"))?;
        let names = facts.names();
        let key = Arc::new(CertifiedKey::new(chain, signing));
        key.keys_match()
            .map_err(|e| format!("certificate and key do not match: {e}"))?;
        Ok(Cert {
            key,
            facts,
            names,
            tags,
            managed_by: None,
            pem: None,
            staple: None,
            stapleable: std::sync::OnceLock::new(),
        })
    }

    /// This certificate with `staple` sent in its handshakes.
    pub fn with_staple(&self, staple: super::ocsp::Staple) -> Cert {
        let key = CertifiedKey {
            cert: self.key.cert.clone(),
            key: self.key.key.clone(),
            ocsp: Some(staple.der.clone()),
        };
        Cert {
            key: Arc::new(key),
            facts: self.facts.clone(),
            names: self.names.clone(),
            tags: self.tags.clone(),
            managed_by: self.managed_by.clone(),
            pem: self.pem.clone(),
            staple: Some(staple),
            stapleable: std::sync::OnceLock::from(true),
        }
    }

    /// Builds a certificate from PEM text (chain, key).
    pub fn from_pem(chain_pem: &str, key_pem: &str, tags: Vec<String>) -> Result<Cert, String> {
        let (chain, key) = super::load::parse_pem_pair(chain_pem, key_pem)?;
        let mut c = Cert::new(chain, key, tags)?;
        c.pem = Some((chain_pem.to_string(), key_pem.to_string()));
        Ok(c)
    }

    /// Whether the certificate is still valid `margin_secs` from now.
    pub fn valid_for(&self, margin_secs: i64) -> bool {
        self.facts.not_after > der::now() + margin_secs
    }

    /// Whether the certificate is in its renewal window: less than `ratio`
    /// of its lifetime remains.
    pub fn needs_renewal(&self, ratio: f64) -> bool {
        let life = (self.facts.not_after - self.facts.not_before).max(1) as f64;
        let left = (self.facts.not_after - der::now()) as f64;
        left < life * ratio
    }
}

type Index = HashMap<String, Vec<Arc<Cert>>>;

/// Removes a managed certificate picked at random (none when all were
/// loaded by the user).
fn evict_one(all: &mut Vec<Arc<Cert>>) {
    use rand_core::RngCore as _;
    let n = all.len();
    let start = (rand_core::OsRng.next_u64() % n.max(1) as u64) as usize;
    if let Some(i) = (start..n)
        .chain(0..start)
        .find(|i| all[*i].managed_by.is_some())
    {
        let gone = all.remove(i);
        tracing::debug!(names = ?gone.names, "certificate cache at capacity: evicted one");
    }
}

/// All certificates of a `tls` app.
#[derive(Default)]
pub struct CertCache {
    /// `apps.tls.cache.capacity` (0: no limit).
    capacity: usize,
    all: Mutex<Vec<Arc<Cert>>>,
    index: ArcSwap<Index>,
    /// Woken when a certificate is added (OCSP stapling staples it).
    pub added: tokio::sync::Notify,
}

impl CertCache {
    /// A cache holding at most `capacity` certificates (0: no limit).
    pub fn with_capacity(capacity: usize) -> Self {
        CertCache {
            capacity,
            ..Default::default()
        }
    }

    /// Adds a certificate; a managed one replaces the certificate the same
    /// issuer manages for the same names. At capacity, a managed
    /// certificate chosen at random makes room (certmagic's eviction; one
    /// the user loaded is never evicted, and on-demand names load theirs
    /// again from storage at their next handshake).
    pub fn insert(&self, cert: Arc<Cert>) {
        let mut all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        if cert.managed_by.is_some() {
            all.retain(|c| !(c.managed_by == cert.managed_by && c.names == cert.names));
        }
        if self.capacity > 0 && all.len() >= self.capacity {
            evict_one(&mut all);
        }
        all.push(cert);
        self.reindex(&all);
        self.added.notify_one();
    }

    /// Puts `new` where `old` is (a stapled copy); nothing when `old` was
    /// replaced meanwhile (renewed).
    pub fn replace(&self, old: &Arc<Cert>, new: Arc<Cert>) {
        let mut all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = all.iter_mut().find(|c| Arc::ptr_eq(c, old)) {
            *slot = new;
            self.reindex(&all);
        }
    }

    /// How many certificates the cache holds.
    pub fn len(&self) -> usize {
        self.all.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn reindex(&self, all: &[Arc<Cert>]) {
        let mut index: Index = HashMap::new();
        for c in all.iter().rev() {
            for n in &c.names {
                index.entry(n.clone()).or_default().push(c.clone());
            }
        }
        self.index.store(Arc::new(index));
    }

    /// Every certificate, in insertion order.
    pub fn all(&self) -> Vec<Arc<Cert>> {
        self.all.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Certificates whose names include `name` exactly.
    pub fn exact(&self, name: &str) -> Vec<Arc<Cert>> {
        self.index.load().get(name).cloned().unwrap_or_default()
    }

    /// Whether any certificate matches `name` (exactly or by wildcard).
    pub fn has_match(&self, name: &str) -> bool {
        self.lookup(name, |_| true).is_some()
    }

    /// The newest certificate for `name` that `accept` allows: exact match
    /// first, then the wildcard one level up.
    pub fn lookup(&self, name: &str, accept: impl Fn(&Cert) -> bool) -> Option<Arc<Cert>> {
        let index = self.index.load();
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        let pick = |key: &str| index.get(key)?.iter().find(|c| accept(c)).cloned();
        if let Some(c) = pick(name) {
            return Some(c);
        }
        let (_, parent) = name.split_once('.')?;
        pick(&format!("*.{parent}"))
    }

    /// Any certificate `accept` allows (the last resort without SNI).
    pub fn any(&self, accept: impl Fn(&Cert) -> bool) -> Option<Arc<Cert>> {
        let all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().rev().find(|c| accept(c)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(names: &[&str], tags: &[&str]) -> Arc<Cert> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let key = rcgen::KeyPair::generate().unwrap();
        let c = rcgen::CertificateParams::new(names)
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let tags = tags.iter().map(|s| s.to_string()).collect();
        Arc::new(Cert::new(vec![c.der().clone()], key, tags).unwrap())
    }

    fn managed(name: &str) -> Arc<Cert> {
        let mut c = Arc::try_unwrap(cert(&[name], &[])).ok().unwrap();
        c.managed_by = Some("internal".into());
        Arc::new(c)
    }

    #[test]
    fn at_capacity_a_managed_certificate_makes_room_and_loaded_ones_stay() {
        let cache = CertCache::with_capacity(3);
        cache.insert(cert(&["loaded.test"], &[]));
        for n in ["a.test", "b.test", "c.test", "d.test"] {
            cache.insert(managed(n));
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.has_match("d.test"), "the newest is in");
        assert!(
            cache.has_match("loaded.test"),
            "a loaded certificate is never evicted"
        );
        let managed_left = ["a.test", "b.test", "c.test"]
            .iter()
            .filter(|n| cache.has_match(n))
            .count();
        assert_eq!(managed_left, 1);
        // Only loaded certificates: nothing to evict, the cache grows.
        let full = CertCache::with_capacity(1);
        full.insert(cert(&["x.test"], &[]));
        full.insert(cert(&["y.test"], &[]));
        assert_eq!(full.len(), 2);
        // No capacity: no limit.
        let open = CertCache::default();
        for n in ["a.test", "b.test", "c.test"] {
            open.insert(managed(n));
        }
        assert_eq!(open.len(), 3);
    }

    #[test]
    fn exact_then_wildcard_then_filter() {
        let cache = CertCache::default();
        cache.insert(cert(&["*.example.com"], &["wild"]));
        cache.insert(cert(&["a.example.com"], &["a"]));
        let hit = |n: &str| cache.lookup(n, |_| true).map(|c| c.tags[0].clone());
        assert_eq!(hit("a.example.com").as_deref(), Some("a"));
        assert_eq!(hit("A.Example.com").as_deref(), Some("a"));
        assert_eq!(hit("b.example.com").as_deref(), Some("wild"));
        assert_eq!(hit("x.b.example.com"), None);
        assert_eq!(hit("example.com"), None);
        let only_wild = cache.lookup("a.example.com", |c| c.tags.contains(&"wild".into()));
        assert_eq!(only_wild.unwrap().names, vec!["*.example.com"]);
        assert!(cache.has_match("zz.example.com"));
    }
}
