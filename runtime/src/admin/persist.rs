//! Config persistence: each successful change is saved to
//! `autosave.json` in the config directory (`$XDG_CONFIG_HOME/bellhop`,
//! or `~/.config/bellhop`), unless the config sets
//! `admin.config.persist: false` (`persist_config off`). `bellhop run
//! --resume` starts from it.
//!
//! The file is written whole to a temporary name and renamed, so a crash
//! never leaves half a config; the directory is 0700, the file 0600.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// bellhop's config directory.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        let x = PathBuf::from(x);
        if x.is_absolute() {
            return Some(x.join("bellhop"));
        }
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".config").join("bellhop"))
}

/// Where the running config is autosaved.
pub fn autosave_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join("autosave.json"))
}

/// Saves `json` to `path`, logging the outcome (a failed save never fails
/// the change that was already made).
pub fn save(path: &Path, json: &[u8]) {
    match write_atomic(path, json) {
        Ok(()) => tracing::info!(file = %path.display(), "autosaved config (load with --resume)"),
        Err(e) => tracing::error!(file = %path.display(), error = %e, "unable to autosave config"),
    }
}

fn write_atomic(path: &Path, json: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(json)?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn saves_whole_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("autosave.json");
        save(&path, b"{\"a\":1}");
        save(&path, b"{\"a\":2}");
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":2}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
