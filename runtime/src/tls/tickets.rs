//! TLS session ticket keys (Caddy's `session_tickets` with the `standard`
//! key source): one set per process, kept across config reloads, so a
//! ticket issued before a reload still resumes after it.
//!
//! Tickets are sealed with ChaCha20-Poly1305 (ring) under the newest key
//! and opened with any key still held: `4-byte key id | 12-byte nonce |
//! ciphertext+tag`. Keys rotate every `rotation_interval` (Caddy's
//! default 12 h), at most `max_keys` (default 4) kept; the rotation is
//! checked when a ticket is issued, so it costs one atomic load.
//!
//! With `run --workers N` the supervisor makes and rotates the keys and
//! hands them to every worker ([`Keys::install`]); a worker then never
//! rotates by itself, so a ticket from one worker resumes on any other.
//! With the `distributed` key source the keys come from storage instead
//! (`tls/stek.rs`), shared by every instance (and worker) using it.

use arc_swap::ArcSwap;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Caddy's default rotation interval and key count.
pub const DEFAULT_ROTATION: Duration = Duration::from_secs(12 * 3600);
pub const DEFAULT_MAX_KEYS: usize = 4;

/// One key.
pub struct Key {
    raw: [u8; 32],
    id: [u8; 4],
    aead: LessSafeKey,
}

impl Key {
    fn new(raw: [u8; 32]) -> Key {
        let digest = ring::digest::digest(&ring::digest::SHA256, &raw);
        let mut id = [0u8; 4];
        id.copy_from_slice(&digest.as_ref()[..4]);
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &raw).expect("a 32-byte key");
        Key {
            raw,
            id,
            aead: LessSafeKey::new(unbound),
        }
    }

    fn random() -> Key {
        let mut raw = [0u8; 32];
        let _ = SystemRandom::new().fill(&mut raw);
        Key::new(raw)
    }
}

/// The process's ticket keys, newest first.
pub struct Keys {
    list: ArcSwap<Vec<Arc<Key>>>,
    /// Set by [`Keys::install`]: someone else (the supervisor) rotates.
    external: AtomicBool,
    /// Unix seconds of the newest key.
    rotated_at: AtomicU64,
    interval_secs: AtomicU64,
    max: AtomicUsize,
    /// `disable_rotation`.
    frozen: AtomicBool,
    /// The keys come from storage (`tls.stek.distributed`).
    distributed: AtomicBool,
}

/// The process's keys.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        list: ArcSwap::from_pointee(vec![Arc::new(Key::random())]),
        external: AtomicBool::new(false),
        rotated_at: AtomicU64::new(now()),
        interval_secs: AtomicU64::new(DEFAULT_ROTATION.as_secs()),
        max: AtomicUsize::new(DEFAULT_MAX_KEYS),
        frozen: AtomicBool::new(false),
        distributed: AtomicBool::new(false),
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Keys {
    /// Applies the rotation settings of the config that went live.
    pub fn configure(&self, r: &Rotation) {
        self.interval_secs
            .store(r.interval.as_secs().max(1), Ordering::Relaxed);
        self.max.store(r.max.max(1), Ordering::Relaxed);
        self.frozen.store(r.frozen, Ordering::Relaxed);
        self.distributed.store(r.distributed, Ordering::Relaxed);
    }

    /// Whether the keys come from storage, shared with other instances
    /// (a supervisor then hands its workers none of its own).
    pub fn is_distributed(&self) -> bool {
        self.distributed.load(Ordering::Relaxed)
    }

    /// The rotation interval in force.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs.load(Ordering::Relaxed))
    }

    /// Puts a new key first, keeping at most `max_keys`.
    pub fn rotate(&self) {
        self.rotated_at.store(now(), Ordering::Relaxed);
        self.push_new();
    }

    fn push_new(&self) {
        let max = self.max.load(Ordering::Relaxed);
        let mut next = vec![Arc::new(Key::random())];
        next.extend(self.list.load().iter().take(max - 1).cloned());
        self.list.store(Arc::new(next));
    }

    /// Replaces the keys with `raw` (newest first), from the supervisor;
    /// from now on only [`Keys::install`] changes them.
    pub fn install(&self, raw: &[[u8; 32]]) {
        if raw.is_empty() {
            return;
        }
        self.external.store(true, Ordering::Relaxed);
        let list = raw.iter().map(|r| Arc::new(Key::new(*r))).collect();
        self.list.store(Arc::new(list));
    }

    /// The keys, newest first, to hand to workers.
    pub fn export(&self) -> Vec<[u8; 32]> {
        self.list.load().iter().map(|k| k.raw).collect()
    }

    fn maybe_rotate(&self) {
        if self.external.load(Ordering::Relaxed) || self.frozen.load(Ordering::Relaxed) {
            return;
        }
        let last = self.rotated_at.load(Ordering::Relaxed);
        let now = now();
        if now >= last + self.interval_secs.load(Ordering::Relaxed)
            && self
                .rotated_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.push_new();
        }
    }
}

/// A config's key rotation (`session_tickets`), applied to the process's
/// keys only when that config goes live, so a config that fails to load
/// changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub interval: Duration,
    pub max: usize,
    /// `disable_rotation`.
    pub frozen: bool,
    /// The `distributed` key source: the keys come from storage
    /// (`tls/stek.rs`), not from this process.
    pub distributed: bool,
}

impl Rotation {
    /// Checks `session_tickets` (not `disabled`): the `standard` key
    /// source, or `distributed` (with an optional `storage` of its own,
    /// returned); then its rotation interval, key count and
    /// `disable_rotation`.
    pub fn from_config(
        c: &super::config::SessionTickets,
        at: &str,
    ) -> Result<(Rotation, Option<Option<super::storage::Storage>>), crate::error::Error> {
        use crate::error::Error;
        let mut distributed = None;
        if let Some(src) = &c.key_source {
            match src.get("provider").and_then(|p| p.as_str()) {
                Some("distributed") => {
                    if let Some(k) = src.keys().find(|k| *k != "provider" && *k != "storage") {
                        return Err(Error::config(
                            format!("{at}.key_source.{k}"),
                            "unknown field",
                        ));
                    }
                    distributed = Some(match src.get("storage") {
                        Some(serde_json::Value::Object(m)) => Some(
                            super::storage::Storage::from_config(Some(m), &format!("{at}.key_source.storage"))?,
                        ),
                        Some(_) => {
                            return Err(Error::config(
                                format!("{at}.key_source.storage"),
                                "must be a storage module object",
                            ))
                        }
                        None => None,
                    });
                }
                Some("standard") => {
                    if let Some(k) = src.keys().find(|k| *k != "provider") {
                        return Err(Error::config(
                            format!("{at}.key_source.{k}"),
                            "unknown field",
                        ));
                    }
                }
                Some(other) => {
                    return Err(Error::config(
                        format!("{at}.key_source.provider"),
                        format!("unknown module: tls.stek.{other} (bellhop has tls.stek.standard and tls.stek.distributed)"),
                    ))
                }
                None => {
                    return Err(Error::config(
                        format!("{at}.key_source"),
                        "module name missing: expected `provider`",
                    ))
                }
            }
        }
        let rotation = Rotation {
            interval: c
                .rotation_interval
                .map(|d| d.0)
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_ROTATION),
            max: c.max_keys.map_or(DEFAULT_MAX_KEYS, |n| n as usize).max(1),
            frozen: c.disable_rotation,
            distributed: distributed.is_some(),
        };
        Ok((rotation, distributed))
    }
}

/// rustls' ticket producer over [`keys`].
#[derive(Debug)]
pub struct Ticketer;

impl rustls::server::ProducesTickets for Ticketer {
    fn enabled(&self) -> bool {
        true
    }

    /// A ticket is good while its key is kept: interval × keys, at most
    /// the 7 days RFC 8446 allows.
    fn lifetime(&self) -> u32 {
        let k = keys();
        let secs = k.interval_secs.load(Ordering::Relaxed) * k.max.load(Ordering::Relaxed) as u64;
        secs.min(7 * 86_400) as u32
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let k = keys();
        k.maybe_rotate();
        let list = k.list.load();
        let key = list.first()?;
        let mut nonce = [0u8; 12];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(16 + plain.len() + 16);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        let mut sealed = plain.to_vec();
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.id),
                &mut sealed,
            )
            .ok()?;
        out.extend_from_slice(&sealed);
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        if cipher.len() < 16 + 16 {
            return None;
        }
        let (id, rest) = cipher.split_at(4);
        let (nonce, sealed) = rest.split_at(12);
        let list = keys().list.load();
        let key = list.iter().find(|k| k.id == id)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = sealed.to_vec();
        let plain = key
            .aead
            .open_in_place(nonce, Aad::from(key.id), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::server::ProducesTickets;

    #[test]
    fn tickets_open_under_any_kept_key_and_not_after_it_is_dropped() {
        let t = Ticketer;
        let k = keys();
        k.configure(&Rotation {
            interval: DEFAULT_ROTATION,
            max: 2,
            frozen: false,
            distributed: false,
        });
        let first = t.encrypt(b"session state").unwrap();
        assert_eq!(t.decrypt(&first).unwrap(), b"session state");
        k.rotate();
        assert_eq!(
            t.decrypt(&first).unwrap(),
            b"session state",
            "the old key is kept"
        );
        let second = t.encrypt(b"x").unwrap();
        assert_ne!(first[..4], second[..4], "sealed under the new key");
        k.rotate();
        assert!(
            t.decrypt(&first).is_none(),
            "2 keys kept: the first is gone"
        );
        let mut tampered = second.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(t.decrypt(&tampered).is_none());
        // keys handed over from another process open its tickets
        let exported = k.export();
        assert_eq!(exported.len(), 2);
        assert!(exported.iter().any(|r| Key::new(*r).id == second[..4]));

        // keys rotate once the interval is over, unless rotation is disabled
        let frozen = Rotation {
            interval: Duration::from_secs(1),
            max: 4,
            frozen: true,
            distributed: false,
        };
        k.configure(&frozen);
        let before = t.encrypt(b"a").unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(
            t.encrypt(b"b").unwrap()[..4],
            before[..4],
            "disable_rotation"
        );
        k.configure(&Rotation {
            frozen: false,
            ..frozen
        });
        assert_ne!(
            t.encrypt(b"c").unwrap()[..4],
            before[..4],
            "rotated after 1 s"
        );
        assert_eq!(t.decrypt(&before).unwrap(), b"a", "the old key is kept");
        k.configure(&Rotation {
            interval: DEFAULT_ROTATION,
            max: 4,
            frozen: false,
            distributed: false,
        });

        // a config's rotation applies only when it goes live
        let json = serde_json::json!({"apps": {"tls": {"session_tickets": {"rotation_interval": "1h", "max_keys": 3}}}});
        let config = crate::config::Config::from_json(json.to_string().as_bytes()).unwrap();
        let registry = crate::registry::Registry::standard();
        let instance = crate::instance::Instance::provision(&config, &registry, None).unwrap();
        assert_eq!(
            k.interval(),
            DEFAULT_ROTATION,
            "provisioning alone changes nothing"
        );
        instance.go_live();
        assert_eq!(k.interval(), Duration::from_secs(3600));
    }
}
