//! The `redis` storage module (`caddy.storage.redis`, the JSON and data
//! layout of pberkel/caddy-storage-redis, so a fleet can mix it with
//! Caddy servers using that plugin): each key is a Redis string under
//! `<key_prefix>/<key>` holding an envelope (`redis/envelope.rs`); each
//! folder is a sorted set of its children (`name`, or `name/` for a
//! folder), so listing walks sets instead of scanning the keyspace.
//!
//! Locks are the redislock pattern: `SET <prefix>/locks/<name> <token> NX
//! PX 5000`, refreshed every 3 s and released only by the holder of the
//! token (a compare-and-set script), so a crashed holder's lock expires
//! by itself within 5 s and a slow one keeps it.
//!
//! Storages with the same settings share one connection (`redis/conn.rs`)
//! across config reloads: to one server, to a Redis Cluster (each command
//! goes to the node of its key), or to the master of a Sentinel set
//! (`redis/settings.rs`). A write is one `MULTI` on one server; on a
//! cluster, where its keys live in different slots, the folder sets are
//! written first and the value last, as pberkel's plugin writes them.

mod conn;
mod envelope;
mod settings;

pub use conn::Conn;
pub use settings::{ClientType, Settings};

use super::{Backend, HeldLock};
use crate::error::Error;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a lock lives unless refreshed (pberkel: 5 s).
const LOCK_TTL: Duration = Duration::from_secs(5);
/// How often a held lock is refreshed (pberkel: 3 s).
const LOCK_REFRESH: Duration = Duration::from_secs(3);

const REFRESH: &str = r#"if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end"#;
const RELEASE: &str = r#"if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end"#;

/// A Redis storage.
#[derive(Debug)]
pub struct RedisStorage {
    settings: Settings,
    conn: Arc<Conn>,
    /// Locks asked for when the answer never came (a timeout): the
    /// server may have set them. Released (if still ours) at the next
    /// attempt that reaches it, rather than left to expire.
    unanswered: Mutex<Vec<(String, String)>>,
}

/// The storage a `{"module":"redis",…}` object at `path` describes; the
/// same one (and its connection) for the same object.
pub fn provision(cfg: &Map<String, Value>, path: &str) -> Result<Arc<dyn Backend>, Error> {
    static OPEN: OnceLock<Mutex<HashMap<String, Weak<RedisStorage>>>> = OnceLock::new();
    let settings = Settings::parse(cfg, path)?;
    let id = Value::Object(cfg.clone()).to_string();
    let mut open = OPEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    open.retain(|_, w| w.strong_count() > 0);
    if let Some(s) = open.get(&id).and_then(Weak::upgrade) {
        return Ok(s);
    }
    let conn = Conn::new(&settings)
        .map_err(|e| Error::config(path, format!("{}: {e}", settings.url())))?;
    let s = Arc::new(RedisStorage {
        settings,
        conn: Arc::new(conn),
        unanswered: Mutex::default(),
    });
    open.insert(id, Arc::downgrade(&s));
    Ok(s)
}

/// Go's `path.Join(prefix, key)` for the keys storage uses.
fn join(prefix: &str, key: &str) -> String {
    let key = key.trim_matches('/');
    match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}/{key}"),
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs() as f64)
}

impl RedisStorage {
    fn key(&self, key: &str) -> String {
        join(&self.settings.key_prefix, key)
    }

    /// The folder sets a key is listed in: (set, member) from the key's
    /// own folder up to the top.
    fn index_entries(full: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut cur = full.to_string();
        let mut is_dir = false;
        while let Some((dir, base)) = cur.rsplit_once('/') {
            let member = if is_dir {
                format!("{base}/")
            } else {
                base.to_string()
            };
            out.push((dir.to_string(), member));
            cur = dir.to_string();
            is_dir = true;
        }
        out
    }

    /// Releases the locks whose asking went unanswered, where they turn
    /// out to be ours; keeps the ones the server still cannot be asked.
    fn release_unanswered(&self) {
        let mut u = self.unanswered.lock().unwrap_or_else(|p| p.into_inner());
        u.retain(|(key, token)| release(&self.conn, key, token).is_err());
    }

    fn list_into(
        &self,
        c: &mut conn::Link,
        dir: &str,
        out: &mut Vec<String>,
    ) -> redis::RedisResult<()> {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.key(dir))
            .arg(0)
            .arg(-1)
            .query(c)?;
        for m in members {
            match m.strip_suffix('/') {
                Some(sub) => self.list_into(c, &join(dir, sub), out)?,
                None => out.push(join(dir, &m)),
            }
        }
        Ok(())
    }
}

impl Backend for RedisStorage {
    fn read(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        let full = self.key(key);
        let raw: Option<Vec<u8>> = self.conn.with(|c| redis::cmd("GET").arg(&full).query(c))?;
        raw.map(|r| envelope::open(&self.settings, key, &r))
            .transpose()
    }

    fn write(&self, key: &str, data: &[u8], _private: bool) -> std::io::Result<()> {
        let full = self.key(key);
        let sealed = envelope::seal(&self.settings, data)?;
        let score = unix_now();
        let index = Self::index_entries(&full);
        self.conn.with(|c| {
            if !c.transactions() {
                for (set, member) in &index {
                    redis::cmd("ZADD")
                        .arg(set)
                        .arg(score)
                        .arg(member)
                        .query::<()>(c)?;
                }
                return redis::cmd("SET").arg(&full).arg(&sealed).query::<()>(c);
            }
            let mut p = redis::pipe();
            p.atomic().cmd("SET").arg(&full).arg(&sealed).ignore();
            for (set, member) in &index {
                p.cmd("ZADD").arg(set).arg(score).arg(member).ignore();
            }
            p.query::<()>(c)
        })
    }

    fn list(&self, prefix: &str) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        self.conn.with(|c| {
            out.clear();
            self.list_into(c, prefix.trim_matches('/'), &mut out)
        })?;
        out.sort();
        Ok(out)
    }

    /// The key, then its entry in each folder set that it leaves empty.
    fn delete(&self, key: &str) -> std::io::Result<()> {
        let full = self.key(key);
        let index = Self::index_entries(&full);
        self.conn.with(|c| {
            redis::cmd("DEL").arg(&full).query::<()>(c)?;
            for (set, member) in &index {
                redis::cmd("ZREM").arg(set).arg(member).query::<()>(c)?;
                let left: i64 = redis::cmd("EXISTS").arg(set).query(c)?;
                if left > 0 {
                    break;
                }
            }
            Ok(())
        })
    }

    fn describe(&self, key: &str) -> String {
        format!("{}/{}", self.settings.url(), self.key(key))
    }

    fn try_lock(&self, name: &str) -> std::io::Result<Option<Box<dyn HeldLock>>> {
        self.release_unanswered();
        let key = self.key(&format!("locks/{name}"));
        let token = super::lock::new_token();
        let ttl = LOCK_TTL.as_millis() as u64;
        let set: Option<String> = self
            .conn
            .with(|c| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query(c)
            })
            .inspect_err(|_| {
                let mut u = self.unanswered.lock().unwrap_or_else(|p| p.into_inner());
                u.push((key.clone(), token.clone()));
            })?;
        Ok(set.map(|_| {
            Box::new(RedisLock {
                conn: self.conn.clone(),
                key,
                token,
            }) as Box<dyn HeldLock>
        }))
    }
}

/// Deletes the lock `key` if it still holds `token`.
fn release(conn: &Conn, key: &str, token: &str) -> std::io::Result<()> {
    conn.with(|c| {
        redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(key)
            .arg(token)
            .query::<i64>(c)
    })
    .map(|_| ())
}

/// A Redis lock this process holds.
struct RedisLock {
    conn: Arc<Conn>,
    key: String,
    token: String,
}

impl HeldLock for RedisLock {
    fn refresh(&self) -> std::io::Result<bool> {
        let ttl = LOCK_TTL.as_millis() as u64;
        let n: i64 = self.conn.with(|c| {
            redis::cmd("EVAL")
                .arg(REFRESH)
                .arg(1)
                .arg(&self.key)
                .arg(&self.token)
                .arg(ttl)
                .query(c)
        })?;
        Ok(n > 0)
    }

    fn release(&self) {
        if let Err(e) = release(&self.conn, &self.key, &self.token) {
            tracing::warn!(lock = %self.key, error = %e, "cannot release a Redis storage lock; it expires within {LOCK_TTL:?}");
        }
    }

    fn refresh_every(&self) -> Duration {
        LOCK_REFRESH
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_indexed_in_every_folder_above_them() {
        assert_eq!(
            RedisStorage::index_entries("caddy/certificates/acme/a.test/a.test.crt"),
            [
                ("caddy/certificates/acme/a.test".into(), "a.test.crt".into()),
                ("caddy/certificates/acme".into(), "a.test/".into()),
                ("caddy/certificates".into(), "acme/".into()),
                ("caddy".into(), "certificates/".into()),
            ] as [(String, String); 4]
        );
        assert_eq!(join("caddy", "/x/"), "caddy/x");
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("caddy", ""), "caddy");
    }
}
