//! The `file_system` storage module: keys are files under one folder.
//! Private material is written with mode 0600; every write is atomic (a
//! temporary file renamed into place). Locks are files too
//! (`storage/fs_lock.rs`).

use super::fs_lock;
use super::{Backend, HeldLock};
use crate::error::Error;
use serde_json::{Map, Value};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A file-system storage rooted at one directory.
#[derive(Debug)]
pub struct FileSystem {
    root: PathBuf,
}

/// The root a `file_system` object names (default: [`super::default_root`]).
pub fn root_from_config(cfg: &Map<String, Value>, path: &str) -> Result<PathBuf, Error> {
    if let Some(k) = cfg.keys().find(|k| *k != "module" && *k != "root") {
        return Err(Error::config(format!("{path}.{k}"), "unknown field"));
    }
    match cfg.get("root") {
        Some(Value::String(r)) if !r.is_empty() => Ok(PathBuf::from(r)),
        Some(Value::String(_)) | None => Ok(super::default_root()),
        Some(_) => Err(Error::config(format!("{path}.root"), "must be a string")),
    }
}

impl FileSystem {
    pub fn new(root: PathBuf) -> Self {
        FileSystem { root }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

impl Backend for FileSystem {
    fn read(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(key)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write(&self, key: &str, data: &[u8], private: bool) -> std::io::Result<()> {
        let dest = self.path(key);
        let dir = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir)?;
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = dir.join(format!(
            ".{}.tmp{}-{}",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("x"),
            std::process::id(),
            WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(if private { 0o600 } else { 0o644 })
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &dest)
    }

    /// Files only; temporary files of unfinished writes are left out.
    fn list(&self, prefix: &str) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        let mut dirs = vec![self.path(prefix)];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                match e.file_type() {
                    Ok(t) if t.is_dir() => dirs.push(path),
                    Ok(t) if t.is_file() => {
                        let hidden = e.file_name().to_string_lossy().starts_with('.');
                        if let (false, Ok(rel)) = (hidden, path.strip_prefix(&self.root)) {
                            out.push(rel.to_string_lossy().into_owned());
                        }
                    }
                    _ => {}
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn prune_dir(&self, key: &str) {
        if let Some(dir) = self.path(key).parent() {
            if dir != self.root {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    fn describe(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }

    fn try_lock(&self, name: &str) -> std::io::Result<Option<Box<dyn HeldLock>>> {
        fs_lock::try_take(&self.root, name)
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Storage;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_files_are_0600_and_temporary_files_are_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path());
        s.write("certificates/x/a.key", b"k", true).unwrap();
        s.write("certificates/x/a.crt", b"c", false).unwrap();
        std::fs::write(dir.path().join("certificates/x/.a.crt.tmp1-2"), b"").unwrap();
        let mode = |k: &str| {
            let p = dir.path().join(k);
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777
        };
        assert_eq!(mode("certificates/x/a.key"), 0o600);
        assert_eq!(mode("certificates/x/a.crt"), 0o644);
        assert_eq!(s.read("certificates/x/a.key").unwrap().unwrap(), b"k");
        assert_eq!(s.read("nope").unwrap(), None);
        assert_eq!(
            s.list("certificates"),
            ["certificates/x/a.crt", "certificates/x/a.key"]
        );
        s.delete("certificates/x/a.crt").unwrap();
        s.delete("certificates/x/a.crt").unwrap();
        assert_eq!(s.list("certificates"), ["certificates/x/a.key"]);
    }
}
