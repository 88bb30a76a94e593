//! One worker slot: spawns `bellhop worker` (its own process group, so a
//! terminal's Ctrl-C reaches the supervisor alone, which forwards the
//! stop), waits for its `hello`, loads the committed config into it, and
//! registers it; when it dies, logs its exit status and spawns another:
//! at once the first time, then after a backoff that doubles on each
//! further quick failure (100 ms up to 30 s), back to at once when a
//! worker stayed up for 10 s.
//!
//! Before its config, each worker gets the supervisor's TLS session
//! ticket keys, so a session started on one worker resumes on another.
//!
//! Each worker gets `BELLHOP_WORKER_ID` (its slot, 0-based, the same
//! across restarts) in its environment, so a config can tell the workers
//! apart with `{env.BELLHOP_WORKER_ID}`.

use super::protocol::{Channel, FromWorker};
use super::supervisor::{Conn, Shared};
use std::os::fd::OwnedFd;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::Child;

/// How long a new worker may take to say `hello`.
const HELLO_LIMIT: Duration = Duration::from_secs(10);
/// The delay after the second quick failure in a row; doubled on each
/// further one.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A worker that lived this long resets the backoff.
const STABLE: Duration = Duration::from_secs(10);

/// Runs slot `slot` until the supervisor stops.
pub async fn run(shared: Arc<Shared>, slot: usize) {
    let mut stopping = shared.stopping.subscribe();
    let mut failures: u32 = 0;
    loop {
        if *stopping.borrow_and_update() {
            break;
        }
        let started = Instant::now();
        let spawned = spawn(&shared, slot).await;
        let stopped = || *shared.stopping.borrow();
        match spawned {
            Ok((mut child, pid)) => {
                let status = wait(&shared, &mut child).await;
                unregister(&shared, slot).await;
                let status = describe(status);
                if stopped() {
                    tracing::info!(worker = slot, pid, status, "worker stopped");
                    break;
                }
                tracing::error!(worker = slot, pid, status, "worker exited unexpectedly");
            }
            Err(e) if stopped() => {
                tracing::debug!(worker = slot, error = %e, "worker not started: stopping");
                break;
            }
            Err(e) => tracing::error!(worker = slot, error = %e, "worker failed to start"),
        }
        if started.elapsed() >= STABLE {
            failures = 0;
        }
        let delay = match failures {
            0 => Duration::ZERO,
            n => BACKOFF_MIN
                .saturating_mul(1 << (n - 1).min(16))
                .min(BACKOFF_MAX),
        };
        failures = failures.saturating_add(1);
        tracing::info!(
            worker = slot,
            delay_ms = delay.as_millis() as u64,
            "restarting the worker"
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = async { drop(stopping.wait_for(|s| *s).await) } => break,
        }
    }
}

/// Starts a worker and registers it with the committed config loaded.
async fn spawn(shared: &Shared, slot: usize) -> Result<(Child, u32), String> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| format!("creating the control channel: {e}"))?;
    let mut cmd = tokio::process::Command::new(&shared.exe);
    cmd.arg("worker")
        .env("BELLHOP_WORKER_ID", slot.to_string())
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .process_group(0)
        .kill_on_drop(true);
    let spawned = cmd.spawn();
    // Our copy of the worker's end must close, or its death goes unseen.
    drop(cmd);
    let mut child = spawned.map_err(|e| format!("spawning {}: {e}", shared.exe.display()))?;
    let pid = child.id().unwrap_or(0);
    let mut chan = Channel::new(ours).map_err(|e| format!("control channel: {e}"))?;
    let hello = tokio::select! {
        h = tokio::time::timeout(HELLO_LIMIT, chan.recv::<FromWorker>()) => h,
        s = child.wait() => return Err(format!("pid {pid} exited before it was ready ({})", describe(s))),
    };
    if !matches!(hello, Ok(Ok(Some(FromWorker::Hello { .. })))) {
        let _ = child.start_kill();
        return Err(format!("pid {pid} did not report ready: {hello:?}"));
    }
    let mut conn = Conn { pid, chan };
    let mut st = shared.state.lock().await;
    // every worker seals and opens TLS session tickets with the same keys
    let keys = super::protocol::ToWorker::TicketKeys {
        keys: super::protocol::export_ticket_keys(),
    };
    if let Err(e) = conn.call(&keys).await.and_then(|a| match a {
        FromWorker::TicketKeysSet => Ok(()),
        other => Err(format!("unexpected answer {other:?}")),
    }) {
        let _ = child.start_kill();
        return Err(format!(
            "pid {pid} did not take the session ticket keys: {e}"
        ));
    }
    let stopping = *shared.stopping.borrow();
    if stopping {
        let _ = child.start_kill();
        return Err("the supervisor is stopping".into());
    }
    if let Some(config) = st.config.clone() {
        st.seq += 1;
        if let Err(e) = conn.load(st.seq, &config).await {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(format!("pid {pid} could not load the running config: {e}"));
        }
    }
    st.workers[slot] = Some(conn);
    shared.live.send_modify(|n| *n += 1);
    tracing::info!(worker = slot, pid, "worker ready");
    Ok((child, pid))
}

/// Waits for the worker to exit; kills it when the stop is forced.
async fn wait(shared: &Shared, child: &mut Child) -> std::io::Result<ExitStatus> {
    let mut kill = shared.kill.subscribe();
    tokio::select! {
        s = child.wait() => s,
        _ = async { drop(kill.wait_for(|k| *k).await) } => {
            let _ = child.start_kill();
            child.wait().await
        }
    }
}

async fn unregister(shared: &Shared, slot: usize) {
    let mut st = shared.state.lock().await;
    if st.workers[slot].take().is_some() {
        shared.live.send_modify(|n| *n -= 1);
    }
}

/// An exit status as the log shows it (`exit status: 1`, `signal: 9 (SIGKILL)`).
fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => s.to_string(),
        Err(e) => format!("unknown ({e})"),
    }
}
