//! `bellhop run`: load a config and serve it in the foreground until
//! SIGINT, SIGTERM or `POST /stop`; a second SIGINT forces the exit
//! (code 2). The admin API serves alongside; SIGUSR1 (and, with
//! `--watch`, a change of the file) reloads the config file; `--resume`
//! starts from the last autosaved config. SIGUSR2 (or `POST /upgrade`)
//! hands over to a new binary (see `upgrade`); `--pidfile` names the
//! process that serves.

use crate::config_source::{self, AdapterName};
use crate::live;
use crate::upgrade::{self, child::Incoming, Upgrader};
use crate::Outcome;
use anyhow::{Context, Result};
use tokio::signal::unix::{signal, Signal, SignalKind};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The config file (default `./Caddyfile` when it exists).
    #[arg(long, short = 'c')]
    config: Option<String>,
    /// The config adapter (inferred from the file name when omitted).
    #[arg(long, short = 'a', value_enum)]
    adapter: Option<AdapterName>,
    /// Start from the last autosaved config, when there is one.
    #[arg(long)]
    resume: bool,
    /// Reload the config file whenever it changes.
    #[arg(long)]
    watch: bool,
    /// Write the PID of the serving process to this file (rewritten by
    /// the new process after an upgrade).
    #[arg(long)]
    pidfile: Option<std::path::PathBuf>,
    /// Report the outcome of loading to `bellhop start` at this address.
    #[arg(long, hide = true)]
    pingback: Option<String>,
}

pub fn run(args: Args) -> Result<Outcome> {
    crate::logging::init();
    // Started by an upgrade: the old process's sockets and config.
    let mut incoming = Incoming::from_env()?;
    let secret = match &args.pingback {
        Some(_) => Some(live::read_secret().context("reading the start secret")?),
        None => None,
    };
    let report = |outcome: Result<(), String>| {
        if let (Some(addr), Some(secret)) = (&args.pingback, &secret) {
            live::ping_back(addr, secret, outcome);
        }
    };
    let resumed = if args.resume { live::resume() } else { None };
    let path = match (&args.config, &resumed) {
        (Some(p), _) => p.clone(),
        (None, Some((p, _))) => p.display().to_string(),
        (None, None) => {
            match config_source::default_config()? {
                Some(p) => p,
                None => {
                    eprintln!("bellhop run: no config file given and no ./Caddyfile here; use --config FILE");
                    report(Err("no config file given".into()));
                    return Ok(Outcome::UsageError);
                }
            }
        }
    };
    // Watch from before the file is read, so no change goes unseen.
    let watcher = args.watch.then(|| live::Watcher::new(&path));
    let json = match (incoming.as_mut(), resumed) {
        (Some(inc), _) => inc.take_config(),
        (None, Some((p, json))) => {
            tracing::info!(file = %p.display(), "resuming from the autosaved config");
            json
        }
        (None, None) => match config_source::load(&path, args.adapter) {
            Ok(j) => j,
            Err(e) => {
                report(Err(format!("{path}: invalid config (see the log)")));
                e.report();
                return Ok(Outcome::ConfigError);
            }
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(json, &path, &args, watcher, report, incoming))
}

async fn serve(
    json: Vec<u8>,
    path: &str,
    args: &Args,
    mut watcher: Option<live::Watcher>,
    report: impl Fn(Result<(), String>),
    mut incoming: Option<Incoming>,
) -> Result<Outcome> {
    // Handlers first: a SIGTERM that arrives once we serve must stop us
    // gracefully, not kill us.
    let mut signals = Signals::install()?;
    let mut usr1 = signal(SignalKind::user_defined1()).context("installing the SIGUSR1 handler")?;
    let (mut upgrader, upgrade_hook) = Upgrader::install()?;
    let runtime = bellhop_runtime::Runtime::new();
    if let Some(inc) = incoming.as_mut() {
        inc.seed(runtime.listener_pool());
    }
    let admin = live::admin(runtime.clone(), Some(upgrade_hook));
    if let Err(e) = admin.load(json, true).await {
        eprintln!("bellhop: loading {path}: {e}");
        report(Err(format!("loading {path}: {e}")));
        if let Some(inc) = incoming {
            inc.fail(&format!("loading the running config: {e}"));
        }
        return Ok(Outcome::ConfigError);
    }
    if let Some(inc) = incoming {
        inc.ready(runtime.listener_pool()).await;
    }
    upgrade::pidfile::write_logged(args.pidfile.as_deref());
    report(Ok(()));
    tracing::info!(config = path, listen = ?runtime.listen_addrs(), admin = ?admin.address(), "serving");
    let file = path;
    let mut handed_off = false;
    loop {
        tokio::select! {
            _ = signals.stop_requested() => break,
            _ = admin.stop_requested() => break,
            _ = usr1.recv() => live::reload_file(&admin, file, args.adapter, "SIGUSR1").await,
            p = upgrader.next() => if upgrader.perform(p, &admin).await {
                handed_off = true;
                break;
            },
            _ = async { match watcher.as_mut() { Some(w) => w.changed().await, None => live::never().await } } => {
                live::reload_file(&admin, file, args.adapter, "file changed").await
            }
        }
    }
    match handed_off {
        true => tracing::info!("draining after the hand-over; interrupt to force the exit"),
        false => tracing::info!("shutting down gracefully; interrupt again to force"),
    }
    let outcome = tokio::select! {
        _ = runtime.drain(), if handed_off => Outcome::Ok,
        _ = runtime.stop(), if !handed_off => Outcome::Ok,
        _ = signals.interrupted() => {
            tracing::warn!("forced quit");
            Outcome::Forced
        }
    };
    admin.shutdown().await;
    Ok(outcome)
}

/// The signals `run` obeys: SIGINT or SIGTERM stop gracefully; another
/// SIGINT during the stop forces the exit.
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    async fn stop_requested(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.int.recv() => {},
        }
    }

    async fn interrupted(&mut self) {
        self.int.recv().await;
    }
}
