//! `run --pidfile FILE`: the PID of the process that serves, written once
//! its first config serves, and by the new process after an upgrade (once
//! the old one stopped accepting). Written to a temporary file and renamed,
//! so a reader never sees a partial PID.

use std::path::Path;

/// Writes this process's PID to `path`.
pub fn write(path: &Path) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    std::fs::write(&tmp, format!("{}\n", std::process::id()))?;
    std::fs::rename(&tmp, path)
}

/// Writes the pidfile when one was asked for, logging a failure.
pub fn write_logged(path: Option<&Path>) {
    if let Some(path) = path {
        match write(path) {
            Ok(()) => tracing::debug!(pidfile = %path.display(), "PID written"),
            Err(e) => {
                tracing::error!(pidfile = %path.display(), error = %e, "cannot write the pidfile")
            }
        }
    }
}

/// The PID in `path`, when it holds one.
pub fn read(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
