//! Storage locks shared between processes, as Caddy's `file_system`
//! storage keeps them: a lock is a file `locks/<name>.lock` created
//! exclusively, holding who took it and when it was last refreshed
//! (`{"pid":…,"token":…,"created":…,"updated":…}`, unix seconds). While
//! held, a thread rewrites `updated` every [`LOCK_FRESHNESS`]; a lock not
//! refreshed for [`STALE_LOCK`] belongs to a process that died, and the
//! next taker removes it. Waiting polls every [`POLL`] until a timeout.

use super::{safe_key, Storage};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a held lock's timestamp is refreshed (certmagic: 5 s).
pub const LOCK_FRESHNESS: Duration = Duration::from_secs(5);
/// A lock not refreshed for this long is stale (certmagic: twice the
/// freshness interval).
pub const STALE_LOCK: Duration = Duration::from_secs(10);
/// How often a waiter tries again.
const POLL: Duration = Duration::from_millis(50);
/// How long the async lock waits by default (an ACME order in another
/// process may hold it this long).
pub const ASYNC_WAIT: Duration = Duration::from_secs(180);
/// How long the blocking lock waits by default (it guards quick local
/// work: creating the internal CA, signing a leaf).
pub const BLOCKING_WAIT: Duration = Duration::from_secs(30);

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0);

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

/// One attempt: `Some(guard)` when the lock was free (or stale) and is
/// now ours, `None` while a live holder keeps it.
fn try_take(path: &Path, name: &str) -> std::io::Result<Option<LockGuard>> {
    let open = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    match open {
        Ok(mut f) => {
            let token = format!(
                "{}-{}-{}",
                std::process::id(),
                NEXT_TOKEN.fetch_add(1, Ordering::Relaxed),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos())
            );
            let created = unix_now();
            f.write_all(lock_body(&token, created).as_bytes())?;
            f.sync_all()?;
            Ok(Some(LockGuard::hold(path.to_path_buf(), token, created)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if is_stale(path) {
                tracing::warn!(lock = name, file = %path.display(), "removing a stale storage lock");
                let _ = std::fs::remove_file(path);
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn timed_out(name: &str, wait: Duration) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("storage lock {name:?} still held by another process after {wait:?}"),
    )
}

impl Storage {
    fn lock_path(&self, name: &str) -> std::io::Result<PathBuf> {
        let path = self.path(&format!("locks/{}.lock", safe_key(name)));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(path)
    }

    /// Takes the named lock, waiting (asynchronously) while another live
    /// process holds it, for at most [`ASYNC_WAIT`].
    pub async fn lock(&self, name: &str) -> std::io::Result<LockGuard> {
        self.lock_within(name, ASYNC_WAIT).await
    }

    /// Takes the named lock, waiting at most `wait`.
    pub async fn lock_within(&self, name: &str, wait: Duration) -> std::io::Result<LockGuard> {
        let path = self.lock_path(name)?;
        let deadline = Instant::now() + wait;
        loop {
            if let Some(g) = try_take(&path, name)? {
                return Ok(g);
            }
            if Instant::now() >= deadline {
                return Err(timed_out(name, wait));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Takes the named lock, blocking the thread while another live
    /// process holds it, for at most `wait`. For short sections in
    /// synchronous code (the internal CA, start-up issuance).
    pub fn lock_blocking(&self, name: &str, wait: Duration) -> std::io::Result<LockGuard> {
        let path = self.lock_path(name)?;
        let deadline = Instant::now() + wait;
        loop {
            if let Some(g) = try_take(&path, name)? {
                return Ok(g);
            }
            if Instant::now() >= deadline {
                return Err(timed_out(name, wait));
            }
            std::thread::sleep(POLL);
        }
    }
}

/// Held while a lock is taken: keeps its timestamp fresh, and removes the
/// lock file (if still ours) when dropped.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
    token: String,
    /// Dropping it stops the refreshing thread.
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl LockGuard {
    fn hold(path: PathBuf, token: String, created: f64) -> LockGuard {
        let (stop, stopped) = mpsc::channel::<()>();
        let (p, t) = (path.clone(), token.clone());
        let refresher = move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(LOCK_FRESHNESS) {
                if !holds(&p, &t) {
                    return; // taken over as stale: never recreate it
                }
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&p);
                if let Ok(mut f) = f {
                    let _ = f.write_all(lock_body(&t, created).as_bytes());
                }
            }
        };
        let refresher = std::thread::Builder::new()
            .name("storage-lock".into())
            .spawn(refresher)
            .map_err(|e| tracing::warn!(error = %e, "cannot refresh a storage lock; it may be taken as stale after {STALE_LOCK:?}"))
            .ok();
        LockGuard {
            path,
            token,
            stop: Some(stop),
            refresher,
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Stop the refresher first (it wakes at once) so no rewrite is
        // under way while we look at the file.
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        if holds(&self.path, &self.token) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!s.path("locks/a.example.lock").exists(), "released");
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
        assert!(!holds(&s.path("locks/ca_local.lock"), "dead"));
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
        let path = s.path("locks/n.lock");
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
