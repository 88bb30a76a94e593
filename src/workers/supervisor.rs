//! The supervisor: the worker slots, the config they all run, and the
//! all-or-nothing reload across them, installed in the admin API as its
//! [`ConfigLoader`].
//!
//! A reload (two-phase, under the state lock, so restarts and reloads
//! never interleave): check the new config here (provision without
//! sockets, shareable addresses, probe the addresses the running config
//! does not hold yet), then `prepare` on every live worker; only when all
//! answer `prepared` do all get `commit`, otherwise all get `abort` and
//! the admin API answers 400 with the first failure. A worker that is
//! restarting at that moment loads the committed config when it comes up.

use super::protocol::{Channel, FromWorker, ToWorker};
use super::{ports, slot};
use bellhop_runtime::admin::ConfigLoader;
use bellhop_runtime::config::Config;
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

/// How long a worker may take to answer `prepare` or `commit`.
const ANSWER_LIMIT: Duration = Duration::from_secs(60);

/// A live worker, as the supervisor talks to it.
pub struct Conn {
    pub pid: u32,
    pub chan: Channel,
}

impl Conn {
    /// Sends `msg` and waits for the answer.
    pub async fn call(&mut self, msg: &ToWorker) -> Result<FromWorker, String> {
        self.chan
            .send(msg)
            .await
            .map_err(|e| format!("control channel: {e}"))?;
        self.chan.answer(ANSWER_LIMIT).await
    }

    /// Loads `json` alone (a worker that was restarted): prepare, commit.
    pub async fn load(&mut self, seq: u64, json: &str) -> Result<(), String> {
        let prepare = ToWorker::Prepare {
            seq,
            config: json.to_string(),
        };
        match self.call(&prepare).await? {
            FromWorker::Prepared { .. } => {}
            FromWorker::Failed { error, .. } => return Err(error),
            other => return Err(format!("unexpected answer {other:?}")),
        }
        match self.call(&ToWorker::Commit { seq }).await? {
            FromWorker::Committed { .. } => Ok(()),
            other => Err(format!("unexpected answer {other:?}")),
        }
    }
}

/// What the state lock guards.
#[derive(Default)]
pub struct State {
    /// Slot → its live worker (`None` while it is restarting).
    pub workers: Vec<Option<Conn>>,
    /// The committed config (`None` before the first load).
    pub config: Option<Arc<str>>,
    /// The addresses the committed config listens on (by key).
    pub listen: Vec<String>,
    /// `apps.http.grace_period` of the committed config.
    pub grace: Option<Duration>,
    /// The last prepare's number.
    pub seq: u64,
}

/// Shared by the supervisor handle, its loader and its slot tasks.
pub struct Shared {
    pub exe: PathBuf,
    pub state: Mutex<State>,
    /// How many workers are live (registered in `state`).
    pub live: watch::Sender<usize>,
    /// Set when the supervisor stops: slots restart nothing more.
    pub stopping: watch::Sender<bool>,
    /// Set when the stop is forced: slots kill their workers.
    pub kill: watch::Sender<bool>,
}

/// `bellhop run --workers N`'s supervisor.
pub struct Supervisor {
    shared: Arc<Shared>,
    tasks: StdMutex<Vec<JoinHandle<()>>>,
    handle: tokio::runtime::Handle,
}

impl Supervisor {
    /// Spawns `count` workers and waits (up to 30 s) until all are ready
    /// for a config; an error names what went wrong.
    pub async fn start(count: usize) -> Result<Arc<Self>, String> {
        let exe =
            std::env::current_exe().map_err(|e| format!("finding bellhop's own path: {e}"))?;
        let shared = Arc::new(Shared {
            exe,
            state: Mutex::new(State {
                workers: (0..count).map(|_| None).collect(),
                ..State::default()
            }),
            live: watch::channel(0).0,
            stopping: watch::channel(false).0,
            kill: watch::channel(false).0,
        });
        let mut tasks: Vec<JoinHandle<()>> = (0..count)
            .map(|i| tokio::spawn(slot::run(shared.clone(), i)))
            .collect();
        tasks.push(tokio::spawn(rotate_ticket_keys(shared.clone())));
        let sup = Arc::new(Supervisor {
            shared: shared.clone(),
            tasks: StdMutex::new(tasks),
            handle: tokio::runtime::Handle::current(),
        });
        let mut live = shared.live.subscribe();
        let ready = tokio::time::timeout(Duration::from_secs(30), live.wait_for(|n| *n == count));
        if !matches!(ready.await, Ok(Ok(_))) {
            sup.kill().await;
            return Err(format!(
                "the {count} workers did not all start within 30 s (see the log)"
            ));
        }
        Ok(sup)
    }

    /// The admin API's loader: runs configs on the workers.
    pub fn loader(self: &Arc<Self>) -> Arc<dyn ConfigLoader> {
        self.clone()
    }

    /// The workers' process IDs, by slot (0 while restarting).
    pub async fn pids(&self) -> Vec<u32> {
        let st = self.shared.state.lock().await;
        st.workers
            .iter()
            .map(|w| w.as_ref().map_or(0, |c| c.pid))
            .collect()
    }

    /// Loads `json` on every worker, all or nothing.
    async fn reload(&self, json: &[u8], config: &Config) -> Result<(), String> {
        let (addrs, rotation) = ports::addresses(config)?;
        let json: Arc<str> = String::from_utf8_lossy(json).into();
        let mut st = self.shared.state.lock().await;
        for a in addrs.iter().filter(|a| !st.listen.contains(&a.key())) {
            ports::probe(a).map_err(|e| format!("loading config: {e}"))?;
        }
        st.seq += 1;
        let seq = st.seq;
        let failure = prepare_all(&mut st.workers, seq, &json).await;
        let finish = match failure {
            Some(_) => ToWorker::Abort { seq },
            None => ToWorker::Commit { seq },
        };
        for (i, w) in st.workers.iter_mut().enumerate() {
            if let Some(w) = w {
                if let Err(e) = w.call(&finish).await {
                    tracing::error!(worker = i, pid = w.pid, error = %e, "worker did not confirm {finish:?}");
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        st.config = Some(json);
        if let Some(r) = rotation {
            bellhop_runtime::tls::tickets::keys().configure(&r);
        }
        st.listen = addrs.iter().map(|a| a.key()).collect();
        st.grace = config.grace_period();
        Ok(())
    }

    /// Stops every worker gracefully: `stop` to each, then waits for them
    /// within the grace period (plus a moment), and kills what is left.
    pub async fn stop(&self) {
        self.shared.stopping.send_replace(true);
        let grace = {
            let mut st = self.shared.state.lock().await;
            for (i, w) in st.workers.iter_mut().enumerate() {
                if let Some(w) = w {
                    if let Err(e) = w.chan.send(&ToWorker::Stop).await {
                        tracing::warn!(worker = i, pid = w.pid, error = %e, "could not tell the worker to stop");
                    }
                }
            }
            st.grace
        };
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let all = futures_join(tasks);
        tokio::pin!(all);
        let limit = grace.map(|g| g + Duration::from_secs(2));
        let done = match limit {
            Some(l) => tokio::time::timeout(l, &mut all).await.is_ok(),
            None => {
                (&mut all).await;
                true
            }
        };
        if !done {
            tracing::warn!("workers still running after the grace period; killing them");
            self.shared.kill.send_replace(true);
            all.await;
        }
    }

    /// Kills every worker at once (a forced quit).
    pub async fn kill(&self) {
        self.shared.stopping.send_replace(true);
        self.shared.kill.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        futures_join(tasks).await;
    }
}

/// Rotates the session ticket keys every `rotation_interval` and hands
/// them to every live worker (a worker started later gets them first
/// thing, see `slot`).
async fn rotate_ticket_keys(shared: Arc<Shared>) {
    let keys = bellhop_runtime::tls::tickets::keys();
    let mut stopping = shared.stopping.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(keys.interval()) => {}
            _ = async { drop(stopping.wait_for(|s| *s).await) } => return,
        }
        if keys.is_distributed() {
            // the workers take their keys from storage (tls.stek.distributed)
            continue;
        }
        keys.rotate();
        let msg = ToWorker::TicketKeys {
            keys: super::protocol::export_ticket_keys(),
        };
        let mut st = shared.state.lock().await;
        for (i, w) in st.workers.iter_mut().enumerate() {
            if let Some(w) = w {
                if let Err(e) = w.call(&msg).await {
                    tracing::error!(worker = i, pid = w.pid, error = %e, "worker did not take the new session ticket keys");
                }
            }
        }
        tracing::info!("session ticket keys rotated");
    }
}

/// Waits for every task.
async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

/// Sends `prepare` to every live worker, then collects the answers; the
/// first failure, if any, names the worker.
async fn prepare_all(workers: &mut [Option<Conn>], seq: u64, json: &Arc<str>) -> Option<String> {
    let msg = ToWorker::Prepare {
        seq,
        config: json.to_string(),
    };
    let mut failure = None;
    let mut sent = vec![false; workers.len()];
    for (i, w) in workers.iter_mut().enumerate() {
        if let Some(w) = w {
            match w.chan.send(&msg).await {
                Ok(()) => sent[i] = true,
                Err(e) => {
                    failure.get_or_insert(format!(
                        "loading config: worker {i} (pid {}): control channel: {e}",
                        w.pid
                    ));
                }
            }
        }
    }
    for (i, w) in workers.iter_mut().enumerate() {
        let Some(w) = w.as_mut().filter(|_| sent[i]) else {
            continue;
        };
        let why = match w.chan.answer(ANSWER_LIMIT).await {
            Ok(FromWorker::Prepared { seq: s }) if s == seq => continue,
            Ok(FromWorker::Failed { error, .. }) => error,
            Ok(other) => format!("unexpected answer {other:?}"),
            Err(e) => e,
        };
        tracing::error!(worker = i, pid = w.pid, error = %why, "worker could not load the config");
        failure.get_or_insert(match why.strip_prefix("loading config: ") {
            Some(rest) => format!("loading config: {rest} (worker {i}, pid {})", w.pid),
            None => format!("loading config: worker {i} (pid {}): {why}", w.pid),
        });
    }
    failure
}

impl ConfigLoader for Supervisor {
    fn load(&self, json: &[u8], config: &Config) -> Result<(), String> {
        self.handle.block_on(self.reload(json, config))
    }
}
