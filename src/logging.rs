//! Process logging: `tracing` events to standard error.
//!
//! A closed or broken standard error must never take the server down, so
//! the writer swallows write errors (tracing-subscriber would otherwise
//! report them with `eprintln!`, which panics on a broken pipe).
//!
//! A panic anywhere (a handler, a connection task, a worker thread) is
//! logged as an error event with its thread, source location and message,
//! through the same writer, instead of the default hook's bare `eprintln!`.
//! The runtime catches panics of request handlers (500) and connection
//! tasks; this hook makes sure none of them is silent.

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
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        tracing::error!(
            thread = thread.name().unwrap_or("unnamed"),
            location = location.as_deref().unwrap_or("unknown"),
            panic = bellhop_runtime::util::panic_message(info.payload())
                .unwrap_or("a panic without a message"),
            "panic"
        );
    }));
}
