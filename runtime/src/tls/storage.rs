//! The `file_system` storage module: where certificates, keys, the
//! internal CA and ACME accounts live, and the locks that keep two
//! processes sharing the storage from obtaining the same certificate twice.
//!
//! Layout (Caddy's): `certificates/<issuer>/<name>/<name>.{crt,key,json}`,
//! `pki/authorities/<ca>/{root,intermediate}.{crt,key}`,
//! `acme/<ca host>/users/<email>/account.json`, `locks/<name>.lock`.
//! Private material is written with mode 0600; every write is atomic
//! (a temporary file renamed into place).

mod lock;

use crate::error::Error;
use serde_json::{Map, Value};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub use lock::{LockGuard, ASYNC_WAIT, BLOCKING_WAIT, LOCK_FRESHNESS, STALE_LOCK};

/// A file-system storage rooted at one directory.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    /// Storage at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Storage { root: root.into() }
    }

    /// The storage a config asks for (`{"module":"file_system","root":…}`),
    /// or the default one.
    pub fn from_config(cfg: Option<&Map<String, Value>>, path: &str) -> Result<Self, Error> {
        let Some(cfg) = cfg else {
            return Ok(Storage::new(default_root()));
        };
        match cfg.get("module").and_then(Value::as_str) {
            Some("file_system") => {}
            Some(m) => {
                return Err(Error::UnknownModule {
                    path: format!("{path}.module"),
                    id: format!("caddy.storage.{m}"),
                })
            }
            None => {
                return Err(Error::config(
                    path,
                    "module name missing: expected `module`",
                ))
            }
        }
        if let Some(k) = cfg.keys().find(|k| *k != "module" && *k != "root") {
            return Err(Error::config(format!("{path}.{k}"), "unknown field"));
        }
        match cfg.get("root") {
            Some(Value::String(r)) if !r.is_empty() => Ok(Storage::new(r)),
            Some(Value::String(_)) | None => Ok(Storage::new(default_root())),
            Some(_) => Err(Error::config(format!("{path}.root"), "must be a string")),
        }
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a storage key.
    pub fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// Reads a key; `None` when absent.
    pub fn read(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(key)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads a key as text; `None` when absent.
    pub fn read_string(&self, key: &str) -> std::io::Result<Option<String>> {
        Ok(self
            .read(key)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Writes a key atomically; `private` files get mode 0600.
    pub fn write(&self, key: &str, data: &[u8], private: bool) -> std::io::Result<()> {
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

    /// The keys under `prefix` (a folder), recursively, files only;
    /// temporary files of unfinished writes are left out.
    pub fn list(&self, prefix: &str) -> Vec<String> {
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
        out
    }

    /// Removes the folder of `key` when it is empty.
    pub fn prune_dir(&self, key: &str) {
        if let Some(dir) = self.path(key).parent() {
            if dir != self.root {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    /// Deletes a key (absent is fine).
    pub fn delete(&self, key: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// `$XDG_DATA_HOME/bellhop`, else `~/.local/share/bellhop`.
pub fn default_root() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("bellhop");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".local/share/bellhop")
}

/// A name made safe as one path component (wildcards become `wildcard_`).
pub fn safe_key(name: &str) -> String {
    let name = name.to_lowercase().replace('*', "wildcard_");
    name.chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' | '_' | '@' => c,
            _ => '_',
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_files_are_0600_and_keys_are_safe() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::new(dir.path());
        s.write("certificates/x/a.key", b"k", true).unwrap();
        s.write("certificates/x/a.crt", b"c", false).unwrap();
        let mode = |k: &str| std::fs::metadata(s.path(k)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("certificates/x/a.key"), 0o600);
        assert_eq!(mode("certificates/x/a.crt"), 0o644);
        assert_eq!(s.read("certificates/x/a.key").unwrap().unwrap(), b"k");
        assert_eq!(s.read("nope").unwrap(), None);
        assert_eq!(safe_key("*.Example.com"), "wildcard_.example.com");
        assert_eq!(safe_key("../etc"), "_etc");
    }
}
