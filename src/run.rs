//! `bellhop run`: load a config and serve it in the foreground until
//! SIGINT or SIGTERM; a second SIGINT forces the exit (code 2).

use crate::config_source::{self, AdapterName};
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
}

pub fn run(args: Args) -> Result<Outcome> {
    crate::logging::init();
    let path = match args.config {
        Some(p) => p,
        None => {
            match config_source::default_config()? {
                Some(p) => p,
                None => {
                    eprintln!("bellhop run: no config file given and no ./Caddyfile here; use --config FILE");
                    return Ok(Outcome::UsageError);
                }
            }
        }
    };
    let json = match config_source::load(&path, args.adapter) {
        Ok(j) => j,
        Err(e) => {
            e.report();
            return Ok(Outcome::ConfigError);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(json, &path))
}

async fn serve(json: Vec<u8>, path: &str) -> Result<Outcome> {
    // Handlers first: a SIGTERM that arrives once we serve must stop us
    // gracefully, not kill us.
    let mut signals = Signals::install()?;
    let runtime = bellhop_runtime::Runtime::new();
    if let Err(e) = runtime.load(&json) {
        eprintln!("bellhop: loading {path}: {e}");
        return Ok(Outcome::ConfigError);
    }
    tracing::info!(config = path, listen = ?runtime.listen_addrs(), "serving");
    signals.stop_requested().await;
    tracing::info!("shutting down gracefully; interrupt again to force");
    tokio::select! {
        _ = runtime.stop() => Ok(Outcome::Ok),
        _ = signals.interrupted() => {
            tracing::warn!("forced quit");
            Ok(Outcome::Forced)
        }
    }
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
