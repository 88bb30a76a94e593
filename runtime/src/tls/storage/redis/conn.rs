//! The settings of a Redis storage (pberkel/caddy-storage-redis's JSON
//! fields) and its one connection: made on first use, remade when it
//! breaks, and while the server cannot be reached, tried again only after
//! a growing pause (so a Redis outage costs one connect timeout per
//! pause, not one per storage call). The outage and the recovery are
//! logged once each.

use crate::error::Error;
use serde_json::{Map, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// pberkel's defaults.
const DEFAULT_HOST: &str = "127.0.0.1";
const DEFAULT_PORT: &str = "6379";
const DEFAULT_PREFIX: &str = "caddy";
/// go-redis's defaults where `timeout` is not set.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// The pause before the first reconnect after a failure, doubled up to
/// [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// How stored values are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Flate,
    Zlib,
}

/// A Redis storage's settings, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub db: i64,
    pub username: String,
    pub password: String,
    pub timeout: Option<Duration>,
    pub key_prefix: String,
    pub encryption_key: Option<[u8; 32]>,
    pub compression: Compression,
    pub tls: Option<Tls>,
}

/// `tls_enabled` and what goes with it.
#[derive(Debug, Clone)]
pub struct Tls {
    pub insecure: bool,
    /// PEM of the server certificates to trust instead of the system's.
    pub roots: Option<Vec<u8>>,
}

/// `{env.NAME}` replaced by the variable (empty when unset), as Caddy's
/// global replacer does for this module's fields (and the Redis config
/// loader's).
pub fn expand(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{env.") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&std::env::var(&rest[start + 5..start + len]).unwrap_or_default());
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// A string field, or a number written as one (`db`, `timeout`).
fn text(v: &Value, at: &str) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(expand(s)),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Ok(String::new()),
        _ => Err(Error::config(at, "must be a string")),
    }
}

/// A list of strings (`address`, `host`, `port`).
fn texts(v: &Value, at: &str) -> Result<Vec<String>, Error> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| text(v, &format!("{at}[{i}]")))
            .collect(),
        _ => Err(Error::config(at, "must be a list of strings")),
    }
}

fn flag(v: &Value, at: &str) -> Result<bool, Error> {
    v.as_bool()
        .ok_or_else(|| Error::config(at, "must be true or false"))
}

/// `key_prefix` without leading or trailing `/`, and no empty, `.` or
/// `..` segment.
fn key_prefix(p: &str, at: &str) -> Result<String, Error> {
    let p = p.trim().trim_matches('/');
    if !p.is_empty() {
        if let Some(bad) = p
            .split('/')
            .find(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return Err(Error::config(
                at,
                format!("invalid key_prefix segment: {bad:?}"),
            ));
        }
    }
    Ok(p.to_string())
}

/// `host:port` as Go's `net.SplitHostPort` reads it.
fn split_host_port(a: &str, at: &str) -> Result<(String, String), Error> {
    let bad = || Error::config(at, format!("invalid address: {a}"));
    let (host, port) = a.rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(h) => h.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    Ok((host.to_string(), port.to_string()))
}

impl Settings {
    /// The settings of a `{"module":"redis",…}` object at `path`.
    pub fn parse(cfg: &Map<String, Value>, path: &str) -> Result<Settings, Error> {
        let at = |k: &str| format!("{path}.{k}");
        let mut s = Settings {
            host: DEFAULT_HOST.into(),
            port: 6379,
            db: 0,
            username: String::new(),
            password: String::new(),
            timeout: None,
            key_prefix: DEFAULT_PREFIX.into(),
            encryption_key: None,
            compression: Compression::None,
            tls: None,
        };
        let (mut addresses, mut hosts, mut ports) = (Vec::new(), Vec::new(), Vec::new());
        let (mut tls_enabled, mut insecure, mut roots) = (false, false, None);
        for (k, v) in cfg {
            let p = at(k);
            match k.as_str() {
                "module" => {}
                "client_type" => match text(v, &p)?.as_str() {
                    "" | "simple" => {}
                    other => return Err(Error::config(p, format!("client type {other:?} is not supported: bellhop's Redis storage talks to one server (\"simple\"); Redis Cluster and Sentinel failover need a client bellhop does not have yet"))),
                },
                "address" => addresses = texts(v, &p)?,
                "host" => hosts = texts(v, &p)?,
                "port" => ports = texts(v, &p)?,
                "db" => {
                    let d = text(v, &p)?;
                    let d = if d.is_empty() { "0".into() } else { d };
                    s.db = d.parse().ok().filter(|n| *n >= 0).ok_or_else(|| Error::config(&p, format!("invalid db value: {d}")))?;
                }
                "timeout" => {
                    let t = text(v, &p)?;
                    if !t.is_empty() {
                        let secs: u64 = t.parse().map_err(|_| Error::config(&p, format!("invalid timeout value: {t}")))?;
                        s.timeout = Some(Duration::from_secs(secs));
                    }
                }
                "username" => s.username = text(v, &p)?,
                "password" => s.password = text(v, &p)?,
                "key_prefix" => {
                    let k = text(v, &p)?;
                    s.key_prefix = key_prefix(if k.is_empty() { DEFAULT_PREFIX } else { &k }, &p)?;
                }
                "encryption_key" => {
                    let k = text(v, &p)?;
                    if !k.is_empty() {
                        let b = k.as_bytes();
                        if b.len() < 32 {
                            return Err(Error::config(p, "invalid length for 'encryption_key', must contain at least 32 bytes"));
                        }
                        s.encryption_key = Some(b[..32].try_into().expect("32 bytes"));
                    }
                }
                "compression" => {
                    s.compression = match v {
                        Value::Bool(true) => Compression::Flate,
                        Value::Bool(false) => Compression::None,
                        _ => match text(v, &p)?.as_str() {
                            "" | "false" => Compression::None,
                            "flate" | "true" => Compression::Flate,
                            "zlib" => Compression::Zlib,
                            other => return Err(Error::config(p, format!("invalid compression value: {other:?} (expected 'flate', 'zlib', or 'false')"))),
                        },
                    }
                }
                "tls_enabled" => tls_enabled = flag(v, &p)?,
                "tls_insecure" => insecure = flag(v, &p)?,
                "tls_server_certs_pem" => {
                    let pem = text(v, &p)?;
                    if !pem.is_empty() {
                        roots = Some(pem.into_bytes());
                    }
                }
                "tls_server_certs_path" => {
                    let file = text(v, &p)?;
                    if !file.is_empty() {
                        if roots.is_some() {
                            return Err(Error::config(p, "cannot specify tls_server_certs_pem alongside tls_server_certs_path"));
                        }
                        let pem = std::fs::read(&file).map_err(|e| Error::config(&p, format!("failed to load PEM server certs from file {file}: {e}")))?;
                        roots = Some(pem);
                    }
                }
                "master_name" | "sentinel_password" => {
                    if !text(v, &p)?.is_empty() {
                        return Err(Error::config(p, "only used by the \"failover\" client type (Redis Sentinel), which bellhop does not support yet"));
                    }
                }
                "route_by_latency" | "route_randomly" => {
                    if flag(v, &p)? {
                        return Err(Error::config(p, "only used by the \"cluster\" and \"failover\" client types, which bellhop does not support yet"));
                    }
                }
                _ => return Err(Error::config(p, "unknown field")),
            }
        }
        let (host, port) = match addresses.as_slice() {
            [] => {
                if hosts.len() > 1 || ports.len() > 1 {
                    return Err(Error::config(at("host"), "more than one server is Redis Cluster, which bellhop's Redis storage does not support yet"));
                }
                let h = hosts.pop().filter(|h| !h.is_empty()).unwrap_or_else(|| DEFAULT_HOST.into());
                let p = ports.pop().filter(|p| !p.is_empty()).unwrap_or_else(|| DEFAULT_PORT.into());
                (h, p)
            }
            [one] => split_host_port(one, &at("address[0]"))?,
            _ => return Err(Error::config(at("address"), "more than one server is Redis Cluster, which bellhop's Redis storage does not support yet")),
        };
        s.host = host;
        s.port = port
            .parse()
            .map_err(|_| Error::config(at("port"), format!("invalid port value: {port}")))?;
        if tls_enabled {
            s.tls = Some(Tls { insecure, roots });
        }
        Ok(s)
    }

    /// `redis://host:port/db` (or `rediss://`), for logs and errors.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}/{}", self.port, self.db)
    }

    /// A client for these settings (no connection is made yet).
    pub fn client(&self) -> Result<redis::Client, String> {
        let addr = match &self.tls {
            None => redis::ConnectionAddr::Tcp(self.host.clone(), self.port),
            Some(t) => redis::ConnectionAddr::TcpTls {
                host: self.host.clone(),
                port: self.port,
                insecure: t.insecure,
                tls_params: None,
            },
        };
        let mut info = redis::RedisConnectionInfo::default().set_db(self.db);
        if !self.username.is_empty() {
            info = info.set_username(&self.username);
        }
        if !self.password.is_empty() {
            info = info.set_password(&self.password);
        }
        let conn = redis::IntoConnectionInfo::into_connection_info(addr)
            .map_err(|e| e.to_string())?
            .set_redis_settings(info);
        let client = match self.tls.as_ref().and_then(|t| t.roots.clone()) {
            Some(pem) => redis::Client::build_with_tls(
                conn,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                },
            ),
            None => redis::Client::open(conn),
        };
        client.map_err(|e| e.to_string())
    }
}

/// Whether an error means the connection is gone (rather than a command
/// the server refused).
fn broken(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_connection_refusal()
}

#[derive(Default)]
struct State {
    conn: Option<redis::Connection>,
    /// While the server is unreachable: when to try again, and the pause.
    retry_at: Option<(Instant, Duration)>,
    last_error: String,
}

/// One storage's connection to its server.
pub struct Conn {
    client: redis::Client,
    url: String,
    timeout: Option<Duration>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Conn({})", self.url)
    }
}

impl Conn {
    pub fn new(s: &Settings) -> Result<Conn, String> {
        Ok(Conn {
            client: s.client()?,
            url: s.url(),
            timeout: s.timeout,
            state: Mutex::new(State::default()),
        })
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let c = self
            .client
            .get_connection_with_timeout(self.timeout.unwrap_or(CONNECT_TIMEOUT))?;
        let io = Some(self.timeout.unwrap_or(IO_TIMEOUT));
        c.set_read_timeout(io)?;
        c.set_write_timeout(io)?;
        Ok(c)
    }

    fn down(&self, st: &mut State, e: &redis::RedisError) -> std::io::Error {
        st.conn = None;
        let pause = match st.retry_at {
            None => {
                tracing::warn!(redis = %self.url, error = %e, "Redis storage unreachable; serving from memory and trying again");
                FIRST_PAUSE
            }
            Some((_, p)) => (p * 2).min(MAX_PAUSE),
        };
        st.retry_at = Some((Instant::now() + pause, pause));
        st.last_error = e.to_string();
        self.error(&st.last_error)
    }

    fn error(&self, e: &str) -> std::io::Error {
        std::io::Error::other(format!("redis storage {}: {e}", self.url))
    }

    /// Runs `f` on the connection: connecting first where needed, and once
    /// more on a fresh connection when a kept one turns out broken.
    pub fn with<T>(
        &self,
        mut f: impl FnMut(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> std::io::Result<T> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..2 {
            let fresh = st.conn.is_none();
            if fresh {
                if let Some((at, _)) = st.retry_at {
                    if Instant::now() < at {
                        return Err(self.error(&st.last_error));
                    }
                }
                match self.connect() {
                    Ok(c) => st.conn = Some(c),
                    Err(e) => return Err(self.down(&mut st, &e)),
                }
                if st.retry_at.take().is_some() {
                    tracing::info!(redis = %self.url, "Redis storage reachable again");
                }
            }
            let conn = st.conn.as_mut().expect("connected above");
            match f(conn) {
                Ok(v) => return Ok(v),
                Err(e) if broken(&e) && fresh => return Err(self.down(&mut st, &e)),
                Err(e) if broken(&e) => st.conn = None,
                Err(e) => return Err(self.error(&e.to_string())),
            }
        }
        Err(self.error("connection lost twice"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Settings, Error> {
        Settings::parse(v.as_object().unwrap(), "storage")
    }

    #[test]
    fn fields_are_pberkels() {
        let s = parse(json!({"module": "redis"})).unwrap();
        assert_eq!((s.host.as_str(), s.port, s.db), ("127.0.0.1", 6379, 0));
        assert_eq!(s.key_prefix, "caddy");
        assert_eq!(s.url(), "redis://127.0.0.1:6379/0");
        // What the Caddyfile writes: every field, lists, db as text.
        let s = parse(
            json!({"module": "redis", "client_type": "simple", "address": null,
            "host": ["10.0.0.1"], "port": ["7000"], "db": "2", "timeout": "1",
            "username": "", "password": "", "sentinel_password": "", "master_name": "",
            "key_prefix": "/fleet/a/", "encryption_key": "", "compression": "zlib",
            "tls_enabled": false, "tls_insecure": false, "tls_server_certs_pem": "",
            "tls_server_certs_path": "", "route_by_latency": false, "route_randomly": false}),
        )
        .unwrap();
        assert_eq!(s.url(), "redis://10.0.0.1:7000/2");
        assert_eq!(s.key_prefix, "fleet/a");
        assert_eq!(s.compression, Compression::Zlib);
        assert_eq!(s.timeout, Some(Duration::from_secs(1)));
        let s = parse(json!({"module": "redis", "address": ["[::1]:6380"], "db": 3, "compression": true, "tls_enabled": true})).unwrap();
        assert_eq!(s.url(), "rediss://[::1]:6380/3");
        assert_eq!(s.compression, Compression::Flate);
        std::env::set_var("BELLHOP_TEST_REDIS_KEY", "k".repeat(40));
        let s = parse(json!({"module": "redis", "encryption_key": "{env.BELLHOP_TEST_REDIS_KEY}"}))
            .unwrap();
        assert_eq!(s.encryption_key, Some([b'k'; 32]));
    }

    #[test]
    fn bad_fields_are_refused_with_their_path() {
        for (v, at, says) in [
            (
                json!({"client_type": "cluster"}),
                "storage.client_type",
                "not supported",
            ),
            (
                json!({"address": ["a:1", "b:2"]}),
                "storage.address",
                "Redis Cluster",
            ),
            (
                json!({"address": ["nope"]}),
                "storage.address[0]",
                "invalid address",
            ),
            (json!({"db": "-1"}), "storage.db", "invalid db"),
            (
                json!({"timeout": "soon"}),
                "storage.timeout",
                "invalid timeout",
            ),
            (
                json!({"key_prefix": "a/../b"}),
                "storage.key_prefix",
                "\"..\"",
            ),
            (
                json!({"encryption_key": "short"}),
                "storage.encryption_key",
                "32 bytes",
            ),
            (json!({"compression": "lz4"}), "storage.compression", "lz4"),
            (
                json!({"master_name": "m"}),
                "storage.master_name",
                "failover",
            ),
            (
                json!({"route_randomly": true}),
                "storage.route_randomly",
                "cluster",
            ),
            (json!({"port": ["x"]}), "storage.port", "invalid port"),
            (json!({"colour": "red"}), "storage.colour", "unknown field"),
        ] {
            let mut o = v.as_object().unwrap().clone();
            o.insert("module".into(), json!("redis"));
            let e = Settings::parse(&o, "storage").unwrap_err().to_string();
            assert!(e.contains(at) && e.contains(says), "{v}: {e}");
        }
    }
}
