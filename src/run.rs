//! `bellhop run`: load a config and serve it in the foreground until
//! SIGINT, SIGTERM or `POST /stop`; a second SIGINT forces the exit
//! (code 2). The admin API serves alongside; SIGUSR1 (and, with
//! `--watch`, a change of the file) reloads the config file; `--resume`
//! starts from the last autosaved config. `--workers N` serves with N
//! worker processes under a supervisor (see `workers`). SIGUSR2 (or
//! `POST /upgrade`) hands over to a new binary (see `upgrade`); `--pidfile`
//! names the process that serves. With `NOTIFY_SOCKET` set, the service
//! manager hears READY/RELOADING/STOPPING (see `notify`).

use crate::config_source::{self, AdapterName};
use crate::live;
use crate::notify::Notifier;
use crate::upgrade::{self, child::Incoming, Upgrader};
use crate::workers::{Supervisor, WorkerCount};
use crate::Outcome;
use anyhow::{Context, Result};
use tokio::signal::unix::{signal, Signal, SignalKind};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Environment file(s) to load first.
    #[command(flatten)]
    pub env: crate::info::EnvFiles,
    /// Print the environment before serving.
    #[arg(long)]
    environ: bool,
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
    /// Worker processes to serve with: a number, or `auto` (one per
    /// core). With more than one, this process supervises them and serves
    /// the admin API; they share the ports through SO_REUSEPORT.
    #[arg(long, default_value = "1", value_name = "N|auto")]
    workers: WorkerCount,
    /// Write the PID of the serving process to this file (rewritten by
    /// the new process after an upgrade).
    #[arg(long)]
    pidfile: Option<std::path::PathBuf>,
    /// Report the outcome of loading to `bellhop start` at this address.
    #[arg(long, hide = true)]
    pingback: Option<String>,
    /// Print `Server address: …` per listener once serving (the one-line
    /// commands' way, as Caddy's `respond`).
    #[arg(skip)]
    announce: bool,
}

/// Serves a config a one-line command built (`respond`, `file-server`,
/// `reverse-proxy`) as `run` serves a file, until interrupted.
pub fn serve_built(json: Vec<u8>, label: &str, announce: bool) -> Result<Outcome> {
    bellhop_runtime::listeners::inherited::record();
    crate::logging::init();
    let args = Args {
        config: None,
        adapter: Some(AdapterName::Json),
        resume: false,
        watch: false,
        workers: WorkerCount(1),
        pidfile: None,
        pingback: None,
        announce,
        env: Default::default(),
        environ: false,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(json, label, &args, None, |_| {}, None))
}

pub fn run(args: Args) -> Result<Outcome> {
    // Before anything opens a descriptor: which sockets we inherited
    // (`fd/N` listen addresses, systemd's socket activation).
    bellhop_runtime::listeners::inherited::record();
    crate::logging::init();
    if args.environ {
        crate::info::print_environment();
    }
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
    let workers = match start_workers(args.workers).await {
        Ok(w) => w,
        Err(e) => {
            eprintln!("bellhop: {e}");
            report(Err(e));
            return Ok(Outcome::ConfigError);
        }
    };
    if let Some(inc) = incoming.as_mut() {
        inc.seed(runtime.listener_pool());
    }
    let notifier = std::sync::Arc::new(Notifier::from_env());
    let admin = live::admin(
        runtime.clone(),
        live::Hooks {
            loader: workers.as_ref().map(|w| w.loader()),
            notifier: notifier.clone(),
            // A supervisor's workers hold their own sockets: no hand-off.
            upgrade: workers.is_none().then_some(upgrade_hook),
        },
    );
    if let Err(e) = admin.load(json, true).await {
        eprintln!("bellhop: loading {path}: {e}");
        report(Err(format!("loading {path}: {e}")));
        if let Some(w) = &workers {
            w.stop().await;
        }
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
    notifier.ready();
    if args.announce {
        for a in runtime.listen_addrs() {
            println!("Server address: {a}");
        }
    }
    match &workers {
        Some(w) => {
            tracing::info!(config = path, workers = ?w.pids().await, admin = admin.address().as_deref().unwrap_or("off"), "serving initial configuration")
        }
        None => {
            tracing::info!(config = path, listen = ?runtime.listen_addrs(), admin = admin.address().as_deref().unwrap_or("off"), "serving initial configuration")
        }
    }
    let file = path;
    let mut handed_off = false;
    loop {
        tokio::select! {
            _ = signals.stop_requested() => break,
            _ = admin.stop_requested() => break,
            _ = usr1.recv() => live::reload_file(&admin, file, args.adapter, "SIGUSR1").await,
            p = upgrader.next() => if workers.is_some() {
                upgrader.refuse(p, "binary upgrades are not supported with --workers yet");
            } else if upgrader.perform(p, &admin).await {
                handed_off = true;
                break;
            },
            _ = async { match watcher.as_mut() { Some(w) => w.changed().await, None => live::never().await } } => {
                live::reload_file(&admin, file, args.adapter, "file changed").await
            }
        }
    }
    if !handed_off {
        // After a hand-off the new process is the service: it said READY
        // (with its MAINPID), and the service manager must not hear us stop.
        notifier.stopping();
    }
    match handed_off {
        true => tracing::info!("draining after the hand-over; interrupt to force the exit"),
        false => tracing::info!("shutting down gracefully; interrupt again to force"),
    }
    let stopped = async {
        match handed_off {
            true => runtime.drain().await,
            false => runtime.stop().await,
        }
        if let Some(w) = &workers {
            w.stop().await;
        }
    };
    let outcome = tokio::select! {
        _ = stopped => Outcome::Ok,
        _ = signals.interrupted() => {
            tracing::warn!("forced quit");
            if let Some(w) = &workers {
                w.kill().await;
            }
            Outcome::Forced
        }
    };
    admin.shutdown().await;
    Ok(outcome)
}

/// The workers' supervisor, for `--workers` above 1.
async fn start_workers(count: WorkerCount) -> Result<Option<std::sync::Arc<Supervisor>>, String> {
    if count.0 <= 1 {
        return Ok(None);
    }
    let w = Supervisor::start(count.0).await?;
    tracing::info!(workers = count.0, pids = ?w.pids().await, "workers started");
    Ok(Some(w))
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
