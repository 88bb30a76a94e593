//! `tls.stek.distributed`: session ticket keys kept in storage, so every
//! instance sharing that storage seals and opens tickets with the same
//! keys and a ticket from one resumes on another (Caddy's distributed
//! STEK provider). Under the storage lock `stek_check`, an instance reads
//! `stek/stek.json`; when it is missing or its rotation is due it puts a
//! new key first (keeping `max_keys`) and stores it; then it uses those
//! keys and looks again when the next rotation is due.

use super::storage::Storage;
use super::tickets::{keys, Rotation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const KEY: &str = "stek/stek.json";
const LOCK: &str = "stek_check";
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What storage holds.
#[derive(Serialize, Deserialize, Default)]
struct Stored {
    /// Newest first, hex.
    keys: Vec<String>,
    /// Unix seconds.
    last_rotation: u64,
    next_rotation: u64,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hex(k: &[u8; 32]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The keys in storage, rotated first when due (or made when missing).
pub fn current(storage: &Storage, r: &Rotation) -> Result<(Vec<[u8; 32]>, u64), String> {
    let _lock = storage
        .lock_blocking(LOCK, LOCK_WAIT)
        .map_err(|e| format!("taking the storage lock: {e}"))?;
    let stored: Option<Stored> = storage
        .read(KEY)
        .map_err(|e| format!("reading {KEY}: {e}"))?
        .map(|b| serde_json::from_slice(&b).map_err(|e| format!("{KEY} is corrupted: {e}")))
        .transpose()?;
    let now = now();
    let old: Vec<[u8; 32]> = stored
        .as_ref()
        .map(|s| s.keys.iter().filter_map(|k| unhex(k)).collect())
        .unwrap_or_default();
    if let Some(s) = stored.filter(|s| !old.is_empty() && (r.frozen || now < s.next_rotation)) {
        return Ok((old, s.next_rotation));
    }
    let mut fresh = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut fresh)
        .map_err(|_| "no randomness".to_string())?;
    let mut list = vec![fresh];
    list.extend(old.into_iter().take(r.max.max(1) - 1));
    let next = now + r.interval.as_secs().max(1);
    let doc = Stored {
        keys: list.iter().map(hex).collect(),
        last_rotation: now,
        next_rotation: next,
    };
    let json = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
    storage
        .write(KEY, &json, true)
        .map_err(|e| format!("storing {KEY}: {e}"))?;
    tracing::info!("session ticket keys rotated in storage");
    Ok((list, next))
}

/// Uses the stored keys, and again at each rotation, until dropped.
pub async fn maintain(storage: Storage, r: Rotation) {
    loop {
        let (s, rot) = (storage.clone(), r);
        let wait = match tokio::task::spawn_blocking(move || current(&s, &rot)).await {
            Ok(Ok((list, next))) => {
                keys().install(&list);
                Duration::from_secs(next.saturating_sub(now()).max(1))
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "loading the distributed session ticket keys; will retry");
                Duration::from_secs(10)
            }
            Err(_) => Duration::from_secs(10),
        };
        tokio::time::sleep(wait.min(r.interval.max(Duration::from_secs(1)))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_sharing_storage_get_the_same_keys_and_rotate_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path());
        let r = Rotation {
            interval: Duration::from_secs(3600),
            max: 2,
            frozen: false,
            distributed: true,
        };
        let (a, next) = current(&s, &r).unwrap();
        let (b, next_b) = current(&s, &r).unwrap();
        assert_eq!((a.len(), &a, next), (1, &b, next_b), "made once, then read");
        // due: a new key first, the old one kept
        let mut doc: Stored = serde_json::from_slice(&s.read(KEY).unwrap().unwrap()).unwrap();
        doc.next_rotation = 0;
        s.write(KEY, &serde_json::to_vec(&doc).unwrap(), true)
            .unwrap();
        let (c, _) = current(&s, &r).unwrap();
        assert_eq!((c.len(), c[1]), (2, a[0]));
    }
}
