//! Storage locks shared between processes, whatever the engine: waiting
//! for a lock (polling the engine's one attempt every [`POLL`] until a
//! timeout), and the guard that keeps a held lock alive (a thread
//! refreshing it at the engine's interval) and releases it when dropped.
//! A crashed holder stops refreshing, so its lock frees itself: a file
//! lock turns stale, a Redis lock expires.

use super::Storage;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a held file lock's timestamp is refreshed (certmagic: 5 s).
pub const LOCK_FRESHNESS: Duration = Duration::from_secs(5);
/// A file lock not refreshed for this long is stale (certmagic: twice
/// the freshness interval).
pub const STALE_LOCK: Duration = Duration::from_secs(10);
/// How often a waiter tries again.
const POLL: Duration = Duration::from_millis(50);
/// How long the async lock waits by default (an ACME order in another
/// process may hold it this long).
pub const ASYNC_WAIT: Duration = Duration::from_secs(180);
/// How long the blocking lock waits by default (it guards quick local
/// work: creating the internal CA, signing a leaf).
pub const BLOCKING_WAIT: Duration = Duration::from_secs(30);

/// A lock an engine has given this process.
pub trait HeldLock: Send + Sync {
    /// Keeps the lock alive; `Ok(false)` once it is no longer ours (then
    /// it is never refreshed again).
    fn refresh(&self) -> std::io::Result<bool>;
    /// Gives the lock up, if it is still ours.
    fn release(&self);
    /// How often [`HeldLock::refresh`] must run.
    fn refresh_every(&self) -> Duration;
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0);

/// A token no other holder has: the process, a counter and a random part.
pub fn new_token() -> String {
    format!(
        "{}-{}-{:x}-{}",
        std::process::id(),
        NEXT_TOKEN.fetch_add(1, Ordering::Relaxed),
        crate::util::random_u64(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    )
}

fn timed_out(name: &str, wait: Duration) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("storage lock {name:?} still held by another process after {wait:?}"),
    )
}

impl Storage {
    /// Takes the named lock, waiting (asynchronously) while another live
    /// process holds it, for at most [`ASYNC_WAIT`].
    pub async fn lock(&self, name: &str) -> std::io::Result<LockGuard> {
        self.lock_within(name, ASYNC_WAIT).await
    }

    /// Takes the named lock, waiting at most `wait`.
    pub async fn lock_within(&self, name: &str, wait: Duration) -> std::io::Result<LockGuard> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(h) = self.backend.try_lock(name)? {
                return Ok(LockGuard::hold(h, name));
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
        let deadline = Instant::now() + wait;
        loop {
            if let Some(h) = self.backend.try_lock(name)? {
                return Ok(LockGuard::hold(h, name));
            }
            if Instant::now() >= deadline {
                return Err(timed_out(name, wait));
            }
            std::thread::sleep(POLL);
        }
    }
}

/// Held while a lock is taken: keeps it fresh, and releases it (if still
/// ours) when dropped.
pub struct LockGuard {
    held: Arc<dyn HeldLock>,
    /// Dropping it stops the refreshing thread.
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockGuard")
    }
}

impl LockGuard {
    fn hold(held: Box<dyn HeldLock>, name: &str) -> LockGuard {
        let held: Arc<dyn HeldLock> = Arc::from(held);
        let (stop, stopped) = mpsc::channel::<()>();
        let (h, lock) = (held.clone(), name.to_string());
        let every = held.refresh_every();
        let refresher = move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                match h.refresh() {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(
                            lock,
                            "a held storage lock was lost (expired or taken over)"
                        );
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(lock, error = %e, "cannot refresh a storage lock; trying again")
                    }
                }
            }
        };
        let refresher = std::thread::Builder::new()
            .name("storage-lock".into())
            .spawn(refresher)
            .map_err(|e| tracing::warn!(error = %e, "cannot refresh a storage lock; it may expire while held"))
            .ok();
        LockGuard {
            held,
            stop: Some(stop),
            refresher,
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Stop the refresher first (it wakes at once) so no refresh is
        // under way while the lock is released.
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        self.held.release();
    }
}
