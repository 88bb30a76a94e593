//! Process logging: `tracing` events to standard error.
//!
//! A closed or broken standard error must never take the server down, so
//! the writer swallows write errors (tracing-subscriber would otherwise
//! report them with `eprintln!`, which panics on a broken pipe).

use std::io::{self, IsTerminal, Write};

/// Standard error that never fails.
struct QuietStderr;

impl Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

/// Logs to standard error; `BELLHOP_LOG` (e.g. `debug`) sets the level.
pub fn init() {
    let level = std::env::var("BELLHOP_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(|| QuietStderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}
