//! Password hashes of `http_basic` (`http.authentication.hashes.*`):
//! bcrypt and argon2id, compared in constant time by their crates, and the
//! result cache (`hash_cache`).
//!
//! For a username that has no account the provider still compares the
//! password, against a fake hash made at provision time with the cost
//! parameters of the first account (a fixed salt and digest, so making it
//! costs nothing), so that a failed login takes about as long whether or
//! not the user exists.

use crate::error::Error;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::RwLock;

/// Caddy's default bcrypt cost, for the fake hash when there is no account.
const BCRYPT_DEFAULT_COST: &str = "14";
/// Caddy's default argon2id parameters.
const ARGON2_DEFAULT_PARAMS: &str = "v=19$m=47104,t=1,p=1";
/// A fixed salt and digest for fake hashes (any valid base64 works).
const FAKE_BCRYPT_TAIL: &str = "Q9dGk2Zx3vJwq8hT1rYpLeN6m0cVbUa7sIoFgWzKjHnXyE4uRtBlC";
const FAKE_ARGON2_SALT: &str = "c2FsdHNhbHRzYWx0c2FsdA";
const FAKE_ARGON2_DIGEST: &str = "BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSY";

/// Most results the cache keeps.
const CACHE_CAP: usize = 1000;

/// A password hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Bcrypt,
    Argon2id,
}

impl Algorithm {
    /// The algorithm named in `hash.algorithm`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "bcrypt" => Some(Algorithm::Bcrypt),
            "argon2id" => Some(Algorithm::Argon2id),
            _ => None,
        }
    }

    /// Checks that `hash` is a well-formed hash of this algorithm.
    pub fn check(self, hash: &str) -> Result<(), String> {
        match self {
            Algorithm::Bcrypt => {
                let ok = hash.len() == 60
                    && matches!(&hash[..4], "$2a$" | "$2b$" | "$2y$" | "$2x$")
                    && hash[4..6]
                        .parse::<u32>()
                        .is_ok_and(|c| (4..=31).contains(&c));
                ok.then_some(())
                    .ok_or_else(|| "not a bcrypt hash ($2a$NN$ and 53 characters)".into())
            }
            Algorithm::Argon2id => {
                let h = PasswordHash::new(hash).map_err(|e| e.to_string())?;
                (h.algorithm.as_str() == "argon2id")
                    .then_some(())
                    .ok_or_else(|| format!("not an argon2id hash: {}", h.algorithm))
            }
        }
    }

    /// A fake hash with the costs of `like` (or Caddy's defaults).
    pub fn fake_hash(self, like: Option<&str>) -> String {
        match self {
            Algorithm::Bcrypt => {
                let cost = like.map_or(BCRYPT_DEFAULT_COST, |h| &h[4..6]);
                format!("$2a${cost}${FAKE_BCRYPT_TAIL}")
            }
            Algorithm::Argon2id => {
                let params = like
                    .and_then(|h| PasswordHash::new(h).ok())
                    .map(|h| format!("v={}${}", h.version.unwrap_or(19), h.params))
                    .unwrap_or_else(|| ARGON2_DEFAULT_PARAMS.to_string());
                format!("$argon2id${params}${FAKE_ARGON2_SALT}${FAKE_ARGON2_DIGEST}")
            }
        }
    }

    /// Whether `plaintext` hashes to `hash` (slow by design).
    pub fn verify(self, hash: &str, plaintext: &[u8]) -> Result<bool, String> {
        match self {
            Algorithm::Bcrypt => bcrypt::verify(plaintext, hash).map_err(|e| e.to_string()),
            Algorithm::Argon2id => {
                let parsed = PasswordHash::new(hash).map_err(|e| e.to_string())?;
                match argon2::Argon2::default().verify_password(plaintext, &parsed) {
                    Ok(()) => Ok(true),
                    Err(argon2::password_hash::Error::Password) => Ok(false),
                    Err(e) => Err(e.to_string()),
                }
            }
        }
    }
}

/// Checks one account's stored password: a hash in modular crypt format
/// (`$...`), or the same base64-encoded, as Caddy accepts.
pub fn decode_password(alg: Algorithm, stored: &str, path: &str) -> Result<String, Error> {
    let hash = if stored.starts_with('$') {
        stored.to_string()
    } else {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(stored)
            .map_err(|e| Error::config(path, format!("base64-decoding password: {e}")))?;
        String::from_utf8(raw)
            .map_err(|_| Error::config(path, "password hash is not valid UTF-8"))?
    };
    alg.check(&hash).map_err(|e| Error::config(path, e))?;
    Ok(hash)
}

/// Results of earlier comparisons, keyed by a keyed hash of the stored hash
/// and the plaintext (so no plaintext is kept). Like Caddy's, a full cache
/// forgets about a tenth of its entries.
pub struct HashCache {
    keys: (RandomState, RandomState),
    map: RwLock<HashMap<u128, bool>>,
}

impl HashCache {
    /// An empty cache.
    pub fn new() -> Self {
        HashCache {
            keys: (RandomState::new(), RandomState::new()),
            map: RwLock::new(HashMap::new()),
        }
    }

    /// The cache key of a comparison.
    pub fn key(&self, hash: &str, plaintext: &[u8]) -> u128 {
        let one = |s: &RandomState| s.hash_one((hash, plaintext));
        (u128::from(one(&self.keys.0)) << 64) | u128::from(one(&self.keys.1))
    }

    /// A cached result.
    pub fn get(&self, key: u128) -> Option<bool> {
        self.map.read().ok()?.get(&key).copied()
    }

    /// Records a result.
    pub fn put(&self, key: u128, same: bool) {
        let Ok(mut map) = self.map.write() else {
            return;
        };
        if map.len() >= CACHE_CAP {
            let drop_n = (map.len() / 10).max(1);
            let doomed: Vec<u128> = map.keys().take(drop_n).copied().collect();
            for k in doomed {
                map.remove(&k);
            }
        }
        map.insert(key, same);
    }
}
