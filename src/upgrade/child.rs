//! The new process's side of an upgrade: when `BELLHOP_UPGRADE_SOCKET`
//! is set, `bellhop run` connects there before anything else, receives
//! the listening sockets and the running config, pre-seeds its socket pool
//! with them (so loading the config binds nothing), and once its first
//! config serves, says `ready` and waits for the old process's `go`.

use super::wire;
use anyhow::{Context, Result};
use bellhop_runtime::listeners::{Inherited, Pool};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// How long the old process may take to stop accepting after `ready`.
const GO_TIMEOUT: Duration = Duration::from_secs(60);

/// A hand-off received from the old process.
pub struct Incoming {
    stream: UnixStream,
    sockets: Vec<(String, Inherited)>,
    config: Vec<u8>,
}

impl Incoming {
    /// The hand-off, when this process was started by an upgrade.
    pub fn from_env() -> Result<Option<Self>> {
        let Some(path) = std::env::var_os(super::ENV_SOCKET) else {
            return Ok(None);
        };
        let path = std::path::PathBuf::from(path);
        let mut stream = UnixStream::connect(&path).with_context(|| {
            format!(
                "upgrade: connecting to the old process at {}",
                path.display()
            )
        })?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let received = wire::receive(&mut stream).context("upgrade: receiving the hand-off")?;
        let keys: Vec<&str> = received.sockets.iter().map(|(k, _)| k.as_str()).collect();
        tracing::info!(sockets = ?keys, "upgrade: received the sockets and the running config");
        Ok(Some(Incoming {
            stream,
            sockets: received.sockets,
            config: received.config,
        }))
    }

    /// The old process's running config (taken once).
    pub fn take_config(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.config)
    }

    /// Hands the inherited sockets to the pool (before the first load).
    pub fn seed(&mut self, pool: &Pool) {
        for (key, socket) in self.sockets.drain(..) {
            pool.adopt(key, socket);
        }
    }

    /// Reports that the first config serves, then waits until the old
    /// process has stopped accepting (or is gone). Inherited sockets the
    /// config did not take are closed.
    pub async fn ready(self, pool: &Pool) {
        let unused = pool.discard_adopted();
        if !unused.is_empty() {
            tracing::info!(sockets = ?unused, "upgrade: closing inherited sockets the config does not use");
        }
        let mut stream = self.stream;
        let waited = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            stream.write_all(b"ready\n")?;
            stream.set_read_timeout(Some(GO_TIMEOUT))?;
            let mut reply = [0u8; 3];
            let n = stream.read(&mut reply)?;
            Ok(String::from_utf8_lossy(&reply[..n]).into_owned())
        })
        .await;
        match waited {
            Ok(Ok(r)) if r == "go\n" => tracing::info!("upgrade: this process serves now"),
            Ok(Ok(r)) => {
                tracing::warn!(reply = %r.trim(), "upgrade: the old process hung up; serving anyway")
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "upgrade: no word from the old process; serving anyway")
            }
            Err(e) => tracing::warn!(error = %e, "upgrade: waiting for the old process"),
        }
    }

    /// Tells the old process why this one cannot take over.
    pub fn fail(mut self, why: &str) {
        let line = format!("error: {}\n", why.replace('\n', " "));
        let _ = self.stream.write_all(line.as_bytes());
    }
}
