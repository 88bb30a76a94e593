//! The ACME server's objects (RFC 8555 §7.1): accounts, orders,
//! authorizations with their challenges, and issued certificates, plus the
//! nonces handed out. One store per CA and storage, kept across config
//! reloads (as Caddy keeps its CA database open across them). Accounts are
//! written to storage (`acme_server/<ca>/accounts/<id>.json`, with an index
//! by key thumbprint), so an ACME client's account outlives a restart and
//! is shared by instances sharing storage; orders, authorizations and
//! certificates live in memory until they expire (an interrupted order is
//! simply placed again). A bounded set of nonces, oldest forgotten first.

use super::jws::Jwk;
use crate::tls::storage::{safe_key, Storage};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// How long orders and authorizations stay usable (smallstep's 24 h).
pub const ORDER_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const MAX_NONCES: usize = 10_000;

/// A random URL-safe ID.
pub fn random_id() -> String {
    use rand_core::RngCore as _;
    let mut b = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut b);
    B64.encode(b)
}

/// An ACME identifier.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub jwk: Map<String, Value>,
    pub thumbprint: String,
    #[serde(default)]
    pub contact: Vec<String>,
    pub status: String,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    pub account: String,
    pub status: &'static str,
    pub expires: SystemTime,
    pub identifiers: Vec<Identifier>,
    pub authzs: Vec<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub cert: Option<String>,
    pub error: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct Challenge {
    pub id: String,
    pub kind: &'static str,
    pub token: String,
    pub status: &'static str,
    pub validated: Option<SystemTime>,
    pub error: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct Authz {
    pub id: String,
    pub account: String,
    pub identifier: Identifier,
    pub wildcard: bool,
    pub status: &'static str,
    pub expires: SystemTime,
    pub challenges: Vec<Challenge>,
}

#[derive(Clone, Debug)]
pub struct Cert {
    pub account: String,
    pub chain: String,
    pub expires: SystemTime,
}

#[derive(Default)]
struct Inner {
    nonces: HashSet<String>,
    nonce_order: VecDeque<String>,
    accounts: HashMap<String, Account>,
    orders: HashMap<String, Order>,
    authzs: HashMap<String, Authz>,
    certs: HashMap<String, Cert>,
}

/// One CA's ACME state.
pub struct Store {
    storage: Storage,
    prefix: String,
    inner: Mutex<Inner>,
}

/// The store of the CA `ca` in `storage`, shared by every config that
/// serves it.
pub fn shared(storage: &Storage, ca: &str) -> Arc<Store> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<Store>>>> = OnceLock::new();
    let prefix = format!("acme_server/{}", safe_key(&ca.to_lowercase()));
    let key = storage.describe(&prefix);
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    stores
        .entry(key)
        .or_insert_with(|| {
            Arc::new(Store {
                storage: storage.clone(),
                prefix,
                inner: Mutex::default(),
            })
        })
        .clone()
}

impl Store {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh nonce.
    pub fn nonce(&self) -> String {
        let n = random_id();
        let mut i = self.lock();
        if i.nonce_order.len() >= MAX_NONCES {
            if let Some(old) = i.nonce_order.pop_front() {
                i.nonces.remove(&old);
            }
        }
        i.nonces.insert(n.clone());
        i.nonce_order.push_back(n.clone());
        n
    }

    /// Uses up `nonce`: false when it was never given or is used already.
    pub fn take_nonce(&self, nonce: &str) -> bool {
        self.lock().nonces.remove(nonce)
    }

    fn account_key(&self, id: &str) -> String {
        format!("{}/accounts/{}.json", self.prefix, safe_key(id))
    }

    fn thumbprint_key(&self, tp: &str) -> String {
        format!("{}/keys/{}", self.prefix, safe_key(tp))
    }

    /// The account `id`, from memory or storage.
    pub fn account(&self, id: &str) -> Option<Account> {
        if let Some(a) = self.lock().accounts.get(id) {
            return Some(a.clone());
        }
        let bytes = self.storage.read(&self.account_key(id)).ok().flatten()?;
        let a: Account = serde_json::from_slice(&bytes).ok()?;
        self.lock().accounts.insert(a.id.clone(), a.clone());
        Some(a)
    }

    /// The account whose key has this thumbprint.
    pub fn account_by_key(&self, key: &Jwk) -> Option<Account> {
        let tp = key.thumbprint();
        let cached = self
            .lock()
            .accounts
            .values()
            .find(|a| a.thumbprint == tp)
            .cloned();
        if cached.is_some() {
            return cached;
        }
        let id = self.storage.read_string(&self.thumbprint_key(&tp)).ok()??;
        self.account(id.trim())
    }

    /// Creates or updates an account, in memory and in storage.
    pub fn put_account(&self, a: Account) -> std::io::Result<()> {
        let json = serde_json::to_vec(&a).map_err(std::io::Error::other)?;
        self.storage.write(&self.account_key(&a.id), &json, true)?;
        self.storage
            .write(&self.thumbprint_key(&a.thumbprint), a.id.as_bytes(), false)?;
        self.lock().accounts.insert(a.id.clone(), a);
        Ok(())
    }

    /// Replaces an account's key (key change): the old key's index goes.
    pub fn rekey_account(&self, old_thumbprint: &str, a: Account) -> std::io::Result<()> {
        self.put_account(a)?;
        self.storage.delete(&self.thumbprint_key(old_thumbprint))
    }

    /// Stores a new order with its authorizations, forgetting expired ones.
    pub fn put_order(&self, order: Order, authzs: Vec<Authz>) {
        let mut i = self.lock();
        let now = SystemTime::now();
        i.orders.retain(|_, o| o.expires > now);
        i.authzs.retain(|_, a| a.expires > now);
        i.certs.retain(|_, c| c.expires > now);
        for a in authzs {
            i.authzs.insert(a.id.clone(), a);
        }
        i.orders.insert(order.id.clone(), order);
    }

    /// The orders of `account` (for its `orders` list).
    pub fn orders_of(&self, account: &str) -> Vec<String> {
        let i = self.lock();
        let mut ids: Vec<String> = i
            .orders
            .values()
            .filter(|o| o.account == account)
            .map(|o| o.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Runs `f` on the order `id` (the order's status follows its
    /// authorizations first).
    pub fn with_order<T>(&self, id: &str, f: impl FnOnce(&mut Order) -> T) -> Option<T> {
        let mut i = self.lock();
        let status = {
            let o = i.orders.get(id)?;
            derive_status(o, &i.authzs)
        };
        let o = i.orders.get_mut(id)?;
        o.status = status;
        Some(f(o))
    }

    pub fn authz(&self, id: &str) -> Option<Authz> {
        self.lock().authzs.get(id).cloned()
    }

    /// Runs `f` on the authorization `id`.
    pub fn with_authz<T>(&self, id: &str, f: impl FnOnce(&mut Authz) -> T) -> Option<T> {
        self.lock().authzs.get_mut(id).map(f)
    }

    pub fn put_cert(&self, id: String, cert: Cert) {
        self.lock().certs.insert(id, cert);
    }

    pub fn cert(&self, id: &str) -> Option<Cert> {
        self.lock().certs.get(id).cloned()
    }

    /// Revokes the certificate of `account` whose leaf is `der`: it is
    /// served no more. False when the account has no such certificate.
    pub fn revoke(&self, account: &str, der: &[u8]) -> bool {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::CertificateDer;
        let mut i = self.lock();
        let found = i.certs.iter().find_map(|(id, c)| {
            let leaf = CertificateDer::pem_slice_iter(c.chain.as_bytes())
                .next()?
                .ok()?;
            (c.account == account && leaf.as_ref() == der).then(|| id.clone())
        });
        found.is_some_and(|id| i.certs.remove(&id).is_some())
    }
}

/// An order's status from its authorizations (RFC 8555 §7.1.6): it stays
/// `processing`/`valid`/`invalid` once there; `pending` becomes `ready` when
/// every authorization is valid, `invalid` when one is not, and `invalid`
/// when it expires before that.
fn derive_status(o: &Order, authzs: &HashMap<String, Authz>) -> &'static str {
    if o.status != "pending" && o.status != "ready" {
        return o.status;
    }
    if o.expires <= SystemTime::now() {
        return "invalid";
    }
    let states: Vec<&str> = o
        .authzs
        .iter()
        .map(|id| authzs.get(id).map_or("invalid", |a| a.status))
        .collect();
    if states.iter().all(|s| *s == "valid") {
        "ready"
    } else if states.iter().any(|s| *s != "pending" && *s != "valid") {
        "invalid"
    } else {
        "pending"
    }
}

/// RFC 3339 text of a time.
pub fn rfc3339(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_default()
}
