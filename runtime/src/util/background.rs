//! Reconfiguration work off the serving threads. Provisioning a large
//! config (and freeing the one it replaces) is tens of milliseconds of CPU:
//! run on a Tokio worker it would stall every connection queued there, and
//! even on the blocking pool it competes with the workers as an equal. So
//! it runs on a thread of its own, at a lower scheduling priority (Linux
//! nice values are per thread), within the caller's Tokio runtime so that
//! it may still spawn tasks and bind sockets. On an idle machine this
//! costs nothing; on a saturated one the threads serving requests win.

use std::thread;

/// How much higher the nice value of a reconfiguration thread is than its
/// creator's (capped at 19, the lowest priority). Raising one's own nice
/// value needs no privilege.
pub const NICE_STEP: i32 = 10;

/// Runs `f` on a new low-priority thread inside the current Tokio runtime
/// (when there is one) and awaits its result; `None` when `f` panicked or
/// no thread could be started.
pub async fn run<T, F>(f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    spawn("bellhop-reload", move || {
        let _ = tx.send(f());
    })
    .ok()?;
    rx.await.ok()
}

/// Drops `v` on a low-priority thread (freeing a large config takes
/// milliseconds nobody should wait for); here when no thread can start.
pub fn drop_later<T: Send + 'static>(v: T) {
    // The closure owns `v`; when the thread cannot start, the error drops
    // the closure, and `v` with it, right here.
    let _ = spawn("bellhop-free", move || drop(v));
}

/// Starts `f` on a named thread [`NICE_STEP`] lower in priority, in the current Tokio runtime's
/// context when there is one.
fn spawn<F: FnOnce() + Send + 'static>(name: &str, f: F) -> std::io::Result<()> {
    let handle = tokio::runtime::Handle::try_current().ok();
    thread::Builder::new().name(name.into()).spawn(move || {
        lower_priority();
        let _entered = handle.as_ref().map(|h| h.enter());
        f();
    })?;
    Ok(())
}

/// Lowers the calling thread's scheduling priority by [`NICE_STEP`] (a
/// no-op where the platform has no per-thread nice value, or on failure).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let tid = Some(rustix::thread::gettid());
        let lowered = getpriority_process(tid)
            .and_then(|now| setpriority_process(tid, (now + NICE_STEP).min(19)));
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "could not lower the reload thread's priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn runs_at_lower_priority_in_the_runtime() {
        let (nice, in_runtime) = run(|| {
            let tid = rustix::thread::gettid();
            let nice = rustix::process::getpriority_process(Some(tid)).unwrap();
            (nice, tokio::runtime::Handle::try_current().is_ok())
        })
        .await
        .unwrap();
        let ours = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_eq!(
            nice,
            (ours + NICE_STEP).min(19),
            "the reload thread's nice value"
        );
        assert!(in_runtime, "the reload thread sees the Tokio runtime");
    }

    #[tokio::test]
    async fn a_panic_is_none() {
        assert_eq!(run(|| -> u8 { panic!("boom") }).await, None);
    }
}
