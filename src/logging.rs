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
            panic = %panic_message(info.payload()),
            "panic"
        );
    }));
}

/// The message a panic carries (`panic!("…")` gives a `&str` or a
/// `String`; anything else is unnamed).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn panic_messages_of_every_kind() {
        let caught = |f: fn()| std::panic::catch_unwind(f).unwrap_err();
        let s = caught(|| panic!("static text"));
        assert_eq!(panic_message(s.as_ref()), "static text");
        let n = 7;
        let f = std::panic::catch_unwind(move || panic!("formatted {n}")).unwrap_err();
        assert_eq!(panic_message(f.as_ref()), "formatted 7");
        let other = std::panic::catch_unwind(|| std::panic::panic_any(42u8)).unwrap_err();
        assert_eq!(panic_message(other.as_ref()), "a panic without a message");
    }
}
