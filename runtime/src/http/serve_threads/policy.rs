//! The scheduling policy of the serving threads: `SCHED_BATCH` by default.
//!
//! A serving thread is an event loop that answers whatever is ready on its
//! connections, then sleeps in `epoll_wait`. Under the default policy, a
//! thread woken by one ready socket preempts whatever runs on that core,
//! serves that one request and sleeps again: on a loaded machine (more
//! runnable threads than cores: a backend or a load generator on the same
//! host), that is a context switch per few requests. `SCHED_BATCH` drops
//! the wake-up preemption for these threads only, so each turn of the loop
//! serves a batch; the nice value is kept. The cost is latency when the
//! cores are busy with other work: a woken thread waits for the running
//! task's time slice (a few milliseconds at most) instead of cutting in.
//! Without contention (a free core), nothing changes.
//!
//! `BELLHOP_SERVE_SCHED=other` keeps the default policy.

use thread_priority::{NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy};

/// The policy `BELLHOP_SERVE_SCHED` asks for: `Some(batch)` unless it
/// says `other` (or `normal`).
pub fn wanted() -> Option<NormalThreadSchedulePolicy> {
    match std::env::var("BELLHOP_SERVE_SCHED")
        .as_deref()
        .map(str::trim)
    {
        Ok("other" | "normal" | "OTHER" | "NORMAL") => None,
        Ok("batch" | "BATCH" | "") | Err(_) => Some(NormalThreadSchedulePolicy::Batch),
        Ok(v) => {
            tracing::warn!(
                value = v,
                "BELLHOP_SERVE_SCHED must be batch or other; using batch"
            );
            Some(NormalThreadSchedulePolicy::Batch)
        }
    }
}

/// Puts the calling thread under `policy`, keeping its nice value. A
/// failure (a sandbox that forbids it) is logged; serving goes on.
pub fn apply(policy: NormalThreadSchedulePolicy) {
    let policy = ThreadSchedulePolicy::Normal(policy);
    let nice = rustix::process::getpriority_process(None).unwrap_or(0);
    // `thread_priority` sets a nice value with the policy; find its
    // priority that stands for the nice value the thread has (an
    // unprivileged thread could not get it back once lowered).
    let same = (0..=99u8).find_map(|p| {
        let prio = ThreadPriority::Crossplatform(p.try_into().ok()?);
        (prio.to_posix(policy).ok()? == nice).then_some(prio)
    });
    let Some(prio) = same else {
        tracing::debug!(
            nice,
            "no priority value keeps this nice value; default scheduling kept"
        );
        return;
    };
    let id = thread_priority::thread_native_id();
    if let Err(e) = thread_priority::set_thread_priority_and_policy(id, prio, policy) {
        tracing::warn!(error = ?e, "cannot set the serving thread's scheduling policy");
    }
}
