//! Log writers (`caddy.logging.writers.stdout|stderr|discard|file|net`).
//!
//! A writer hands preformatted lines to its own thread over a bounded
//! channel, so a request never waits on the disk (only when the channel is
//! full does it wait, which bounds memory). The thread writes through a
//! buffer and flushes whenever it has drained the channel; a file that
//! rolls by time also wakes it at the deadline. The thread ends, after
//! flushing, when the last handle of its writer is dropped.
//!
//! The file writer's rolling (by size and time, with compression) is in
//! `writer/rolling.rs`, its time rules in `writer/schedule.rs`; the net
//! writer in `writer/net.rs`.

mod net;
mod rolling;
mod schedule;

use crate::error::Error;
use rolling::Rolling;
use serde::Deserialize;
use std::io::{self, BufWriter, Write};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::SystemTime;

/// Lines a writer queues before callers wait.
const QUEUE: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[allow(dead_code)]
    output: String,
    filename: String,
    mode: Option<String>,
    dir_mode: Option<String>,
    /// Caddy's `roll`: false disables rolling (`roll_disabled` in the
    /// Caddyfile).
    roll: Option<bool>,
    roll_size_mb: Option<u64>,
    roll_keep: Option<u32>,
    roll_keep_days: Option<u32>,
    roll_local_time: Option<bool>,
    roll_compression: Option<String>,
    roll_gzip: Option<bool>,
    roll_interval: Option<serde_json::Value>,
    roll_at: Option<serde_json::Value>,
    roll_minutes: Option<serde_json::Value>,
}

/// A handle to a writer thread (`None`: discard).
#[derive(Clone)]
pub struct Writer {
    tx: Option<SyncSender<Vec<u8>>>,
    /// Whether the output is a terminal (console encoding by default).
    pub terminal: bool,
    /// The standard stream it writes, for [`Writer::write_now`].
    stream: Option<Stream>,
}

/// A standard stream.
#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

impl Writer {
    /// Provisions writer `output` from its JSON at `path`.
    pub fn provision(output: &str, v: &serde_json::Value, path: &str) -> Result<Writer, Error> {
        use std::io::IsTerminal;
        let only_output = |v: &serde_json::Value| {
            let extra = v
                .as_object()
                .and_then(|o| o.keys().find(|k| *k != "output").cloned());
            match extra {
                Some(k) => Err(Error::config(format!("{path}.{k}"), "unknown field")),
                None => Ok(()),
            }
        };
        match output {
            "stdout" => {
                only_output(v)?;
                let mut w = spawn(io::stdout(), io::stdout().is_terminal());
                w.stream = Some(Stream::Stdout);
                Ok(w)
            }
            "stderr" => {
                only_output(v)?;
                Ok(Writer::stderr())
            }
            "discard" => {
                only_output(v)?;
                Ok(Writer {
                    tx: None,
                    terminal: false,
                    stream: None,
                })
            }
            "net" => Ok(spawn(net::Net::open(v, path)?, false)),
            _ => {
                let c: FileConfig = crate::config::decode(v, path)?;
                Ok(spawn(Rolling::open(&c, path)?, false))
            }
        }
    }

    /// Standard error.
    pub fn stderr() -> Writer {
        use std::io::IsTerminal;
        let mut w = spawn(io::stderr(), io::stderr().is_terminal());
        w.stream = Some(Stream::Stderr);
        w
    }

    /// Writes one line before returning where the output is a standard
    /// stream (process logs: a message logged just before the process
    /// ends is not lost), else queues it as [`Writer::write`]. Write
    /// errors are ignored: a closed stream never stops the server.
    pub fn write_now(&self, line: Vec<u8>) {
        match self.stream {
            Some(Stream::Stderr) => drop(io::stderr().write_all(&line)),
            Some(Stream::Stdout) => drop(io::stdout().lock().write_all(&line)),
            None => self.write(line),
        }
    }

    /// Queues one line (or several), waiting only when the queue is full.
    pub fn write(&self, line: Vec<u8>) {
        let Some(tx) = &self.tx else { return };
        if let Err(TrySendError::Full(line)) = tx.try_send(line) {
            let _ = tx.send(line);
        }
    }
}

/// Where a writer thread writes: a stream, or a file that may roll by time.
trait Output: Write + Send + 'static {
    /// When the thread must wake up even without lines.
    fn deadline(&self) -> Option<SystemTime> {
        None
    }

    /// Called at (or after) the deadline, with everything flushed.
    fn on_timer(&mut self) {}
}

impl Output for io::Stdout {}
impl Output for io::Stderr {}

impl Output for Rolling {
    fn deadline(&self) -> Option<SystemTime> {
        Rolling::deadline(self)
    }

    fn on_timer(&mut self) {
        Rolling::on_timer(self)
    }
}

fn spawn<W: Output>(out: W, terminal: bool) -> Writer {
    let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
    let spawned = std::thread::Builder::new()
        .name("bellhop-log".into())
        .spawn(move || pump(rx, out));
    Writer {
        tx: spawned.ok().map(|_| tx),
        terminal,
        stream: None,
    }
}

fn pump<W: Output>(rx: Receiver<Vec<u8>>, out: W) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    loop {
        let line = match out.get_ref().deadline() {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(at) => {
                let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
                rx.recv_timeout(wait)
            }
        };
        match line {
            Ok(line) => {
                let _ = out.write_all(&line);
                while let Ok(more) = rx.try_recv() {
                    let _ = out.write_all(&more);
                }
                let _ = out.flush();
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = out.flush();
                out.get_mut().on_timer();
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests;
