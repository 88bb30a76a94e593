//! Config persistence: each successful change is saved to
//! `autosave.json` in the config directory (`$XDG_CONFIG_HOME/bellhop`,
//! or `~/.config/bellhop`), unless the config sets
//! `admin.config.persist: false` (`persist_config off`). `bellhop run
//! --resume` starts from it.
//!
//! The file is written whole to a temporary name and renamed, so a crash
//! never leaves half a config; the directory is 0700, the file 0600.
//!
//! A change does not wait for the disk: [`Saver`] writes on a thread of
//! its own, and when changes come faster than the disk takes them only the
//! latest is written (under load a rename over the old file has taken up
//! to a second here, and held the `POST /load` answer that long).
//! [`Saver::flush`] waits for the writes asked so far (the admin API's
//! shutdown calls it).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

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

/// Autosaves off the caller's thread, the latest config last.
#[derive(Default)]
pub struct Saver {
    shared: Arc<(Mutex<State>, Condvar)>,
}

#[derive(Default)]
struct State {
    /// The next write, replaced by a newer one until it starts.
    pending: Option<(PathBuf, Vec<u8>)>,
    /// A write is under way.
    busy: bool,
    /// The writer thread runs.
    started: bool,
    /// The saver is gone: the thread ends once nothing is pending.
    closed: bool,
}

impl Saver {
    /// Asks for `json` to be saved to `path` (replacing a save asked for
    /// earlier that has not started) and returns at once.
    pub fn save(&self, path: &Path, json: &[u8]) {
        let (lock, wake) = &*self.shared;
        let mut st = super::lock(lock);
        st.pending = Some((path.to_path_buf(), json.to_vec()));
        if !st.started {
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("bellhop-autosave".into())
                .spawn(move || write_loop(&shared));
            match spawned {
                Ok(_) => st.started = true,
                Err(e) => {
                    // No thread: save here rather than not at all.
                    tracing::debug!(error = %e, "no autosave thread; saving inline");
                    let (path, json) = st.pending.take().expect("just set");
                    drop(st);
                    save(&path, &json);
                    return;
                }
            }
        }
        wake.notify_all();
    }

    /// Waits until every save asked for so far is written.
    pub fn flush(&self) {
        let (lock, done) = &*self.shared;
        let mut st = super::lock(lock);
        while st.pending.is_some() || st.busy {
            st = done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        let (lock, wake) = &*self.shared;
        super::lock(lock).closed = true;
        wake.notify_all();
    }
}

/// The writer thread: takes the latest pending save, writes it, repeats
/// until the saver is dropped.
fn write_loop(shared: &(Mutex<State>, Condvar)) {
    let (lock, cond) = shared;
    let mut st = super::lock(lock);
    loop {
        match st.pending.take() {
            Some((path, json)) => {
                st.busy = true;
                drop(st);
                save(&path, &json);
                st = super::lock(lock);
                st.busy = false;
                cond.notify_all();
            }
            None if st.closed => return,
            None => st = cond.wait(st).unwrap_or_else(|e| e.into_inner()),
        }
    }
}

/// Saves `json` to `path`, logging the outcome (a failed save never fails
/// the change that was already made).
pub fn save(path: &Path, json: &[u8]) {
    match write_atomic(path, json) {
        Ok(()) => {
            tracing::info!(file = %path.display(), "autosaved config (load with --resume flag)")
        }
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

    #[test]
    fn the_saver_writes_the_latest_config_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("autosave.json");
        let saver = Saver::default();
        for i in 0..200 {
            saver.save(&path, format!("{{\"n\":{i}}}").as_bytes());
        }
        saver.flush();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"n\":199}");
        saver.save(&path, b"{\"n\":\"again\"}");
        saver.flush();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"n\":\"again\"}");
    }

    #[test]
    fn a_dropped_saver_writes_what_is_pending_and_its_thread_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("autosave.json");
        let saver = Saver::default();
        saver.save(&path, b"{\"n\":1}");
        let shared = saver.shared.clone();
        drop(saver);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // The thread holds the only other reference: it is gone once the
        // count falls to one.
        while Arc::strong_count(&shared) > 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the autosave thread lives on"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"n\":1}");
    }
}
