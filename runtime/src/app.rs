//! The running runtime: the current [`Instance`] behind an atomic pointer,
//! the listener pool, and the connection count used to drain on shutdown.
//!
//! `load` provisions a new config whole (modules and listeners), then swaps
//! it in atomically; the old config gives up its listeners (those the new
//! one shares stay open, unbound never), and is cleaned up when its last
//! in-flight request finishes.

use crate::config::Config;
use crate::error::Error;
use crate::http::accept;
use crate::instance::Instance;
use crate::listeners::{BindOptions, Pool};
use crate::registry::Registry;
use arc_swap::ArcSwapOption;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Counts open connections; notifies when the count reaches zero.
#[derive(Default)]
pub struct ConnCount {
    open: AtomicUsize,
    zero: Notify,
}

/// Held by each connection task.
pub struct Counted<'a>(&'a ConnCount);

impl ConnCount {
    /// Counts a connection until the guard drops.
    pub fn enter(&self) -> Counted<'_> {
        self.open.fetch_add(1, Ordering::AcqRel);
        Counted(self)
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Resolves once no connection is open.
    async fn zero(&self) {
        while self.open() > 0 {
            let notified = self.zero.notified();
            if self.open() == 0 {
                break;
            }
            notified.await;
        }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.zero.notify_waiters();
        }
    }
}

/// A connection's task from accept to its end (TLS handshake included),
/// so a drain never misses a connection accepted but not serving yet.
pub struct Accepted(Arc<Shared>);

impl Accepted {
    /// Counts a connection just accepted, until the guard drops.
    pub fn new(shared: &Arc<Shared>) -> Self {
        shared.accepted.open.fetch_add(1, Ordering::AcqRel);
        Accepted(shared.clone())
    }
}

impl Drop for Accepted {
    fn drop(&mut self) {
        let count = &self.0.accepted;
        if count.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            count.zero.notify_waiters();
        }
    }
}

/// State shared by the runtime and its connection tasks.
pub struct Shared {
    current: ArcSwapOption<Instance>,
    pub conns: ConnCount,
    /// Connection tasks, from accept on (see [`Accepted`]).
    accepted: ConnCount,
    pool: Pool,
    registry: Registry,
    /// HTTP metrics series, kept across reloads.
    metrics: Arc<crate::http::metrics::Metrics>,
    /// The threads TCP connections are served on.
    pub(crate) serving: crate::http::serve_threads::ServeThreads,
    /// The sockets [`Runtime::hand_off`] let go of: [`Runtime::drain`]
    /// waits for their accept loops to end before it counts connections.
    handed_off: std::sync::Mutex<Vec<Arc<crate::listeners::Socket>>>,
}

impl Shared {
    /// The config serving now.
    pub fn current(&self) -> Option<Arc<Instance>> {
        self.current.load_full()
    }
}

/// A provisioned config with its listeners bound, not yet serving
/// ([`Runtime::prepare`]). Dropping it aborts the load.
pub struct Prepared(Arc<Instance>);

/// A bellhop runtime: load configs, serve them, stop gracefully.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    /// A runtime with the standard modules and no config.
    pub fn new() -> Self {
        Self::with_registry(Registry::standard())
    }

    /// A runtime with the given modules.
    pub fn with_registry(registry: Registry) -> Self {
        Self::with_bind_options(registry, BindOptions::default())
    }

    /// A runtime with the given modules whose listener pool binds with
    /// `options` (`SO_REUSEPORT` for processes that share their ports).
    pub fn with_bind_options(registry: Registry, options: BindOptions) -> Self {
        Runtime {
            shared: Arc::new(Shared {
                current: ArcSwapOption::empty(),
                conns: ConnCount::default(),
                accepted: ConnCount::default(),
                pool: Pool::with_options(options),
                registry,
                metrics: Default::default(),
                serving: Default::default(),
                handed_off: Default::default(),
            }),
        }
    }

    /// Provisions `config_json` whole, binds what it needs, then swaps it in.
    /// On error the running config is untouched. Needs a Tokio runtime.
    pub fn load(&self, config_json: &[u8]) -> Result<(), Error> {
        let config = Config::from_json(config_json)?;
        self.load_config(&config)
    }

    /// Like [`Runtime::load`], from a decoded config.
    pub fn load_config(&self, config: &Config) -> Result<(), Error> {
        let prepared = self.prepare(config)?;
        self.commit(prepared);
        Ok(())
    }

    /// The first half of [`Runtime::load_config`]: provisions `config`
    /// whole and binds its listeners, without serving it. Dropping the
    /// result aborts (its new sockets close; shared ones stay); passing it
    /// to [`Runtime::commit`] swaps it in. Lets a caller load one config
    /// into several runtimes all-or-nothing.
    pub fn prepare(&self, config: &Config) -> Result<Prepared, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Other(
                "Runtime::load must run within a Tokio runtime".into(),
            ));
        }
        let s = &self.shared;
        let instance = Instance::provision_with(config, &s.registry, Some(&s.pool), &s.metrics)?;
        Ok(Prepared(Arc::new(instance)))
    }

    /// Swaps in a config from [`Runtime::prepare`] and drains the old one.
    pub fn commit(&self, prepared: Prepared) {
        let s = &self.shared;
        let new = prepared.0;
        new.go_live();
        let sockets = new.sockets();
        let old = s.current.swap(Some(new));
        for socket in sockets {
            accept::spawn_accept(socket, s.clone());
        }
        if let Some(old) = old {
            old.release_listeners(old.grace_period);
            // Tearing the old config down (its handlers' cleanup, freeing
            // its routes) happens off the caller's path: answer first.
            drop_later(old);
        }
    }

    /// The config serving now, if any.
    pub fn current_instance(&self) -> Option<Arc<Instance>> {
        self.shared.current()
    }

    /// The addresses the current config listens on (TCP only).
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        self.shared
            .current()
            .map(|i| i.sockets().iter().filter_map(|s| s.local).collect())
            .unwrap_or_default()
    }

    /// The addresses a named server of the current config listens on.
    pub fn server_addrs(&self, server: &str) -> Vec<SocketAddr> {
        let Some(inst) = self.shared.current() else {
            return Vec::new();
        };
        inst.sockets()
            .iter()
            .filter(|s| inst.server_for(s.id).is_some_and(|srv| srv.name == server))
            .filter_map(|s| s.local)
            .collect()
    }

    /// The HTTP metrics in Prometheus' text format, appended to `out`,
    /// when the current config collects them.
    pub fn render_http_metrics(&self, out: &mut String) {
        if let Some(m) = self.shared.current().and_then(|i| i.metrics.clone()) {
            m.render_into(out, false);
        }
    }

    /// Open client connections.
    pub fn open_connections(&self) -> usize {
        self.shared.conns.open()
    }

    /// Serves until `shutdown` resolves, then stops gracefully.
    pub async fn run_until_shutdown<F: Future<Output = ()>>(&self, shutdown: F) {
        shutdown.await;
        self.stop().await;
    }

    /// Stops: closes every listener, lets connections finish within the
    /// config's `grace_period` (forever when unset), then returns.
    pub async fn stop(&self) {
        let current = self.shared.current();
        if let Some((i, delay)) = current.as_ref().and_then(|i| Some((i, i.shutdown_delay?))) {
            // keep serving while load balancers take this instance out
            let at = tokio::time::Instant::now() + delay;
            i.schedule_shutdown(at);
            tracing::info!(delay = ?delay, "shutdown scheduled");
            tokio::time::sleep_until(at).await;
        }
        let grace = current.and_then(|i| i.grace_period);
        self.stop_with_grace(grace).await;
    }

    /// Like [`Runtime::stop`] with an explicit grace period.
    pub async fn stop_with_grace(&self, grace: Option<Duration>) {
        if let Some(old) = self.shared.current.swap(None) {
            // Once stop returns, its ports can be bound again.
            for socket in old.release_listeners(grace) {
                socket.wait_closed().await;
            }
        }
        self.wait_drained(grace).await;
    }

    /// The socket pool (a binary upgrade lists and pre-seeds it).
    pub fn listener_pool(&self) -> &Pool {
        &self.shared.pool
    }

    /// After handing every socket to a new process (binary upgrade): stops
    /// accepting, while the config keeps serving the connections open here.
    /// Their HTTP/1 responses from now on carry `Connection: close`, and
    /// idle ones close, so clients reconnect to the new process.
    pub fn hand_off(&self) {
        if let Some(current) = self.shared.current() {
            for socket in current.sockets() {
                socket.mark_handed_off();
            }
            let closing = current.release_listeners(current.grace_period);
            *crate::util::lock(&self.shared.handed_off) = closing;
        }
    }

    /// After [`Runtime::hand_off`]: waits for the open connections within
    /// the config's `grace_period` (forever when unset), then drops it.
    pub async fn drain(&self) {
        let grace = self.shared.current().and_then(|i| i.grace_period);
        // An accept loop that has not seen its stop yet may still take a
        // connection from the shared queue: it counts it before it looks
        // again, so once every loop has ended the count is complete.
        let closing = std::mem::take(&mut *crate::util::lock(&self.shared.handed_off));
        let ended = async {
            for socket in closing {
                socket.wait_closed().await;
            }
        };
        // One grace period for both waits, not one each.
        let left = match grace {
            Some(g) => {
                let started = tokio::time::Instant::now();
                drop(tokio::time::timeout(g, ended).await);
                Some(g.saturating_sub(started.elapsed()))
            }
            None => {
                ended.await;
                None
            }
        };
        self.wait_drained(left).await;
        self.shared.current.swap(None);
    }

    async fn wait_drained(&self, grace: Option<Duration>) {
        let drained = async {
            self.shared.accepted.zero().await;
            self.shared.conns.zero().await;
        };
        match grace {
            // Connections close themselves once the grace period is over;
            // allow them a moment to do so.
            Some(g) => {
                let _ = tokio::time::timeout(g + Duration::from_millis(250), drained).await;
            }
            None => drained.await,
        }
    }
}

/// Drops `v` off the serving threads, on a low-priority thread (freeing a
/// large config takes milliseconds nobody should wait for).
pub fn drop_later<T: Send + 'static>(v: T) {
    crate::util::background::drop_later(v);
}

/// Checks a config: decodes and provisions every module without binding
/// any socket.
pub fn validate(config_json: &[u8]) -> Result<(), Error> {
    let config = Config::from_json(config_json)?;
    Instance::provision(&config, &Registry::standard(), None).map(drop)
}
