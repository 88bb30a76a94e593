//! Storage: where certificates, keys, the internal CA, ACME accounts, OCSP
//! staples and session ticket keys live, and the locks that keep two
//! processes sharing it from obtaining the same certificate twice.
//!
//! One type, [`Storage`], over one trait, [`Backend`], with two modules
//! behind it: `file_system` (Caddy's standard storage, `storage/fs.rs`)
//! and `redis` (pberkel/caddy-storage-redis's config and data layout,
//! `storage/redis.rs`). Another engine is one more file implementing the
//! trait and one more arm in [`Storage::from_config`].
//!
//! Keys are Caddy's: `certificates/<issuer>/<name>/<name>.{crt,key,json}`,
//! `pki/authorities/<ca>/{root,intermediate}.{crt,key}`,
//! `acme/<ca host>/users/<email>/account.json`, `ocsp/…`, `stek/…`.

mod fs;
mod fs_lock;
mod lock;
pub(crate) mod redis;

use crate::error::Error;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use lock::{HeldLock, LockGuard, ASYNC_WAIT, BLOCKING_WAIT, LOCK_FRESHNESS, STALE_LOCK};

/// What a storage engine does. Every call is synchronous and short (a
/// file operation, or one round trip to a server with a timeout); none is
/// on the request path.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Reads a key; `None` when absent.
    fn read(&self, key: &str) -> std::io::Result<Option<Vec<u8>>>;
    /// Writes a key whole (readers see the old value or the new one);
    /// `private` values are kept from other local users where the engine
    /// can tell.
    fn write(&self, key: &str, data: &[u8], private: bool) -> std::io::Result<()>;
    /// The keys under `prefix` (a folder), recursively, sorted.
    fn list(&self, prefix: &str) -> std::io::Result<Vec<String>>;
    /// Deletes a key (absent is fine).
    fn delete(&self, key: &str) -> std::io::Result<()>;
    /// Tidies the folder of a deleted key, where the engine has folders.
    fn prune_dir(&self, _key: &str) {}
    /// Where a key lives, for people (a file path, a URL).
    fn describe(&self, key: &str) -> String;
    /// One attempt at the named lock: `Some` when it is now ours.
    fn try_lock(&self, name: &str) -> std::io::Result<Option<Box<dyn HeldLock>>>;
    /// The folder of a file-system storage.
    fn local_root(&self) -> Option<&Path> {
        None
    }
}

/// A storage: a cheap handle onto one engine.
#[derive(Debug, Clone)]
pub struct Storage {
    backend: Arc<dyn Backend>,
}

impl Storage {
    /// File-system storage at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Storage {
            backend: Arc::new(fs::FileSystem::new(root.into())),
        }
    }

    /// The storage a config asks for (`{"module":"file_system",…}`,
    /// `{"module":"redis",…}`), or the default one. `path` is the JSON
    /// path of the object, for errors.
    pub fn from_config(cfg: Option<&Map<String, Value>>, path: &str) -> Result<Self, Error> {
        let Some(cfg) = cfg else {
            return Ok(Storage::new(default_root()));
        };
        match cfg.get("module").and_then(Value::as_str) {
            Some("file_system") => Ok(Storage::new(fs::root_from_config(cfg, path)?)),
            Some("redis") => Ok(Storage {
                backend: redis::provision(cfg, path)?,
            }),
            Some(m) => Err(Error::UnknownModule {
                path: format!("{path}.module"),
                id: format!("caddy.storage.{m}"),
            }),
            None => Err(Error::config(
                path,
                "module name missing: expected `module`",
            )),
        }
    }

    /// The folder of a file-system storage (`None` for other engines).
    pub fn local_root(&self) -> Option<&Path> {
        self.backend.local_root()
    }

    /// Where a key lives, for people: a file path or a `redis://` URL.
    pub fn describe(&self, key: &str) -> String {
        self.backend.describe(key)
    }

    /// Reads a key; `None` when absent.
    pub fn read(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.backend.read(key)
    }

    /// Reads a key as text; `None` when absent.
    pub fn read_string(&self, key: &str) -> std::io::Result<Option<String>> {
        Ok(self
            .read(key)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Writes a key atomically; `private` values (keys) are kept from
    /// other local users (mode 0600 on a file system).
    pub fn write(&self, key: &str, data: &[u8], private: bool) -> std::io::Result<()> {
        self.backend.write(key, data, private)
    }

    /// The keys under `prefix` (a folder), recursively, sorted.
    pub fn try_list(&self, prefix: &str) -> std::io::Result<Vec<String>> {
        self.backend.list(prefix)
    }

    /// As [`Storage::try_list`], with a failure logged and read as no keys
    /// (for maintenance that simply tries again later).
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.try_list(prefix).unwrap_or_else(|e| {
            tracing::warn!(prefix, storage = %self.describe(prefix), error = %e, "cannot list storage keys");
            Vec::new()
        })
    }

    /// Removes the folder of `key` when it is empty.
    pub fn prune_dir(&self, key: &str) {
        self.backend.prune_dir(key)
    }

    /// Deletes a key (absent is fine).
    pub fn delete(&self, key: &str) -> std::io::Result<()> {
        self.backend.delete(key)
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

    #[test]
    fn keys_are_safe_and_modules_are_checked() {
        assert_eq!(safe_key("*.Example.com"), "wildcard_.example.com");
        assert_eq!(safe_key("../etc"), "_etc");
        let cfg = |v: Value| v.as_object().cloned().unwrap();
        let e = Storage::from_config(Some(&cfg(serde_json::json!({"module": "s3"}))), "storage")
            .unwrap_err();
        assert!(e.to_string().contains("caddy.storage.s3"), "{e}");
        let e = Storage::from_config(Some(&cfg(serde_json::json!({"root": "/x"}))), "storage")
            .unwrap_err();
        assert!(e.to_string().contains("module name missing"), "{e}");
        let s = Storage::from_config(
            Some(&cfg(
                serde_json::json!({"module": "file_system", "root": "/srv/x"}),
            )),
            "storage",
        )
        .unwrap();
        assert_eq!(s.local_root(), Some(Path::new("/srv/x")));
        assert_eq!(s.describe("a/b"), "/srv/x/a/b");
    }
}
