//! Zero-downtime binary upgrade of a running `bellhop run`.
//!
//! Triggered by SIGUSR2 or the admin API's `POST /upgrade` (which
//! `bellhop upgrade` sends), the running process starts the binary that
//! `/proc/self/exe` names now (after a package upgrade: the new file) with
//! its own `run` arguments, and hands it every listening socket, the admin
//! socket included, and its running config (admin API changes included)
//! over a unix socket with `SCM_RIGHTS`. The new process loads that config
//! on the very same sockets, reports ready, and only then does the old one
//! stop accepting and drain its connections within `grace_period`, then
//! exit 0. The listening sockets never close, so no connection is refused.
//! If the new process fails or stays silent past the timeout, the old one
//! keeps serving and reports why.
//!
//! Code map: `parent` (the old process), `child` (the new one), `wire`
//! (the conversation between them), `pidfile` (`run --pidfile`),
//! `command` (`bellhop upgrade`).

pub mod child;
pub mod command;
mod parent;
pub mod pidfile;
mod wire;

use anyhow::{Context, Result};
use bellhop_runtime::admin::upgrade::{UpgradeHook, UpgradeResult};
use bellhop_runtime::admin::Admin;
use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{mpsc, oneshot};

/// Where a new process finds the old one's hand-off socket.
pub const ENV_SOCKET: &str = "BELLHOP_UPGRADE_SOCKET";

/// How long the new process may take to serve, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One upgrade to perform.
#[derive(Debug, Clone)]
pub struct Request {
    /// The binary to start (default: `/proc/self/exe`).
    pub binary: Option<PathBuf>,
    /// How long the new process may take to report ready.
    pub timeout: Duration,
}

impl Request {
    /// From the JSON body of `POST /upgrade`:
    /// `{"binary": "/path", "timeout_ms": 30000}`, both optional.
    fn from_body(body: &[u8]) -> Result<Self, String> {
        let mut req = Request {
            binary: None,
            timeout: DEFAULT_TIMEOUT,
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(req);
        }
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("request body: {e}"))?;
        if let Some(b) = v.get("binary").filter(|b| !b.is_null()) {
            let b = b.as_str().ok_or("binary: must be a string")?;
            req.binary = Some(PathBuf::from(b));
        }
        if let Some(t) = v.get("timeout_ms").filter(|t| !t.is_null()) {
            let ms = t.as_u64().ok_or("timeout_ms: must be a whole number")?;
            req.timeout = Duration::from_millis(ms);
        }
        Ok(req)
    }
}

/// An upgrade asked for, with where to send the outcome (the new PID).
pub struct Pending {
    req: Request,
    reply: Option<oneshot::Sender<Result<u32, String>>>,
}

/// The admin API's `POST /upgrade`: passes the request to the run loop.
struct AdminTrigger(mpsc::Sender<Pending>);

impl UpgradeHook for AdminTrigger {
    fn upgrade(&self, body: Vec<u8>) -> Pin<Box<dyn Future<Output = UpgradeResult> + Send>> {
        let tx = self.0.clone();
        Box::pin(async move {
            let req = Request::from_body(&body)?;
            let (reply, outcome) = oneshot::channel();
            let busy = || "this process is handing over to a new one".to_string();
            tx.send(Pending {
                req,
                reply: Some(reply),
            })
            .await
            .map_err(|_| busy())?;
            let pid = outcome.await.map_err(|_| busy())??;
            let body = serde_json::json!({"old_pid": std::process::id(), "pid": pid});
            Ok(body.to_string().into_bytes())
        })
    }
}

/// The run loop's side: waits for SIGUSR2 or `POST /upgrade`, and runs one
/// upgrade at a time.
pub struct Upgrader {
    usr2: Signal,
    requests: mpsc::Receiver<Pending>,
    argv: Vec<OsString>,
}

impl Upgrader {
    /// Installs the SIGUSR2 handler; returns the hook for the admin API.
    pub fn install() -> Result<(Self, Arc<dyn UpgradeHook>)> {
        let usr2 = signal(SignalKind::user_defined2()).context("installing the SIGUSR2 handler")?;
        let (tx, requests) = mpsc::channel(8);
        let argv = std::env::args_os().skip(1).collect();
        let hook: Arc<dyn UpgradeHook> = Arc::new(AdminTrigger(tx));
        Ok((
            Upgrader {
                usr2,
                requests,
                argv,
            },
            hook,
        ))
    }

    /// Resolves with the next upgrade asked for.
    pub async fn next(&mut self) -> Pending {
        tokio::select! {
            _ = self.usr2.recv() => {
                tracing::warn!("binary upgrade requested by SIGUSR2");
                Pending { req: Request { binary: None, timeout: DEFAULT_TIMEOUT }, reply: None }
            }
            Some(p) = self.requests.recv() => p,
        }
    }

    /// Performs an upgrade. Returns `true` once a new process serves in
    /// our place (we stopped accepting and must drain); on failure we keep
    /// serving, and the reason is logged and returned to whoever asked.
    /// Not to be cancelled: run it to completion.
    pub async fn perform(&self, pending: Pending, admin: &Admin) -> bool {
        let outcome = parent::upgrade(admin, &pending.req, &self.argv).await;
        match &outcome {
            Ok(pid) => tracing::info!(
                new_pid = pid,
                "upgrade: the new process serves; draining this one"
            ),
            Err(e) => tracing::error!(error = %e, "upgrade failed; this process keeps serving"),
        }
        let handed_off = outcome.is_ok();
        if let Some(reply) = pending.reply {
            let _ = reply.send(outcome);
        }
        handed_off
    }

    /// Turns a request down: logged, and returned to whoever asked.
    pub fn refuse(&self, pending: Pending, reason: &str) {
        tracing::error!(reason, "upgrade refused; this process keeps serving");
        if let Some(reply) = pending.reply {
            let _ = reply.send(Err(reason.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies() {
        let r = Request::from_body(b"").unwrap();
        assert_eq!((r.binary, r.timeout), (None, DEFAULT_TIMEOUT));
        let r = Request::from_body(br#"{"binary": "/opt/bellhop", "timeout_ms": 1500}"#).unwrap();
        assert_eq!(r.binary, Some(PathBuf::from("/opt/bellhop")));
        assert_eq!(r.timeout, Duration::from_millis(1500));
        assert!(Request::from_body(br#"{"binary": 3}"#)
            .unwrap_err()
            .contains("binary"));
        assert!(Request::from_body(b"{").is_err());
    }
}
