//! Live config changes while `bellhop run` serves: the admin API (with
//! the Caddyfile adapter injected for `Content-Type: text/caddyfile`),
//! reloading the config file on SIGUSR1 or, with `--watch`, when its
//! modification time changes, and the `--resume` start from autosave.
//!
//! Every reload goes through the admin API's change pipeline, so it is as
//! atomic as `POST /load`: on failure the running config stays.

use crate::config_source::{self, AdapterName};
use crate::notify::Notifier;
use bellhop_runtime::admin::{
    persist, Admin, AdminOptions, ChangeEvent, ConfigAdapter, ConfigLoader, UpgradeHook,
};
use bellhop_runtime::Runtime;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often `--watch` looks at the config file.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// How long a changed file must stay unchanged before it is reloaded.
const SETTLE: Duration = Duration::from_millis(100);

/// The Caddyfile adapter, for the admin API.
struct CaddyfileAdapter;

impl ConfigAdapter for CaddyfileAdapter {
    fn adapt(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        self.adapt_with_warnings(body).map(|(json, _)| json)
    }

    fn adapt_with_warnings(&self, body: &[u8]) -> Result<(Vec<u8>, Vec<String>), String> {
        let text = std::str::from_utf8(body).map_err(|e| format!("Caddyfile is not UTF-8: {e}"))?;
        let adapted = bellhop_adapter::adapt("Caddyfile", text).map_err(|e| adapter_error(&e))?;
        let json = bellhop_adapter::json::to_go_string(&adapted.config).into_bytes();
        let warnings = adapted.warnings.iter().map(|w| w.to_string()).collect();
        Ok((json, warnings))
    }
}

/// An adapter error on one line: its message (which names the place)
/// and its help, when it has one.
fn adapter_error(e: &bellhop_adapter::Error) -> String {
    use miette::Diagnostic;
    match e.help() {
        Some(help) => format!("{e} (help: {help})"),
        None => e.to_string(),
    }
}

/// What the admin API of a running process is wired to besides the
/// runtime.
pub struct Hooks {
    /// The workers' supervisor, which runs configs instead of the runtime.
    pub loader: Option<Arc<dyn ConfigLoader>>,
    /// Told about config changes (the service manager's RELOADING/READY).
    pub notifier: Arc<Notifier>,
    /// What `POST /upgrade` runs.
    pub upgrade: Option<Arc<dyn UpgradeHook>>,
}

/// The admin API of `runtime`, configured from the environment and wired
/// to `hooks`.
pub fn admin(runtime: Runtime, hooks: Hooks) -> Admin {
    let mut opts =
        AdminOptions::from_env().with_adapter("text/caddyfile", Arc::new(CaddyfileAdapter));
    if let Some(l) = hooks.loader {
        opts = opts.with_loader(l);
    }
    let notifier = hooks.notifier;
    opts.on_change = Some(Arc::new(move |event| match event {
        ChangeEvent::Applying => notifier.reloading(),
        ChangeEvent::Applied { .. } => notifier.reloaded(),
    }));
    opts.upgrade = hooks.upgrade;
    Admin::new(runtime, opts)
}

/// The autosaved config for `--resume`, when there is one.
pub fn resume() -> Option<(PathBuf, Vec<u8>)> {
    let path = persist::autosave_path()?;
    let json = std::fs::read(&path).ok()?;
    Some((path, json))
}

/// Reloads the config file through the admin API, logging the outcome.
pub async fn reload_file(admin: &Admin, path: &str, adapter: Option<AdapterName>, why: &str) {
    let json = match config_source::load(path, adapter) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(
                config = path,
                trigger = why,
                "reload failed; the running config stays"
            );
            e.report();
            return;
        }
    };
    match admin.load(json, false).await {
        Ok(true) => tracing::info!(config = path, trigger = why, "config reloaded"),
        Ok(false) => tracing::info!(config = path, trigger = why, "config unchanged"),
        Err(e) => {
            tracing::error!(config = path, trigger = why, error = %e, "reload failed; the running config stays")
        }
    }
}

/// Watches a config file's modification time and size.
pub struct Watcher {
    path: PathBuf,
    last: Option<(SystemTime, u64)>,
}

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Watcher {
    /// Starts watching `path` (its current state counts as seen).
    pub fn new(path: &str) -> Self {
        let path = PathBuf::from(path);
        let last = stamp(&path);
        Watcher { path, last }
    }

    /// Resolves when the file has changed since last seen and then stayed
    /// the same for a moment (an editor may write it in several steps).
    pub async fn changed(&mut self) {
        loop {
            tokio::time::sleep(WATCH_INTERVAL).await;
            let mut now = stamp(&self.path);
            if now.is_none() || now == self.last {
                continue;
            }
            loop {
                tokio::time::sleep(SETTLE).await;
                let again = stamp(&self.path);
                if again == now {
                    break;
                }
                now = again;
            }
            self.last = now;
            return;
        }
    }
}

/// Resolves never: stands in for a disabled trigger in `select!`.
pub async fn never() {
    std::future::pending::<()>().await
}

/// Tells `bellhop start` how loading went: connects to `addr` and sends
/// the secret it gave us, then `ok` or the error.
pub fn ping_back(addr: &str, secret: &str, outcome: Result<(), String>) {
    use std::io::Write;
    let line = match outcome {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error: {}", e.replace('\n', " ")),
    };
    match std::net::TcpStream::connect(addr) {
        Ok(mut s) => {
            let _ = writeln!(s, "{secret}\n{line}");
        }
        Err(e) => tracing::error!(address = addr, error = %e, "cannot reach the starting process"),
    }
}

/// Reads the secret `bellhop start` writes on our standard input.
pub fn read_secret() -> std::io::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_string())
}
