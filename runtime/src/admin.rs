//! The admin API: Caddy's management endpoint on its own listener.
//!
//! Every config change, whether a whole `POST /load` or a
//! `POST/PUT/PATCH/DELETE /config/…` edit, goes through one serialized
//! pipeline ([`change`]): edit a copy of the raw JSON, skip identical
//! configs, decode and provision the new config whole (admin listener
//! included), swap it in, then autosave it. A failure leaves the running
//! config, the raw JSON and every socket as they were.
//!
//! Code map:
//! - `change`: the pipeline and the raw-config snapshot (`@id` index).
//! - `traverse`: Caddy's `/config/` path semantics on `serde_json::Value`.
//! - `server`: the admin listener and its hyper connections.
//! - `routes`: the endpoints; `origin`: Host/Origin/Sec-Fetch defences.
//! - `metrics`: Prometheus text; `persist`: autosave location and writes.
//! - `hooks`: upstream and CA registries other parts of the runtime fill.
//! - `client`: a small admin client (CLI and tests).
//! - `upgrade`: `POST /upgrade`, through a hook the binary injects.
//! - `loader`: `admin.config.load` (`caddy.config_loaders.http`): the
//!   running config pulls the next one, applied through `change`.
//!
//! The runtime never sees Caddyfile text: adapters (`text/caddyfile`) are
//! injected by the binary through [`ConfigAdapter`].

mod canonical;
mod change;
pub mod client;
pub mod hooks;
pub mod loader;
mod metrics;
mod origin;
pub mod persist;
mod remote;
mod routes;
mod server;
mod traverse;
pub mod upgrade;

pub use hooks::{upstreams_status, UpstreamStatus};
pub use upgrade::UpgradeHook;

use crate::app::{ConnCount, Runtime};
pub(crate) use crate::util::lock;
use arc_swap::ArcSwap;
use http::StatusCode;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The admin address when neither the config nor `BELLHOP_ADMIN` names one.
pub const DEFAULT_LISTEN: &str = "localhost:2019";

/// Default cap on admin request bodies.
pub const DEFAULT_MAX_BODY: usize = 100 << 20;

/// Turns a config in another format into Caddy JSON (`text/caddyfile`).
pub trait ConfigAdapter: Send + Sync {
    /// The JSON config for `body`, or an error message.
    fn adapt(&self, body: &[u8]) -> Result<Vec<u8>, String>;

    /// Like [`ConfigAdapter::adapt`], with the adapter's warnings.
    fn adapt_with_warnings(&self, body: &[u8]) -> Result<(Vec<u8>, Vec<String>), String> {
        self.adapt(body).map(|json| (json, Vec::new()))
    }
}

/// Runs a config in place of the admin's own [`Runtime`]: `bellhop run
/// --workers N` installs one that passes each change to its worker
/// processes (all switch, or none does). The admin API still decodes the
/// config, serves itself and keeps the raw JSON.
pub trait ConfigLoader: Send + Sync {
    /// Runs `json` (decoded as `config`), or says why not, leaving the
    /// running config in place. Called under the change lock, on a
    /// blocking thread within the Tokio runtime: it may block.
    fn load(&self, json: &[u8], config: &crate::config::Config) -> Result<(), String>;
}

/// How the admin API is set up, beyond what the config says.
pub struct AdminOptions {
    /// The listen address when the config has no `admin.listen`.
    pub default_listen: String,
    /// Where each successful change is saved (`None`: nowhere).
    pub autosave: Option<PathBuf>,
    /// Cap on request bodies (413 beyond).
    pub max_body: usize,
    /// Adapters by media type (`text/caddyfile`), lower case.
    pub adapters: Vec<(String, Arc<dyn ConfigAdapter>)>,
    /// Runs configs instead of the runtime (`None`: the runtime does).
    pub loader: Option<Arc<dyn ConfigLoader>>,
    /// Told when a config change starts to apply and when it is done (a
    /// service manager's `RELOADING=1` / `READY=1`); not told about
    /// changes skipped as unchanged.
    pub on_change: Option<Arc<dyn Fn(ChangeEvent) + Send + Sync>>,
    /// What `POST /upgrade` runs (`None`: 501).
    pub upgrade: Option<Arc<dyn UpgradeHook>>,
}

/// A step of a config change, for [`AdminOptions::on_change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeEvent {
    /// A new config is about to be provisioned.
    Applying,
    /// The change is over: it is serving (`ok`), or it failed and the old
    /// config serves on.
    Applied { ok: bool },
}

impl Default for AdminOptions {
    fn default() -> Self {
        AdminOptions {
            default_listen: DEFAULT_LISTEN.into(),
            autosave: None,
            max_body: DEFAULT_MAX_BODY,
            adapters: Vec::new(),
            loader: None,
            on_change: None,
            upgrade: None,
        }
    }
}

impl AdminOptions {
    /// Options as `bellhop run` uses them: `BELLHOP_ADMIN` overrides the
    /// default address; autosave goes to the config directory.
    pub fn from_env() -> Self {
        AdminOptions {
            default_listen: std::env::var("BELLHOP_ADMIN")
                .ok()
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_LISTEN.into()),
            autosave: persist::autosave_path(),
            ..Self::default()
        }
    }

    /// Adds an adapter for `media_type`.
    pub fn with_adapter(mut self, media_type: &str, adapter: Arc<dyn ConfigAdapter>) -> Self {
        self.adapters
            .push((media_type.to_ascii_lowercase(), adapter));
        self
    }

    /// Runs configs with `loader` instead of the runtime.
    pub fn with_loader(mut self, loader: Arc<dyn ConfigLoader>) -> Self {
        self.loader = Some(loader);
        self
    }
}

/// A failed admin request: its status and the message of `{"error": …}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// A 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

/// The admin API of a [`Runtime`]. Cheap to clone.
#[derive(Clone)]
pub struct Admin {
    inner: Arc<Inner>,
}

/// State shared by the admin handle, its server and its connections.
pub(crate) struct Inner {
    pub runtime: Runtime,
    pub opts: AdminOptions,
    /// The raw config now running, as the API shows it.
    pub raw: ArcSwap<change::RawConfig>,
    /// Serializes changes.
    pub changing: Mutex<()>,
    /// The admin server now serving (none when disabled).
    pub server: Mutex<Option<server::AdminServer>>,
    /// The remote (mutual TLS) admin endpoint, when configured.
    pub remote: Mutex<Option<server::RemoteServer>>,
    pub metrics: metrics::Metrics,
    /// Admin connections open now.
    pub conns: ConnCount,
    /// Set by `POST /stop`.
    pub stop: watch::Sender<bool>,
    /// Writes `autosave.json` off the change's thread.
    pub saver: persist::Saver,
    /// The running config's loader task (`admin.config.load`).
    pub loading: Mutex<Option<loader::Running>>,
}

impl Admin {
    /// An admin API for `runtime`; it starts serving with the first load.
    pub fn new(runtime: Runtime, opts: AdminOptions) -> Self {
        Admin {
            inner: Arc::new(Inner {
                runtime,
                opts,
                raw: ArcSwap::from_pointee(change::RawConfig::default()),
                changing: Mutex::new(()),
                server: Mutex::new(None),
                remote: Mutex::new(None),
                metrics: metrics::Metrics::default(),
                conns: ConnCount::default(),
                stop: watch::channel(false).0,
                saver: persist::Saver::default(),
                loading: Mutex::new(None),
            }),
        }
    }

    /// The runtime this API manages.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// Loads a whole JSON config as `POST /load` does (`force`: even when
    /// identical). Returns whether anything changed.
    pub async fn load(&self, json: Vec<u8>, force: bool) -> Result<bool, ApiError> {
        self.inner
            .clone()
            .change_async(change::Edit::Replace(json), None, force)
            .await
    }

    /// The address the admin server listens on (`127.0.0.1:2019`,
    /// `unix//path`), when enabled.
    pub fn address(&self) -> Option<String> {
        lock(&self.inner.server).as_ref().map(|s| s.address.clone())
    }

    /// The address of the remote (mutual TLS) admin endpoint, when the
    /// config has one.
    pub fn remote_address(&self) -> Option<String> {
        lock(&self.inner.remote).as_ref().map(|s| s.address.clone())
    }

    /// The JSON config now running (`null` before the first load).
    pub fn config_json(&self) -> Vec<u8> {
        self.inner.raw.load().json.clone()
    }

    /// Resolves once `POST /stop` was received.
    pub async fn stop_requested(&self) {
        let mut rx = self.inner.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// The admin listener's pooled socket, when the admin API is enabled
    /// (a binary upgrade hands it over).
    pub fn listener(&self) -> Option<Arc<crate::listeners::Socket>> {
        lock(&self.inner.server).as_ref().map(|s| s.socket())
    }

    /// Stops accepting admin connections; open ones finish their request.
    pub fn close_listener(&self) {
        let old = lock(&self.inner.server).take();
        drop(old);
    }

    /// Stops the admin server, letting its requests finish (within 5 s);
    /// then waits for the autosave of the last change.
    pub async fn shutdown(&self) {
        self.close_listener();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.inner.conns.open() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.autosaved().await;
    }

    /// Waits until `autosave.json` holds the last change made (saves are
    /// written off the change's thread).
    pub async fn autosaved(&self) {
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || inner.saver.flush()).await;
    }
}
