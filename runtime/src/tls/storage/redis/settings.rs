//! The settings of a Redis storage: pberkel/caddy-storage-redis's JSON
//! fields, checked as that plugin checks them, and the clients they make:
//! one server (`simple`), a Redis Cluster (`cluster`, or more than one
//! address), or the master a set of Sentinels names (`failover`).

use crate::error::Error;
use serde_json::{Map, Value};
use std::time::Duration;

/// pberkel's defaults.
const DEFAULT_HOST: &str = "127.0.0.1";
const DEFAULT_PORT: &str = "6379";
const DEFAULT_PREFIX: &str = "caddy";
/// go-redis's defaults where `timeout` is not set.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// How the storage reaches Redis (`client_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// One server.
    Simple,
    /// A Redis Cluster, from any of its nodes.
    Cluster,
    /// The master the Sentinels at the addresses name `master_name`.
    Failover,
}

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
    pub client_type: ClientType,
    /// The server; a cluster's nodes; the Sentinels.
    pub addrs: Vec<(String, u16)>,
    pub master_name: String,
    pub sentinel_password: String,
    /// `route_randomly`: a cluster's reads go to random replicas.
    pub read_replicas: bool,
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

/// A string field, or a number written as one (`db`, `timeout`).
fn text(v: &Value, at: &str) -> Result<String, Error> {
    match v {
        // `{env.NAME}` expanded, as Caddy's global replacer does here.
        Value::String(s) => Ok(crate::util::expand_env(s)),
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
            client_type: ClientType::Simple,
            addrs: Vec::new(),
            master_name: String::new(),
            sentinel_password: String::new(),
            read_replicas: false,
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
        let (mut kind, mut by_latency) = (String::new(), false);
        for (k, v) in cfg {
            let p = at(k);
            match k.as_str() {
                "module" => {}
                "client_type" => kind = text(v, &p)?,
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
                "master_name" => s.master_name = text(v, &p)?,
                "sentinel_password" => s.sentinel_password = text(v, &p)?,
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
                "route_by_latency" => by_latency = flag(v, &p)?,
                "route_randomly" => s.read_replicas = flag(v, &p)?,
                _ => return Err(Error::config(p, "unknown field")),
            }
        }
        s.addrs = addrs(&addresses, &hosts, &ports, &at)?;
        s.client_type = match kind.as_str() {
            "failover" => ClientType::Failover,
            "cluster" => ClientType::Cluster,
            "" | "simple" if s.addrs.len() > 1 => ClientType::Cluster,
            "" | "simple" => ClientType::Simple,
            other => {
                return Err(Error::config(
                    at("client_type"),
                    format!("unknown client type {other:?}: simple, cluster or failover"),
                ))
            }
        };
        s.check_by_type(by_latency, roots.is_some(), &at)?;
        if tls_enabled {
            s.tls = Some(Tls { insecure, roots });
        }
        Ok(s)
    }

    /// What only some client types use, refused with the others (pberkel
    /// ignores it silently).
    fn check_by_type(
        &self,
        by_latency: bool,
        roots: bool,
        at: &dyn Fn(&str) -> String,
    ) -> Result<(), Error> {
        let failover = self.client_type == ClientType::Failover;
        if failover && self.master_name.is_empty() {
            return Err(Error::config(
                at("master_name"),
                "'master_name' is required when using 'failover' client type",
            ));
        }
        for (field, set) in [
            ("master_name", !self.master_name.is_empty()),
            ("sentinel_password", !self.sentinel_password.is_empty()),
        ] {
            if set && !failover {
                return Err(Error::config(
                    at(field),
                    "only used by the \"failover\" client type (Redis Sentinel)",
                ));
            }
        }
        if self.read_replicas && self.client_type != ClientType::Cluster {
            return Err(Error::config(at("route_randomly"), "only used by the \"cluster\" client type here: bellhop's Sentinel client talks to the master"));
        }
        if by_latency {
            return Err(Error::config(at("route_by_latency"), "not supported: bellhop's Redis client cannot route reads by latency; route_randomly sends a cluster's reads to random replicas"));
        }
        if roots && failover {
            return Err(Error::config(at("tls_server_certs_pem"), "not supported with the \"failover\" client type: bellhop's Sentinel client trusts the system's roots (or none, with tls_insecure)"));
        }
        Ok(())
    }

    /// The server(s), for logs and errors: `redis://host:port/db`,
    /// `redis+cluster://a:1,b:2`, `redis+sentinel://a:1,b:2/master/db`
    /// (`rediss` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        let hosts: Vec<String> = self
            .addrs
            .iter()
            .map(|(h, p)| match h.contains(':') {
                true => format!("[{h}]:{p}"),
                false => format!("{h}:{p}"),
            })
            .collect();
        let hosts = hosts.join(",");
        match self.client_type {
            ClientType::Simple => format!("{scheme}://{hosts}/{}", self.db),
            ClientType::Cluster => format!("{scheme}+cluster://{hosts}"),
            ClientType::Failover => {
                format!(
                    "{scheme}+sentinel://{hosts}/{}/{}",
                    self.master_name, self.db
                )
            }
        }
    }

    /// The address of one server, with TLS as set.
    fn addr(&self, (host, port): &(String, u16)) -> redis::ConnectionAddr {
        match &self.tls {
            None => redis::ConnectionAddr::Tcp(host.clone(), *port),
            Some(t) => redis::ConnectionAddr::TcpTls {
                host: host.clone(),
                port: *port,
                insecure: t.insecure,
                tls_params: None,
            },
        }
    }

    /// Database, user and password of the data connections.
    fn info(&self) -> redis::RedisConnectionInfo {
        let mut info = redis::RedisConnectionInfo::default().set_db(self.db);
        if !self.username.is_empty() {
            info = info.set_username(&self.username);
        }
        if !self.password.is_empty() {
            info = info.set_password(&self.password);
        }
        info
    }

    fn roots(&self) -> Option<redis::TlsCertificates> {
        let pem = self.tls.as_ref()?.roots.clone()?;
        Some(redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        })
    }

    fn tls_mode(&self) -> Option<redis::TlsMode> {
        self.tls.as_ref().map(|t| match t.insecure {
            true => redis::TlsMode::Insecure,
            false => redis::TlsMode::Secure,
        })
    }

    /// A client for one server (`simple`); no connection is made yet.
    pub fn client(&self) -> Result<redis::Client, String> {
        if self.client_type != ClientType::Simple {
            return Err(format!(
                "{}: needs one server (client_type simple)",
                self.url()
            ));
        }
        let conn = redis::IntoConnectionInfo::into_connection_info(self.addr(&self.addrs[0]))
            .map_err(|e| e.to_string())?
            .set_redis_settings(self.info());
        let client = match self.roots() {
            Some(certs) => redis::Client::build_with_tls(conn, certs),
            None => redis::Client::open(conn),
        };
        client.map_err(|e| e.to_string())
    }

    /// A Redis Cluster client from the nodes (`cluster`).
    pub fn cluster(&self) -> Result<redis::cluster::ClusterClient, String> {
        let nodes: Vec<redis::ConnectionAddr> = self.addrs.iter().map(|a| self.addr(a)).collect();
        let mut b = redis::cluster::ClusterClientBuilder::new(nodes)
            .connection_timeout(self.timeout.unwrap_or(CONNECT_TIMEOUT))
            .response_timeout(self.timeout.unwrap_or(IO_TIMEOUT));
        if !self.username.is_empty() {
            b = b.username(&self.username);
        }
        if !self.password.is_empty() {
            b = b.password(&self.password);
        }
        if let Some(mode) = self.tls_mode() {
            b = b.tls(mode);
        }
        if let Some(certs) = self.roots() {
            b = b.certs(certs);
        }
        if self.read_replicas {
            b = b.read_routing_strategy(redis::cluster_read_routing::RandomReplicaStrategy);
        }
        b.build().map_err(|e| e.to_string())
    }

    /// A client of the Sentinels that finds the master (`failover`).
    pub fn sentinel(&self) -> Result<redis::sentinel::SentinelClient, String> {
        let sentinels: Vec<redis::ConnectionInfo> = self
            .addrs
            .iter()
            .map(|a| {
                let mut info = redis::RedisConnectionInfo::default();
                if !self.sentinel_password.is_empty() {
                    info = info.set_password(&self.sentinel_password);
                }
                redis::IntoConnectionInfo::into_connection_info(self.addr(a))
                    .map(|c| c.set_redis_settings(info))
            })
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let mut node = redis::sentinel::SentinelNodeConnectionInfo::default()
            .set_redis_connection_info(self.info());
        if let Some(mode) = self.tls_mode() {
            node = node.set_tls_mode(mode);
        }
        redis::sentinel::SentinelClient::build(
            sentinels,
            self.master_name.clone(),
            Some(node),
            redis::sentinel::SentinelServerType::Master,
        )
        .map_err(|e| e.to_string())
    }
}

/// The servers: `address` as given, else each `host` with the `port` at
/// the same place (the last one of the shorter list repeated), as
/// pberkel's finalizeConfiguration pairs them.
fn addrs(
    addresses: &[String],
    hosts: &[String],
    ports: &[String],
    at: &dyn Fn(&str) -> String,
) -> Result<Vec<(String, u16)>, Error> {
    let port = |p: &str, place: String| {
        p.parse::<u16>()
            .map_err(|_| Error::config(place, format!("invalid port value: {p}")))
    };
    if !addresses.is_empty() {
        return addresses
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let place = at(&format!("address[{i}]"));
                let (h, p) = split_host_port(a, &place)?;
                Ok((h, port(&p, place)?))
            })
            .collect();
    }
    let n = hosts.len().max(ports.len()).max(1);
    (0..n)
        .map(|i| {
            let h = hosts.get(i).or(hosts.last()).filter(|h| !h.is_empty());
            let p = ports.get(i).or(ports.last()).filter(|p| !p.is_empty());
            Ok((
                h.map_or(DEFAULT_HOST, |h| h.as_str()).to_string(),
                port(p.map_or(DEFAULT_PORT, |p| p.as_str()), at("port"))?,
            ))
        })
        .collect()
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
        assert_eq!(s.addrs, [("127.0.0.1".to_string(), 6379)]);
        assert_eq!((s.client_type, s.db), (ClientType::Simple, 0));
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
    fn client_types_and_addresses_as_pberkels() {
        // More than one address is a cluster, whatever client_type says.
        let s = parse(json!({"module": "redis", "address": ["a:1", "b:2"]})).unwrap();
        assert_eq!(s.client_type, ClientType::Cluster);
        assert_eq!(s.url(), "redis+cluster://a:1,b:2");
        // Hosts and ports pair up, the shorter list's last one repeated.
        let s = parse(json!({"module": "redis", "client_type": "cluster",
            "host": ["a", "b", "c"], "port": ["7000"], "route_randomly": true}))
        .unwrap();
        assert_eq!(s.url(), "redis+cluster://a:7000,b:7000,c:7000");
        assert!(s.read_replicas);
        let s = parse(json!({"module": "redis", "client_type": "failover",
            "address": ["s1:26379", "s2:26379"], "master_name": "main",
            "sentinel_password": "x", "db": 2, "tls_enabled": true}))
        .unwrap();
        assert_eq!(s.url(), "rediss+sentinel://s1:26379,s2:26379/main/2");
        // The clients build without connecting.
        assert!(s.sentinel().is_ok());
        let s = parse(json!({"module": "redis", "client_type": "cluster"})).unwrap();
        assert!(s.cluster().is_ok() && s.client().is_err());
    }

    #[test]
    fn bad_fields_are_refused_with_their_path() {
        for (v, at, says) in [
            (
                json!({"client_type": "ring"}),
                "storage.client_type",
                "unknown client type",
            ),
            (
                json!({"client_type": "failover"}),
                "storage.master_name",
                "'master_name' is required",
            ),
            (
                json!({"route_by_latency": true, "client_type": "cluster"}),
                "storage.route_by_latency",
                "latency",
            ),
            (
                json!({"client_type": "failover", "master_name": "m", "tls_server_certs_pem": "x"}),
                "storage.tls_server_certs_pem",
                "failover",
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
