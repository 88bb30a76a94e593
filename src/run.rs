//! `bellhop run`: load a config and serve it in the foreground until
//! SIGINT or SIGTERM; a second SIGINT forces the exit (code 2).

use crate::config_source::{self, AdapterName};
use crate::Outcome;
use anyhow::{Context, Result};
use std::time::Duration;

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
    let runtime = bellhop_runtime::Runtime::new();
    if let Err(e) = runtime.load(&json) {
        eprintln!("bellhop: loading {path}: {e}");
        return Ok(Outcome::ConfigError);
    }
    tracing::info!(config = path, listen = ?runtime.listen_addrs(), "serving");
    let forced = shutdown_signal().await;
    tracing::info!("shutting down gracefully; interrupt again to force");
    tokio::select! {
        _ = runtime.stop() => Ok(Outcome::Ok),
        _ = forced => {
            tracing::warn!("forced quit");
            Ok(Outcome::Forced)
        }
    }
}

/// Waits for SIGINT or SIGTERM; returns a future that resolves on the next
/// SIGINT (the force-quit signal).
async fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    async move {
        int.recv().await;
        // Give the log line a moment to reach the terminal.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
