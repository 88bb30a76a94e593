//! The contents of recently served files, kept in memory per
//! `file_server` handler (nginx keeps a similar open-file cache; Caddy
//! reads every time and relies on `sendfile`).
//!
//! An entry is used only while the file is unchanged: the request's
//! `stat` (which the handler makes anyway, for `ETag` and `Last-Modified`)
//! must report the same device, inode, size, modification and change
//! times as when the entry was read, so an edited, replaced or touched
//! file is read again at once. A hit costs no `open`, `read` or copy: the
//! body is a reference-counted slice of the cached bytes.
//!
//! Lookups are lock-free (an immutable map behind `arc-swap`); a miss
//! reads the file and publishes a new map (copy on write), so only misses
//! pay. Files above [`MAX_FILE`] are never cached, and the cache holds at
//! most [`BUDGET`] bytes: a new entry that does not fit evicts others.

use arc_swap::ArcSwap;
use bytes::Bytes;
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

/// Larger files are streamed from disk every time.
pub const MAX_FILE: u64 = 2 << 20;
/// The most bytes one handler's cache holds.
pub const BUDGET: u64 = 16 << 20;

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

#[derive(Clone)]
struct Entry {
    stamp: Stamp,
    bytes: Bytes,
}

/// One handler's cache of file contents.
#[derive(Default)]
pub struct FileCache {
    map: ArcSwap<HashMap<String, Entry>>,
}

impl FileCache {
    /// The cached contents of `path` if they are those of the file `meta`
    /// describes.
    pub fn get(&self, path: &str, meta: &Metadata) -> Option<Bytes> {
        let map = self.map.load();
        let e = map.get(path)?;
        (e.stamp == Stamp::of(meta)).then(|| e.bytes.clone())
    }

    /// Whether a file of this size is worth caching.
    pub fn fits(meta: &Metadata) -> bool {
        meta.len() <= MAX_FILE
    }

    /// Keeps `bytes` as the contents of `path` as of `meta`, evicting other
    /// entries when the budget would be exceeded.
    pub fn insert(&self, path: &str, meta: &Metadata, bytes: Bytes) {
        if bytes.len() as u64 != meta.len() || !Self::fits(meta) {
            return;
        }
        let entry = Entry {
            stamp: Stamp::of(meta),
            bytes,
        };
        self.map.rcu(|map| {
            let mut next: HashMap<String, Entry> = (**map).clone();
            next.remove(path);
            let want = entry.bytes.len() as u64;
            let mut used: u64 = next.values().map(|e| e.bytes.len() as u64).sum();
            let mut evict = Vec::new();
            for (k, e) in &next {
                if used + want <= BUDGET {
                    break;
                }
                used -= e.bytes.len() as u64;
                evict.push(k.clone());
            }
            for k in evict {
                next.remove(&k);
            }
            next.insert(path.to_string(), entry.clone());
            next
        });
    }

    /// How many bytes are cached.
    #[cfg(test)]
    fn used(&self) -> u64 {
        self.map.load().values().map(|e| e.bytes.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, name: &str, data: &[u8]) -> (String, Metadata) {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        (p.to_string_lossy().into_owned(), meta)
    }

    #[test]
    fn hits_only_while_the_file_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::default();
        let (path, meta) = write(dir.path(), "a.txt", b"first");
        assert!(cache.get(&path, &meta).is_none());
        cache.insert(&path, &meta, Bytes::from_static(b"first"));
        assert_eq!(cache.get(&path, &meta).unwrap(), "first");
        // Rewritten in place with the same size: the times move on.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (_, meta2) = write(dir.path(), "a.txt", b"later");
        assert!(
            cache.get(&path, &meta2).is_none(),
            "a changed file is stale"
        );
        // Replaced by another file (a new inode).
        let (_, meta3) = write(dir.path(), "b.txt", b"other!");
        std::fs::rename(dir.path().join("b.txt"), &path).unwrap();
        assert!(cache.get(&path, &meta3).is_none());
        // Contents that do not match the stat are never kept.
        cache.insert(&path, &meta3, Bytes::from_static(b"short"));
        assert!(cache.get(&path, &meta3).is_none());
    }

    #[test]
    fn keeps_within_its_budget_and_skips_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::default();
        let chunk = vec![b'x'; MAX_FILE as usize];
        let n = (BUDGET / MAX_FILE) as usize + 3;
        for i in 0..n {
            let (path, meta) = write(dir.path(), &format!("f{i}"), &chunk);
            cache.insert(&path, &meta, Bytes::from(chunk.clone()));
            assert!(cache.used() <= BUDGET, "{} > {BUDGET}", cache.used());
            assert!(
                cache.get(&path, &meta).is_some(),
                "the newest entry is kept"
            );
        }
        let big = vec![b'y'; (MAX_FILE + 1) as usize];
        let (path, meta) = write(dir.path(), "big", &big);
        cache.insert(&path, &meta, Bytes::from(big));
        assert!(cache.get(&path, &meta).is_none());
    }
}
