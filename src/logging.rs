//! Process logging: `tracing` events as Caddy's process logs (see
//! `bellhop_runtime::logging::process`).
//!
//! A panic anywhere (a handler, a connection task, a worker thread) is
//! logged as an error event with its thread, source location and message,
//! through the same writer, instead of the default hook's bare `eprintln!`.
//! The runtime catches panics of request handlers (500) and connection
//! tasks; this hook makes sure none of them is silent.

use bellhop_runtime::logging::{process, Level};

/// Sends `tracing` events through the `logging` app's loggers (Caddy's
/// zap-style entries: JSON on standard error, the console format on a
/// terminal; `logs.default` of the running config decides). `BELLHOP_LOG`
/// (e.g. `debug`) sets the default logger's level where the config sets
/// none. Write errors are ignored there, so a closed or broken standard
/// error never takes the server down.
pub fn init() {
    let level = std::env::var("BELLHOP_LOG")
        .ok()
        .and_then(|l| match l.as_str() {
            "trace" | "TRACE" => Some(Level::Debug),
            other => Level::parse(other),
        });
    process::set_default_level(level);
    let _ = tracing::subscriber::set_global_default(process::ProcessLogs);
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
