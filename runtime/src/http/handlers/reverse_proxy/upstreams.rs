//! Upstreams and the process-wide state of the hosts behind them.
//!
//! A [`Host`] holds what Caddy keeps per backend address: active requests,
//! recent failures and the active health verdict, all atomics. Hosts live
//! in one process-wide pool keyed by the upstream's address as configured
//! (`dial`), so their state survives config reloads while any config uses
//! them (the pool holds weak references; the last config to let go of an
//! address drops its state). [`upstreams_status`] reads the pool for the
//! admin API's `/reverse_proxy/upstreams`.

use super::pool::{IdleConns, PoolLimits};
use crate::error::Error;
use crate::http::replacer::Template;
use crate::http::Cx;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// The shared state of one backend address.
#[derive(Debug, Default)]
pub struct Host {
    num_requests: AtomicI64,
    fails: AtomicI64,
    /// The last verdict of an active checker on this address, for the
    /// admin API and metrics (each handler's own verdict, which decides
    /// where requests go, is its upstream's [`ActiveHealth`]).
    unhealthy: AtomicBool,
}

impl Host {
    /// Requests in flight to this host.
    pub fn num_requests(&self) -> usize {
        self.num_requests.load(Ordering::Relaxed).max(0) as usize
    }

    /// Failures remembered by passive health checks.
    pub fn fails(&self) -> usize {
        self.fails.load(Ordering::Relaxed).max(0) as usize
    }

    /// Adds `delta` to the failure count.
    pub fn count_fail(&self, delta: i64) {
        self.fails.fetch_add(delta, Ordering::Relaxed);
    }

    /// Whether the last active verdict on this address was healthy.
    pub fn healthy(&self) -> bool {
        !self.unhealthy.load(Ordering::Relaxed)
    }

    /// Records an active checker's verdict change.
    pub fn report(&self, healthy: bool) {
        self.unhealthy.store(!healthy, Ordering::Relaxed);
    }

    /// Counts a request in flight until the guard drops.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.num_requests.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// One handler's active health state of one upstream: kept on the
/// upstream, not on the [`Host`] shared by every handler that dials the
/// address, so two handlers checking different health targets on one
/// address (different `health_uri`, headers…) neither share a verdict nor
/// push each other over their thresholds (as Caddy's `Upstream`, #7870).
#[derive(Debug, Default)]
pub struct ActiveHealth {
    unhealthy: AtomicBool,
    /// Active checks passed and failed since the last verdict change.
    passes: AtomicU32,
    fails: AtomicU32,
}

impl ActiveHealth {
    /// Whether the active checker has not marked it down.
    pub fn healthy(&self) -> bool {
        !self.unhealthy.load(Ordering::Relaxed)
    }

    /// Records an active check result; returns the new verdict when the
    /// thresholds (`passes`, `fails`) changed it. As Caddy's, the counts
    /// run from the last change of verdict, which resets both.
    pub fn record_check(&self, ok: bool, passes: u32, fails: u32) -> Option<bool> {
        let (count, limit) = if ok {
            (&self.passes, passes)
        } else {
            (&self.fails, fails)
        };
        let n = count.fetch_add(1, Ordering::Relaxed) + 1;
        if n < limit {
            return None;
        }
        let was_unhealthy = self.unhealthy.swap(!ok, Ordering::Relaxed);
        if was_unhealthy != ok {
            return None;
        }
        self.passes.store(0, Ordering::Relaxed);
        self.fails.store(0, Ordering::Relaxed);
        Some(ok)
    }
}

/// Counts one request to a host while alive.
pub struct InFlight(Arc<Host>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.num_requests.fetch_sub(1, Ordering::Relaxed);
    }
}

type HostMap = Mutex<HashMap<String, Weak<Host>>>;

fn hosts() -> &'static HostMap {
    static HOSTS: OnceLock<HostMap> = OnceLock::new();
    HOSTS.get_or_init(Default::default)
}

/// The host for `address`, shared with every config that uses it.
pub fn host_for(address: &str) -> Arc<Host> {
    let mut map = hosts().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = map.get(address).and_then(Weak::upgrade) {
        return h;
    }
    map.retain(|_, w| w.strong_count() > 0);
    let h = Arc::new(Host::default());
    map.insert(address.to_string(), Arc::downgrade(&h));
    h
}

/// How long a dynamic upstream's host (its passive health state) outlives
/// its last use (Caddy's `dynamicHostIdleExpiry`).
const DYNAMIC_HOST_IDLE: Duration = Duration::from_secs(3600);

/// Hosts of dynamic upstreams (`dynamic_upstreams`), by address: kept
/// while seen, so their passive health state lasts from one request to
/// the next (as Caddy's `dynamicHosts`), dropped after an hour unused.
#[derive(Default)]
struct DynamicHosts {
    map: HashMap<String, (Arc<Host>, Instant)>,
    swept: Option<Instant>,
}

fn dynamic_hosts() -> &'static Mutex<DynamicHosts> {
    static HOSTS: OnceLock<Mutex<DynamicHosts>> = OnceLock::new();
    HOSTS.get_or_init(Default::default)
}

/// The host of the dynamic upstream at `address`.
pub fn dynamic_host_for(address: &str) -> Arc<Host> {
    let now = Instant::now();
    let mut d = dynamic_hosts().lock().unwrap_or_else(|e| e.into_inner());
    if d.swept
        .is_none_or(|t| now.duration_since(t) > Duration::from_secs(60))
    {
        d.map
            .retain(|_, (_, seen)| now.duration_since(*seen) <= DYNAMIC_HOST_IDLE);
        d.swept = Some(now);
    }
    if let Some((h, seen)) = d.map.get_mut(address) {
        *seen = now;
        return h.clone();
    }
    let h = Arc::new(Host::default());
    d.map.insert(address.to_string(), (h.clone(), now));
    h
}

/// One entry of the admin API's upstream list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamStatus {
    pub address: String,
    pub num_requests: usize,
    pub fails: usize,
    /// Not marked down by active health checks.
    pub healthy: bool,
}

/// The state of every upstream in use, sorted by address.
pub fn upstreams_status() -> Vec<UpstreamStatus> {
    let status = |address: &str, h: &Host| UpstreamStatus {
        address: address.to_string(),
        num_requests: h.num_requests(),
        fails: h.fails(),
        healthy: h.healthy(),
    };
    let mut out: Vec<UpstreamStatus> = {
        let map = hosts().lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter_map(|(a, w)| w.upgrade().map(|h| status(a, &h)))
            .collect()
    };
    let dynamic = dynamic_hosts().lock().unwrap_or_else(|e| e.into_inner());
    out.extend(dynamic.map.iter().map(|(a, (h, _))| status(a, h)));
    out.sort_by(|a, b| a.address.cmp(&b.address));
    out
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialAddr {
    /// `host:port` (a name or an IP literal); shared, as every request
    /// to a static upstream clones it.
    Tcp { host: Arc<str>, port: u16 },
    /// A unix socket path.
    Unix(Arc<Path>),
}

impl DialAddr {
    /// `host:port` as a URI authority would carry it (`localhost` for
    /// unix sockets, as Caddy does).
    pub fn hostport(&self) -> String {
        match self {
            DialAddr::Tcp { host, port } => join_host_port(host, *port),
            DialAddr::Unix(_) => "localhost".into(),
        }
    }

    /// What tells two addresses apart (a unix socket by its path), for
    /// pools of connections by address.
    pub fn pool_key(&self) -> String {
        match self {
            DialAddr::Tcp { .. } => self.hostport(),
            DialAddr::Unix(p) => format!("unix/{}", p.display()),
        }
    }
}

/// `host:port`, with brackets around an IPv6 host (Go's `JoinHostPort`).
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Parses one dial address of Caddy's network-address syntax into the
/// sockets it names (a port range names several).
pub fn parse_dial(s: &str) -> Result<Vec<DialAddr>, String> {
    if let Some(path) = s.strip_prefix("unix/") {
        if path.is_empty() {
            return Err("unix socket path is empty".into());
        }
        return Ok(vec![DialAddr::Unix(Arc::from(Path::new(path)))]);
    }
    let rest = match s.split_once('/') {
        Some(("tcp" | "tcp4" | "tcp6", rest)) => rest,
        Some((net, _)) if !net.contains(':') && !net.contains('[') => {
            return Err(format!("network {net:?} cannot carry HTTP"));
        }
        _ => s,
    };
    let (host, ports) = split_port(rest).ok_or_else(|| format!("missing port in {s:?}"))?;
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (parse_port(a)?, parse_port(b)?),
        None => (parse_port(ports)?, parse_port(ports)?),
    };
    if hi < lo {
        return Err(format!("invalid port range {ports:?}"));
    }
    Ok((lo..=hi)
        .map(|port| DialAddr::Tcp {
            host: if host.is_empty() {
                "localhost".into()
            } else {
                host.into()
            },
            port,
        })
        .collect())
}

fn split_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once(']')?;
        return Some((h, p.strip_prefix(':')?));
    }
    s.rsplit_once(':')
}

fn parse_port(p: &str) -> Result<u16, String> {
    p.parse().map_err(|_| format!("invalid port {p:?}"))
}

/// How an upstream's address is known.
pub enum Dial {
    Static(DialAddr),
    /// With placeholders: rendered per request.
    Template(Template),
}

/// One upstream of a handler.
pub struct Upstream {
    /// The address as configured; the key of its [`Host`].
    pub key: String,
    pub dial: Dial,
    pub host: Arc<Host>,
    /// This handler's active health verdict.
    pub active: Arc<ActiveHealth>,
    pub max_requests: usize,
    /// Passive health: unavailable at this many remembered failures.
    pub max_fails: usize,
    /// Idle keep-alive connections (static addresses only).
    pub idle: IdleConns,
    /// Whether `idle` is used (false for per-request dynamic upstreams,
    /// whose connections the transport pools by address).
    pub own_pool: bool,
}

impl Upstream {
    /// Builds the upstreams that `dial` names (several for a port range).
    pub fn provision(
        dial: &str,
        max_requests: usize,
        max_fails: usize,
        limits: &PoolLimits,
        path: &str,
    ) -> Result<Vec<Upstream>, Error> {
        let template = Template::parse(dial);
        // Global placeholders (`{env.*}`) are known now: such an address
        // is as static as a literal one.
        let Some(literal) = template.as_literal() else {
            return Ok(vec![Upstream {
                key: dial.to_string(),
                dial: Dial::Template(template),
                host: host_for(dial),
                active: Default::default(),
                max_requests,
                max_fails,
                idle: IdleConns::new(limits),
                own_pool: false,
            }]);
        };
        let addrs = parse_dial(literal).map_err(|e| Error::config(path, e))?;
        let many = addrs.len() > 1;
        Ok(addrs
            .into_iter()
            .map(|a| {
                let key = if many { a.hostport() } else { dial.to_string() };
                Upstream {
                    host: host_for(&key),
                    key,
                    dial: Dial::Static(a),
                    active: Default::default(),
                    max_requests,
                    max_fails,
                    idle: IdleConns::new(limits),
                    own_pool: true,
                }
            })
            .collect())
    }

    /// Whether it may take a request: healthy, and not full.
    pub fn available(&self) -> bool {
        self.active.healthy()
            && (self.max_fails == 0 || self.host.fails() < self.max_fails)
            && (self.max_requests == 0 || self.host.num_requests() < self.max_requests)
    }

    /// The address to dial for this request.
    pub fn resolve(&self, cx: &Cx<'_>) -> Result<DialAddr, String> {
        match &self.dial {
            Dial::Static(a) => Ok(a.clone()),
            Dial::Template(t) => {
                let s = t.render(cx);
                let mut addrs = parse_dial(&s)?;
                if addrs.len() != 1 {
                    return Err(format!(
                        "upstream {}: dial address must represent precisely one socket: {s}",
                        self.key
                    ));
                }
                Ok(addrs.remove(0))
            }
        }
    }
}
