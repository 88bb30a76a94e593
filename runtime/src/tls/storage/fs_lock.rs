//! Locks of the `file_system` storage, as Caddy keeps them: a lock is a
//! file `locks/<name>.lock` created exclusively, holding who took it and
//! when it was last refreshed (`{"pid":…,"token":…,"created":…,
//! "updated":…}`, unix seconds). While held, the guard rewrites `updated`
//! every [`LOCK_FRESHNESS`]; a lock not refreshed for [`STALE_LOCK`]
//! belongs to a process that died, and the next taker removes it.

use super::{safe_key, HeldLock, LOCK_FRESHNESS, STALE_LOCK};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn lock_body(token: &str, created: f64) -> String {
    serde_json::json!({
        "pid": std::process::id(),
        "token": token,
        "created": created,
        "updated": unix_now(),
    })
    .to_string()
}

/// When a lock file was last refreshed: its `updated` field, or its
/// modification time while it is being written.
fn last_refresh(path: &Path) -> Option<SystemTime> {
    let text = std::fs::read_to_string(path).ok()?;
    let updated = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("updated").and_then(|u| u.as_f64()));
    match updated {
        Some(secs) if secs >= 0.0 => Some(UNIX_EPOCH + Duration::from_secs_f64(secs)),
        _ => std::fs::metadata(path).and_then(|m| m.modified()).ok(),
    }
}

/// Whether the lock file at `path` is stale.
fn is_stale(path: &Path) -> bool {
    last_refresh(path)
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE_LOCK)
}

/// Whether the lock file at `path` still carries `token`.
fn holds(path: &Path, token: &str) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("token").and_then(|t| t.as_str()) == Some(token))
}

/// A lock file this process holds.
struct FileLock {
    path: PathBuf,
    token: String,
    created: f64,
}

impl HeldLock for FileLock {
    fn refresh(&self) -> std::io::Result<bool> {
        if !holds(&self.path, &self.token) {
            return Ok(false); // taken over as stale: never recreate it
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.path)?;
        f.write_all(lock_body(&self.token, self.created).as_bytes())?;
        Ok(true)
    }

    fn release(&self) {
        if holds(&self.path, &self.token) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn refresh_every(&self) -> Duration {
        LOCK_FRESHNESS
    }
}

/// One attempt at the lock `name` of the storage at `root`: `Some` when
/// the lock was free (or stale) and is now ours, `None` while a live
/// holder keeps it.
pub fn try_take(root: &Path, name: &str) -> std::io::Result<Option<Box<dyn HeldLock>>> {
    let path = root.join(format!("locks/{}.lock", safe_key(name)));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let open = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    match open {
        Ok(mut f) => {
            let token = super::lock::new_token();
            let created = unix_now();
            f.write_all(lock_body(&token, created).as_bytes())?;
            f.sync_all()?;
            Ok(Some(Box::new(FileLock {
                path,
                token,
                created,
            })))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if is_stale(&path) {
                tracing::warn!(lock = name, file = %path.display(), "removing a stale storage lock");
                let _ = std::fs::remove_file(&path);
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Storage, BLOCKING_WAIT};
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn a_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path());
        let g = s.lock("a.example").await.unwrap();
        let s2 = s.clone();
        let waiter = tokio::spawn(async move { s2.lock("a.example").await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!waiter.is_finished(), "second lock must wait");
        drop(g);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(
            !dir.path().join("locks/a.example.lock").exists(),
            "released"
        );
    }

    #[test]
    fn a_live_lock_times_out_and_a_stale_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path());
        let held = s.lock_blocking("ca_local", BLOCKING_WAIT).unwrap();
        let t = Instant::now();
        let e = s
            .lock_blocking("ca_local", Duration::from_millis(300))
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(300));
        drop(held);
        // A lock left by a dead process: its timestamp is older than
        // STALE_LOCK, so the next taker removes it.
        let old = unix_now() - STALE_LOCK.as_secs_f64() - 5.0;
        let body = serde_json::json!({"pid": 1, "token": "dead", "created": old, "updated": old});
        s.write("locks/ca_local.lock", body.to_string().as_bytes(), false)
            .unwrap();
        let t = Instant::now();
        let g = s.lock_blocking("ca_local", Duration::from_secs(2)).unwrap();
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(!holds(&dir.path().join("locks/ca_local.lock"), "dead"));
        // A fresh lock of another holder is not stale.
        drop(g);
        let body = serde_json::json!({"pid": 1, "token": "live", "created": unix_now(), "updated": unix_now()});
        s.write("locks/ca_local.lock", body.to_string().as_bytes(), false)
            .unwrap();
        assert!(s
            .lock_blocking("ca_local", Duration::from_millis(200))
            .is_err());
    }

    #[test]
    fn a_held_lock_is_refreshed_and_not_removed_once_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path());
        let g = s.lock_blocking("n", BLOCKING_WAIT).unwrap();
        let path = dir.path().join("locks/n.lock");
        let first = last_refresh(&path).unwrap();
        std::thread::sleep(LOCK_FRESHNESS + Duration::from_millis(600));
        let later = last_refresh(&path).unwrap();
        assert!(later > first, "the timestamp is refreshed while held");
        assert!(!is_stale(&path));
        // Someone took it over (as stale): dropping ours leaves theirs.
        let body = serde_json::json!({"token": "other", "updated": unix_now()});
        std::fs::write(&path, body.to_string()).unwrap();
        drop(g);
        assert!(holds(&path, "other"));
    }
}
