//! The running runtime: the current [`Instance`] behind an atomic pointer,
//! the listener pool, and the connection count used to drain on shutdown.
//!
//! `load` provisions a new config whole (modules and listeners), then swaps
//! it in atomically; the old config gives up its listeners (those the new
//! one shares stay open, unbound never), and is cleaned up when its last
//! in-flight request finishes.

use crate::config::Config;
use crate::error::Error;
use crate::http::serve;
use crate::instance::Instance;
use crate::listeners::Pool;
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
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.zero.notify_waiters();
        }
    }
}

/// State shared by the runtime and its connection tasks.
pub struct Shared {
    current: ArcSwapOption<Instance>,
    pub conns: ConnCount,
    pool: Pool,
    registry: Registry,
}

impl Shared {
    /// The config serving now.
    pub fn current(&self) -> Option<Arc<Instance>> {
        self.current.load_full()
    }
}

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
        Runtime {
            shared: Arc::new(Shared {
                current: ArcSwapOption::empty(),
                conns: ConnCount::default(),
                pool: Pool::default(),
                registry,
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
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Other(
                "Runtime::load must run within a Tokio runtime".into(),
            ));
        }
        let s = &self.shared;
        let new = Arc::new(Instance::provision(config, &s.registry, Some(&s.pool))?);
        let sockets = new.sockets();
        let old = s.current.swap(Some(new));
        for socket in sockets {
            serve::spawn_accept(socket, s.clone());
        }
        if let Some(old) = old {
            old.release_listeners(old.grace_period);
        }
        Ok(())
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
        let grace = self.shared.current().and_then(|i| i.grace_period);
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
        let conns = &self.shared.conns;
        let drained = async {
            while conns.open() > 0 {
                let notified = conns.zero.notified();
                if conns.open() == 0 {
                    break;
                }
                notified.await;
            }
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

/// Checks a config: decodes and provisions every module without binding
/// any socket.
pub fn validate(config_json: &[u8]) -> Result<(), Error> {
    let config = Config::from_json(config_json)?;
    Instance::provision(&config, &Registry::standard(), None).map(drop)
}
