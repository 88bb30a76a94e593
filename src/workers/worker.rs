//! `bellhop worker` (hidden): one worker process of `bellhop run
//! --workers N`. Its standard input is its end of the control channel
//! (a unix socket the supervisor made); it serves whatever configs the
//! supervisor commits, with `SO_REUSEPORT` listeners so every worker has
//! its own accept queue on the shared ports, and no admin API.
//!
//! It stops gracefully on `stop`, on SIGTERM or SIGINT, and when the
//! supervisor is gone (end of file on the channel): a worker never
//! outlives its supervisor.

use super::protocol::{Channel, FromWorker, ToWorker};
use crate::Outcome;
use anyhow::{Context, Result};
use bellhop_runtime::app::Prepared;
use bellhop_runtime::config::Config;
use bellhop_runtime::listeners::BindOptions;
use bellhop_runtime::registry::Registry;
use bellhop_runtime::Runtime;
use std::os::fd::AsFd;
use tokio::signal::unix::{signal, SignalKind};

pub fn run() -> Result<Outcome> {
    crate::logging::init();
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating standard input")?;
    let sock = std::os::unix::net::UnixStream::from(fd);
    if sock.local_addr().is_err() {
        eprintln!("bellhop worker: started by `bellhop run --workers N` only (standard input must be the supervisor's socket)");
        return Ok(Outcome::UsageError);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(sock))
}

async fn serve(sock: std::os::unix::net::UnixStream) -> Result<Outcome> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut chan = Channel::new(sock).context("opening the control channel")?;
    // Workers of one supervisor share their ports, each with its own
    // accept queue.
    let runtime =
        Runtime::with_bind_options(Registry::standard(), BindOptions { reuse_port: true });
    let id = std::env::var("BELLHOP_WORKER_ID").unwrap_or_default();
    chan.send(&FromWorker::Hello {
        pid: std::process::id(),
    })
    .await
    .context("greeting the supervisor")?;
    let mut pending: Option<(u64, Prepared)> = None;
    loop {
        let msg = tokio::select! {
            m = chan.recv::<ToWorker>() => m,
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        let msg = match msg {
            Ok(Some(m)) => m,
            Ok(None) => {
                tracing::warn!(worker = id, "the supervisor is gone; stopping");
                break;
            }
            Err(e) => {
                tracing::error!(worker = id, error = %e, "control channel failed; stopping");
                break;
            }
        };
        let reply = match msg {
            ToWorker::Stop => break,
            ToWorker::Prepare { seq, config } => {
                pending = None;
                match prepare(&runtime, config).await {
                    Ok(p) => {
                        pending = Some((seq, p));
                        FromWorker::Prepared { seq }
                    }
                    Err(error) => FromWorker::Failed { seq, error },
                }
            }
            ToWorker::Commit { seq } => match pending.take() {
                Some((s, p)) if s == seq => {
                    runtime.commit(p);
                    tracing::info!(worker = id, listen = ?runtime.listen_addrs(), "serving the new config");
                    FromWorker::Committed { seq }
                }
                _ => FromWorker::Failed {
                    seq,
                    error: format!("commit of {seq}, which was not prepared"),
                },
            },
            ToWorker::Abort { seq } => {
                pending = None;
                FromWorker::Aborted { seq }
            }
            ToWorker::TicketKeys { keys } => match super::protocol::install_ticket_keys(&keys) {
                Ok(()) => FromWorker::TicketKeysSet,
                Err(error) => FromWorker::Failed { seq: 0, error },
            },
        };
        if let Err(e) = chan.send(&reply).await {
            tracing::error!(worker = id, error = %e, "control channel failed; stopping");
            break;
        }
    }
    drop(pending);
    tracing::info!(worker = id, "stopping gracefully");
    runtime.stop().await;
    Ok(Outcome::Ok)
}

/// Decodes and provisions `config` off the async threads (provisioning is
/// CPU work and binds sockets).
async fn prepare(runtime: &Runtime, config: String) -> Result<Prepared, String> {
    let runtime = runtime.clone();
    tokio::task::spawn_blocking(move || {
        let config = match config.trim() {
            "null" => Config::default(),
            json => Config::from_json(json.as_bytes())?,
        };
        runtime.prepare(&config)
    })
    .await
    .map_err(|e| format!("loading config: {e}"))?
    .map_err(|e| format!("loading config: {e}"))
}
