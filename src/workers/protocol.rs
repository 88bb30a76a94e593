//! The control channel between the supervisor and one worker: a unix
//! socket pair (the worker's end is its standard input) carrying one JSON
//! object per line, tagged by `op`.
//!
//! The supervisor speaks first and the worker answers every message but
//! `stop`, so one side never waits on the other's unsolicited word; the
//! only message a worker sends unasked is `hello`, once, when it is ready
//! for commands. End of file on either side means the other process is
//! gone.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

/// Supervisor → worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ToWorker {
    /// Provision this config and bind its listeners, but keep serving the
    /// current one; answer `prepared` or `failed`.
    Prepare { seq: u64, config: String },
    /// Switch to the prepared config; answer `committed`.
    Commit { seq: u64 },
    /// Drop the prepared config; answer `aborted`.
    Abort { seq: u64 },
    /// Use these TLS session ticket keys (hex, newest first) instead of
    /// making and rotating its own; answer `ticket_keys_set`.
    TicketKeys { keys: Vec<String> },
    /// Stop gracefully (within the config's grace period) and exit.
    Stop,
}

/// Worker → supervisor.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum FromWorker {
    /// Ready for commands.
    Hello {
        pid: u32,
    },
    Prepared {
        seq: u64,
    },
    Failed {
        seq: u64,
        error: String,
    },
    Committed {
        seq: u64,
    },
    Aborted {
        seq: u64,
    },
    TicketKeysSet,
}

/// The process's session ticket keys as the control channel carries them.
pub fn export_ticket_keys() -> Vec<String> {
    bellhop_runtime::tls::tickets::keys()
        .export()
        .iter()
        .map(|k| k.iter().map(|b| format!("{b:02x}")).collect())
        .collect()
}

/// Installs keys received over the control channel.
pub fn install_ticket_keys(hex: &[String]) -> Result<(), String> {
    let raw = hex
        .iter()
        .map(|h| {
            let bytes: Vec<u8> = (0..h.len())
                .step_by(2)
                .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                .collect::<Option<_>>()
                .ok_or("a ticket key that is not hex")?;
            <[u8; 32]>::try_from(bytes).map_err(|_| "a ticket key that is not 32 bytes")
        })
        .collect::<Result<Vec<_>, _>>()?;
    bellhop_runtime::tls::tickets::keys().install(&raw);
    Ok(())
}

/// One end of the channel.
pub struct Channel {
    lines: Lines<BufReader<OwnedReadHalf>>,
    tx: OwnedWriteHalf,
}

impl Channel {
    /// Wraps a connected unix socket (must be within a Tokio runtime).
    pub fn new(sock: std::os::unix::net::UnixStream) -> std::io::Result<Self> {
        sock.set_nonblocking(true)?;
        let (rx, tx) = UnixStream::from_std(sock)?.into_split();
        Ok(Channel {
            lines: BufReader::new(rx).lines(),
            tx,
        })
    }

    /// Sends one message.
    pub async fn send<T: Serialize>(&mut self, msg: &T) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.tx.write_all(&line).await
    }

    /// The next message; `Ok(None)` at end of file.
    pub async fn recv<T: for<'de> Deserialize<'de>>(&mut self) -> std::io::Result<Option<T>> {
        let Some(line) = self.lines.next_line().await? else {
            return Ok(None);
        };
        serde_json::from_str(&line).map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad control message {line:?}: {e}"),
            )
        })
    }

    /// The answer to a message, within `limit`; any failure as a message.
    pub async fn answer(&mut self, limit: Duration) -> Result<FromWorker, String> {
        match tokio::time::timeout(limit, self.recv::<FromWorker>()).await {
            Ok(Ok(Some(m))) => Ok(m),
            Ok(Ok(None)) => Err("the worker exited".into()),
            Ok(Err(e)) => Err(format!("control channel: {e}")),
            Err(_) => Err(format!("no answer within {} s", limit.as_secs())),
        }
    }
}
