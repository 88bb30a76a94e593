//! Serving threads: an accepted TCP connection lives its whole life on
//! one of N single-threaded Tokio runtimes (one per core by default),
//! chosen round-robin at accept. On the work-stealing runtime a
//! connection's task moves between worker threads and every I/O event
//! may wake another thread; here a connection, its requests, its HTTP/2
//! streams and whatever they spawn stay on one thread with its own
//! epoll, as in nginx's workers, so serving a request crosses no thread.
//! The multi-threaded runtime keeps the rest: accept loops, HTTP/3, the
//! admin API, certificate maintenance, health checks.
//!
//! The threads start with the first connection and end when the runtime
//! that owns them is dropped. `BELLHOP_SERVE_THREADS` sets their number;
//! 0 serves connections on the multi-threaded runtime instead. They run
//! under `SCHED_BATCH` (see `policy`).

mod policy;

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The serving threads of one runtime.
#[derive(Default)]
pub struct ServeThreads {
    started: OnceLock<Vec<Handle>>,
    next: AtomicUsize,
    /// Dropping these ends the threads.
    stops: Mutex<Vec<oneshot::Sender<()>>>,
}

impl ServeThreads {
    /// Runs `fut` on the next serving thread; `Err(fut)` when there are
    /// none (configured off, or a thread could not start).
    pub fn spawn<F>(&self, fut: F) -> Result<(), F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handles = self.started.get_or_init(|| self.start());
        if handles.is_empty() {
            return Err(fut);
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % handles.len();
        handles[i].spawn(fut);
        Ok(())
    }

    fn start(&self) -> Vec<Handle> {
        let n = thread_count();
        let mut handles = Vec::with_capacity(n);
        let mut stops = self.stops.lock().unwrap_or_else(|e| e.into_inner());
        for i in 0..n {
            match start_one(i) {
                Ok((handle, stop)) => {
                    handles.push(handle);
                    stops.push(stop);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot start a serving thread; serving on the shared runtime");
                    stops.clear();
                    return Vec::new();
                }
            }
        }
        handles
    }
}

thread_local! {
    /// This thread's lane: 1 + its index on a serving thread, 0 elsewhere.
    static LANE: Cell<usize> = const { Cell::new(0) };
}

/// The lane of the calling thread: `1..=N` on serving thread `0..N`, 0 on
/// any other (the multi-threaded runtime). Per-thread state (the reverse
/// proxy's idle connections) is kept by lane.
pub fn lane() -> usize {
    LANE.with(Cell::get)
}

/// How many lanes there are: the serving threads, plus lane 0.
pub fn lanes() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| thread_count() + 1)
}

/// `BELLHOP_SERVE_THREADS`, else one per core.
fn thread_count() -> usize {
    if let Some(n) = std::env::var("BELLHOP_SERVE_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return n.min(1024);
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How often a serving thread's timer wheel is polled even when nothing
/// is due.
const HEARTBEAT: Duration = Duration::from_millis(500);

/// Keeps a timer due within [`HEARTBEAT`] on this thread, for ever. Tokio
/// wakes its own driver (an eventfd write, and one more `epoll_wait`)
/// whenever a timer is registered that is due before the driver's
/// planned wake-up; hyper registers one per request (the header read
/// timeout), so on a busy keep-alive connection that was about one
/// self-wake in five requests. With this timer the planned wake-up is
/// never more than half a second away, and only shorter timers wake the
/// driver. It costs two wake-ups a second.
async fn heartbeat() {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
    }
}

/// Starts serving thread `i`: a current-thread runtime that runs until
/// the returned sender is dropped.
fn start_one(i: usize) -> std::io::Result<(Handle, oneshot::Sender<()>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let sched = policy::wanted();
    std::thread::Builder::new()
        .name(format!("bellhop-serve-{i}"))
        .spawn(move || {
            LANE.with(|l| l.set(i + 1));
            if let Some(p) = sched {
                policy::apply(p);
            }
            rt.block_on(async {
                tokio::spawn(heartbeat());
                let _ = stopped.await;
            });
            // Connections still open are cut; a graceful stop drained
            // them before the runtime was dropped.
            rt.shutdown_timeout(Duration::from_secs(1));
        })?;
    Ok((handle, stop))
}
