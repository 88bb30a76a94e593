//! A Redis storage's one connection (to its server, its cluster, or the
//! master its Sentinels name): made on first use, remade when it breaks,
//! and while Redis cannot be reached, tried again only after a growing
//! pause (so an outage costs one connect timeout per pause, not one per
//! storage call). The outage and the recovery are logged once each.

use super::settings::{ClientType, Settings, CONNECT_TIMEOUT, IO_TIMEOUT};
use redis::ConnectionLike;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The pause before the first reconnect after a failure, doubled up to
/// [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Whether an error means the connection is gone or leads to the wrong
/// server (a master a failover demoted answers READONLY; a cluster that
/// moved a slot, MOVED): either way a new connection is the answer,
/// rather than a command the server refused.
fn broken(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
}

/// Where connections come from.
enum Source {
    One(redis::Client),
    Cluster(redis::cluster::ClusterClient),
    Sentinel(redis::sentinel::SentinelClient),
}

/// A live connection: to one server (a Sentinel's master too), or to a
/// cluster, which routes each command to the node of its key.
pub enum Link {
    One(redis::Connection),
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl Link {
    /// Whether `MULTI` may span several keys (not across a cluster's
    /// slots).
    pub fn transactions(&self) -> bool {
        matches!(self, Link::One(_))
    }

    fn inner(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Link::One(c) => c,
            Link::Cluster(c) => c.as_mut(),
        }
    }
}

impl ConnectionLike for Link {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
        self.inner().req_packed_command(cmd)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        self.inner().req_packed_commands(cmd, offset, count)
    }

    fn req_command(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<redis::Value> {
        self.inner().req_command(cmd)
    }

    fn get_db(&self) -> i64 {
        match self {
            Link::One(c) => c.get_db(),
            Link::Cluster(c) => c.get_db(),
        }
    }

    fn supports_pipelining(&self) -> bool {
        match self {
            Link::One(c) => c.supports_pipelining(),
            Link::Cluster(c) => c.supports_pipelining(),
        }
    }

    fn check_connection(&mut self) -> bool {
        self.inner().check_connection()
    }

    fn is_open(&self) -> bool {
        match self {
            Link::One(c) => c.is_open(),
            Link::Cluster(c) => c.is_open(),
        }
    }
}

struct State {
    source: Source,
    link: Option<Link>,
    /// While Redis is unreachable: when to try again, and the pause.
    retry_at: Option<(Instant, Duration)>,
    last_error: String,
}

/// One storage's connection.
pub struct Conn {
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
        let source = match s.client_type {
            ClientType::Simple => Source::One(s.client()?),
            ClientType::Cluster => Source::Cluster(s.cluster()?),
            ClientType::Failover => Source::Sentinel(s.sentinel()?),
        };
        Ok(Conn {
            url: s.url(),
            timeout: s.timeout,
            state: Mutex::new(State {
                source,
                link: None,
                retry_at: None,
                last_error: String::new(),
            }),
        })
    }

    fn connect(&self, source: &mut Source) -> redis::RedisResult<Link> {
        let one = |client: &redis::Client| {
            let c = client.get_connection_with_timeout(self.timeout.unwrap_or(CONNECT_TIMEOUT))?;
            let io = Some(self.timeout.unwrap_or(IO_TIMEOUT));
            c.set_read_timeout(io)?;
            c.set_write_timeout(io)?;
            Ok(Link::One(c))
        };
        match source {
            Source::One(client) => one(client),
            Source::Cluster(client) => client.get_connection().map(|c| Link::Cluster(Box::new(c))),
            Source::Sentinel(sentinels) => one(&sentinels.get_client()?),
        }
    }

    fn down(&self, st: &mut State, e: &redis::RedisError) -> std::io::Error {
        st.link = None;
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
        mut f: impl FnMut(&mut Link) -> redis::RedisResult<T>,
    ) -> std::io::Result<T> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let st = &mut *guard;
        for _ in 0..2 {
            let fresh = st.link.is_none();
            if fresh {
                if let Some((at, _)) = st.retry_at {
                    if Instant::now() < at {
                        return Err(self.error(&st.last_error));
                    }
                }
                match self.connect(&mut st.source) {
                    Ok(c) => st.link = Some(c),
                    Err(e) => return Err(self.down(st, &e)),
                }
                if st.retry_at.take().is_some() {
                    tracing::info!(redis = %self.url, "Redis storage reachable again");
                }
            }
            let link = st.link.as_mut().expect("connected above");
            match f(link) {
                Ok(v) => return Ok(v),
                Err(e) if broken(&e) && fresh => return Err(self.down(st, &e)),
                Err(e) if broken(&e) => st.link = None,
                Err(e) => return Err(self.error(&e.to_string())),
            }
        }
        Err(self.error("connection lost twice"))
    }
}
