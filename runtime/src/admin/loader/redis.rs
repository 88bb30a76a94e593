//! `caddy.config_loaders.redis` (bellhop's own; Caddy has only `http`):
//! the config lives in one Redis key, and every instance naming the
//! loader follows it. A `SET` of the key reaches each instance through
//! Redis pub/sub, with no polling: the keyspace notification of the key
//! (`__keyspace@<db>__:<key>`, enabled on the server by the loader when
//! it is off and the server lets it) or a `PUBLISH <key> …` on the
//! channel named like the key.
//!
//! On every notification, and at start and after every reconnection (to
//! catch up), the instance reads the key and loads it as any reload does
//! (atomically; adapted when `adapter` names one). A version (the SHA-256
//! of the value, 16 hex digits) is applied once. The outcome, applied or
//! failed with its error, goes to the hash `<key>:status`, one field per
//! instance (`instance_id`, default `<hostname>/<pid>`), and to the admin
//! API's `GET /config-loader`. A config that fails leaves the instance on
//! the one it runs. A config it loads keeps it following unless it names
//! another loader (`admin/change.rs`). While Redis is unreachable the instance keeps serving
//! and tries again with backoff.
//!
//! JSON: the `redis` storage module's connection fields (`address`,
//! `host`, `port`, `db`, `username`, `password`, `timeout`, `tls_*`), plus
//! `key` (default `bellhop/config`), `adapter`, `instance_id`.

use crate::error::Error;
use crate::tls::storage::redis::{ClientType, Conn, Settings};
use crate::util::expand_env as expand;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

const DEFAULT_KEY: &str = "bellhop/config";
/// How often the subscriber looks whether it is still wanted.
const TICK: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A provisioned Redis loader.
pub struct RedisLoader {
    settings: Settings,
    conn: Conn,
    pub key: String,
    adapter: String,
    pub instance: String,
    /// What the admin API shows.
    pub status: Mutex<Value>,
}

impl std::fmt::Debug for RedisLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisLoader({} {})", self.settings.url(), self.key)
    }
}

fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}/{}", host.trim(), std::process::id())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The version of a config value.
pub fn version(value: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, value);
    d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl RedisLoader {
    /// The loader `load` (at `at`) describes.
    pub fn provision(load: &Map<String, Value>, at: &str) -> Result<RedisLoader, Error> {
        let mut conn_fields = load.clone();
        let text = |k: &str| -> Result<Option<String>, Error> {
            match load.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(expand(s))),
                Some(_) => Err(Error::config(format!("{at}.{k}"), "must be a string")),
            }
        };
        let key = text("key")?
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| DEFAULT_KEY.into());
        let adapter = text("adapter")?.unwrap_or_default();
        let instance = text("instance_id")?
            .filter(|i| !i.is_empty())
            .unwrap_or_else(default_instance);
        for k in ["key", "adapter", "instance_id"] {
            conn_fields.remove(k);
        }
        for k in ["key_prefix", "encryption_key", "compression"] {
            if conn_fields.contains_key(k) {
                return Err(Error::config(
                    format!("{at}.{k}"),
                    "a storage field: the config loader reads its key as plain text",
                ));
            }
        }
        let settings = Settings::parse(&conn_fields, at)?;
        if settings.client_type != ClientType::Simple {
            return Err(Error::config(
                format!("{at}.client_type"),
                "the Redis config loader follows one server's keyspace notifications: client_type simple, one address",
            ));
        }
        let conn = Conn::new(&settings).map_err(|e| Error::config(at, e))?;
        let status = json!({"module": "redis", "source": format!("{}/{key}", settings.url()), "instance": instance});
        Ok(RedisLoader {
            settings,
            conn,
            key,
            adapter,
            instance,
            status: Mutex::new(status),
        })
    }

    /// The key's value now (`None`: unset).
    fn read(&self) -> std::io::Result<Option<Vec<u8>>> {
        self.conn
            .with(|c| redis::cmd("GET").arg(&self.key).query(c))
    }

    /// Records how loading `version` went, in Redis and for the admin API.
    fn record(&self, version: &str, error: Option<&str>) {
        let entry =
            json!({"version": version, "ok": error.is_none(), "error": error, "at": unix_now()});
        {
            let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
            s[if error.is_none() { "applied" } else { "failed" }] = entry.clone();
            if error.is_none() {
                s["failed"] = Value::Null;
            }
        }
        let hash = format!("{}:status", self.key);
        let r: std::io::Result<()> = self.conn.with(|c| {
            redis::cmd("HSET")
                .arg(&hash)
                .arg(&self.instance)
                .arg(entry.to_string())
                .query(c)
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot record the config loader's status in Redis");
        }
    }

    /// The `(media type, body)` the admin pipeline adapts.
    fn media(&self) -> Option<String> {
        (!self.adapter.is_empty()).then(|| format!("text/{}", self.adapter))
    }
}

/// Subscribes and tells `tx` whenever the key may have changed: at once,
/// after every (re)connection, and on every notification. Runs on its own
/// thread (Redis pub/sub reads block) until `tx` is closed.
fn subscribe(loader: Arc<RedisLoader>, tx: mpsc::UnboundedSender<()>) {
    let db = loader.settings.db;
    let keyspace = format!("__keyspace@{db}__:{}", loader.key);
    let mut backoff = TICK;
    let mut down = false;
    while !tx.is_closed() {
        let client = match loader.settings.client() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "config loader: bad Redis client settings");
                return;
            }
        };
        let connected = client
            .get_connection_with_timeout(loader.settings.timeout.unwrap_or(Duration::from_secs(5)));
        let mut c = match connected {
            Ok(c) => c,
            Err(e) => {
                if !down {
                    tracing::warn!(redis = %loader.settings.url(), error = %e, "config loader: Redis unreachable; keeping the running config and trying again");
                    down = true;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        ensure_notifications(&mut c);
        let mut ps = c.as_pubsub();
        let subscribed = ps
            .subscribe(&keyspace)
            .and_then(|_| ps.subscribe(&loader.key))
            .and_then(|_| ps.set_read_timeout(Some(TICK)));
        if let Err(e) = subscribed {
            tracing::warn!(error = %e, "config loader: cannot subscribe; trying again");
            std::thread::sleep(backoff);
            continue;
        }
        if down {
            tracing::info!(redis = %loader.settings.url(), "config loader: Redis reachable again");
            down = false;
        }
        backoff = TICK;
        let _ = tx.send(()); // catch up with what changed meanwhile
        loop {
            match ps.get_message() {
                Ok(_) => {
                    if tx.send(()).is_err() {
                        return;
                    }
                }
                Err(e) if e.is_timeout() => {
                    if tx.is_closed() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "config loader: subscription lost; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Turns keyspace notifications for string commands on (`K$`) where the
/// server has them off; where it refuses (managed Redis often does),
/// says how to notify instead.
fn ensure_notifications(c: &mut redis::Connection) {
    let now: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(c);
    let flags = now.ok().and_then(|v| v.get(1).cloned()).unwrap_or_default();
    let on = flags.contains('K') && (flags.contains('$') || flags.contains('A'));
    if on {
        return;
    }
    let want = format!("{flags}K$");
    let set: redis::RedisResult<()> = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg(&want)
        .query(c);
    match set {
        Ok(()) => {
            tracing::info!(flags = %want, "config loader: enabled Redis keyspace notifications")
        }
        Err(e) => {
            tracing::warn!(error = %e, "config loader: cannot enable keyspace notifications; after SET, PUBLISH on the channel named like the key")
        }
    }
}

/// Follows the key until aborted: loads each new version through the
/// admin pipeline and records the outcome.
pub(super) async fn follow(
    loader: Arc<RedisLoader>,
    admin: Arc<crate::admin::Inner>,
    adapters: Vec<(String, Arc<dyn crate::admin::ConfigAdapter>)>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sub = loader.clone();
    let spawned = std::thread::Builder::new()
        .name("config-loader".into())
        .spawn(move || subscribe(sub, tx));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "config loader: cannot start its subscriber");
        return;
    }
    let mut seen: Option<String> = None;
    while rx.recv().await.is_some() {
        while rx.try_recv().is_ok() {} // one read covers every notice so far
        let l = loader.clone();
        let value = match tokio::task::spawn_blocking(move || l.read()).await {
            Ok(Ok(Some(v))) => v,
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "config loader: cannot read the config key");
                continue;
            }
            Err(_) => continue,
        };
        let v = version(&value);
        if seen.as_deref() == Some(v.as_str()) {
            continue;
        }
        seen = Some(v.clone());
        let outcome = match super::adapt(&value, loader.media().as_deref(), &adapters) {
            Ok(json) => super::apply_reporting(&admin, json).await,
            Err(e) => Err(e),
        };
        let l = loader.clone();
        let _ = tokio::task::spawn_blocking(move || match outcome {
            Ok(()) => {
                tracing::info!(version = %v, "config loader: applied the config from Redis");
                l.record(&v, None)
            }
            Err(e) => {
                tracing::error!(version = %v, error = %e, "config loader: the config from Redis failed; the running config is unchanged");
                l.record(&v, Some(&e))
            }
        })
        .await;
    }
}
