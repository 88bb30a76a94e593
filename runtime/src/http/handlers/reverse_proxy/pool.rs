//! Keep-alive connections to upstreams, without locks: each upstream owns
//! bounded lock-free queues of idle senders, one per lane (serving
//! thread, `http/serve_threads.rs`), under one count per host
//! (`max_idle_conns_per_host`); all of a transport's hosts share an
//! atomic budget (`max_idle_conns`), and a semaphore per host bounds its
//! connections (`max_conns_per_host`). An HTTP/1.1 connection is
//! taken out for one exchange and put back when its response body ends,
//! into the lane of the thread that used it: its socket is registered
//! with that thread's reactor (and a hyper connection's task runs there),
//! so a request takes its own lane's connections
//! first and another thread's only when its own has none and a new one
//! would wait for `max_conns_per_host`; a request and its upstream
//! exchange then stay on one thread, with no cross-thread wake-up. An
//! HTTP/2 connection stays in lane 0 and is shared (cloned) by concurrent
//! requests of every thread. Idle connections older than the idle
//! timeout, or closed by the upstream, are dropped when found (our own
//! HTTP/1.1 connections are probed from the reactor's readiness, with no
//! system call while nothing arrived).

use super::h1::H1Conn;
use super::prepare::UpBody;
use bytes::Bytes;
use crossbeam_queue::ArrayQueue;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A connection to send a request on.
pub enum Sender {
    /// An HTTP/1.1 connection of hyper's client (driven by its task).
    H1(http1::SendRequest<UpBody>),
    H2(http2::SendRequest<UpBody>),
    /// An HTTP/1.1 connection of our own (`h1`), driven by the request.
    Own(Box<H1Conn>),
}

/// A hyper client connection's request sender.
pub enum HyperSender {
    H1(http1::SendRequest<UpBody>),
    H2(http2::SendRequest<UpBody>),
}

impl Sender {
    fn is_closed(&mut self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
            Sender::Own(c) => c.is_closed(),
        }
    }
}

impl HyperSender {
    /// Sends a request once the connection is ready.
    pub async fn send(
        &mut self,
        req: http::Request<UpBody>,
    ) -> Result<http::Response<Incoming>, hyper::Error> {
        match self {
            HyperSender::H1(s) => {
                s.ready().await?;
                s.send_request(req).await
            }
            HyperSender::H2(s) => {
                s.ready().await?;
                s.send_request(req).await
            }
        }
    }

    /// Back into the pool's form.
    pub fn into_sender(self) -> Sender {
        match self {
            HyperSender::H1(s) => Sender::H1(s),
            HyperSender::H2(s) => Sender::H2(s),
        }
    }
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// The transport-wide cap on idle connections (`max_idle_conns`).
#[derive(Debug, Default)]
pub struct IdleBudget {
    cap: usize,
    used: AtomicUsize,
}

impl IdleBudget {
    /// A budget of `cap` idle connections over all hosts.
    pub fn new(cap: usize) -> Self {
        IdleBudget {
            cap,
            used: AtomicUsize::new(0),
        }
    }

    fn take(&self) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.cap).then_some(n + 1)
            })
            .is_ok()
    }

    fn give_back(&self) {
        self.used.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How a transport pools connections.
#[derive(Clone, Default)]
pub struct PoolLimits {
    /// Idle connections kept per host (`max_idle_conns_per_host`).
    pub idle_per_host: usize,
    /// Idle connections kept over all hosts (`max_idle_conns`).
    pub idle_total: Option<Arc<IdleBudget>>,
    /// Connections per host, idle or busy (`max_conns_per_host`).
    pub conns_per_host: usize,
}

struct HostPool {
    /// Idle connections by lane.
    idle: Box<[ArrayQueue<Idle>]>,
    /// The host's idle connections over all lanes, and their cap.
    idle_count: AtomicUsize,
    idle_cap: usize,
    budget: Option<Arc<IdleBudget>>,
    conns: Option<Arc<Semaphore>>,
}

/// The connection pool of one upstream address.
#[derive(Clone)]
pub struct IdleConns(Arc<HostPool>);

impl IdleConns {
    /// A pool for one address under `limits`.
    pub fn new(limits: &PoolLimits) -> Self {
        let cap = limits.idle_per_host.max(1);
        let lanes = crate::http::serve_threads::lanes();
        IdleConns(Arc::new(HostPool {
            idle: (0..lanes).map(|_| ArrayQueue::new(cap)).collect(),
            idle_count: AtomicUsize::new(0),
            idle_cap: cap,
            budget: limits.idle_total.clone(),
            conns: (limits.conns_per_host > 0)
                .then(|| Arc::new(Semaphore::new(limits.conns_per_host))),
        }))
    }

    /// Waits for room for one more connection (`max_conns_per_host`);
    /// the permit lives as long as the connection.
    pub async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        match &self.0.conns {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        }
    }

    /// The calling thread's lane (bounded, should the serving threads
    /// outnumber the lanes counted when the pool was made).
    fn my_lane(&self) -> usize {
        crate::http::serve_threads::lane() % self.0.idle.len()
    }

    fn pop(&self, lane: usize) -> Option<Idle> {
        let idle = self.0.idle[lane].pop()?;
        self.0.idle_count.fetch_sub(1, Ordering::AcqRel);
        if let Some(b) = &self.0.budget {
            b.give_back();
        }
        Some(idle)
    }

    fn push(&self, lane: usize, sender: Sender, since: Instant) {
        let room = self
            .0
            .idle_count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.0.idle_cap).then_some(n + 1)
            })
            .is_ok();
        if !room {
            return;
        }
        if let Some(b) = &self.0.budget {
            if !b.take() {
                self.0.idle_count.fetch_sub(1, Ordering::AcqRel);
                return;
            }
        }
        if self.0.idle[lane].push(Idle { sender, since }).is_err() {
            self.0.idle_count.fetch_sub(1, Ordering::AcqRel);
            if let Some(b) = &self.0.budget {
                b.give_back();
            }
        }
    }

    /// A live connection from `lane`, if one is idle there (HTTP/2 ones
    /// are shared and stay).
    fn checkout_lane(&self, lane: usize, idle_timeout: Duration, now: Instant) -> Option<Sender> {
        while let Some(mut idle) = self.pop(lane) {
            if idle.sender.is_closed() || now.saturating_duration_since(idle.since) > idle_timeout {
                continue;
            }
            return Some(match idle.sender {
                Sender::H2(s) => {
                    let clone = s.clone();
                    self.push(lane, Sender::H2(s), now);
                    Sender::H2(clone)
                }
                Sender::Own(mut c) => {
                    c.set_reused();
                    Sender::Own(c)
                }
                h1 => h1,
            });
        }
        None
    }

    /// A live connection, if one is idle: this thread's own, then a
    /// shared HTTP/2 one (lane 0); another thread's only when no new
    /// connection could be made without waiting (`max_conns_per_host`).
    /// An idle connection's age is counted to `now` (the request's start:
    /// no clock read here).
    pub fn checkout(&self, idle_timeout: Duration, now: Instant) -> Option<Sender> {
        let mine = self.my_lane();
        if let Some(s) = self.checkout_lane(mine, idle_timeout, now) {
            return Some(s);
        }
        if mine != 0 {
            if let Some(s) = self.checkout_lane(0, idle_timeout, now) {
                return Some(s);
            }
        }
        let full = self
            .0
            .conns
            .as_ref()
            .is_some_and(|c| c.available_permits() == 0);
        if !full {
            return None;
        }
        (1..self.0.idle.len())
            .filter(|l| *l != mine)
            .find_map(|l| self.checkout_lane(l, idle_timeout, now))
    }

    /// Keeps a connection for later requests (dropped, and so closed,
    /// when the host's or the transport's idle cap is reached): an
    /// HTTP/1.1 one in the calling thread's lane, an HTTP/2 one in lane 0.
    /// Our own connections come back just after their last read, which
    /// saw the upstream keep them.
    pub fn put(&self, mut sender: Sender) {
        let lane = match &mut sender {
            Sender::H1(s) if !s.is_closed() => self.my_lane(),
            Sender::Own(_) => self.my_lane(),
            Sender::H2(s) if !s.is_closed() => 0,
            _ => return,
        };
        self.push(lane, sender, Instant::now());
    }
}

/// An upstream response body that gives its hyper HTTP/1.1 connection
/// back to the pool once read to the end.
pub struct PooledBody {
    inner: Incoming,
    ret: Option<(Sender, IdleConns)>,
}

impl PooledBody {
    /// Wraps `inner`; `ret` is where the connection goes when done.
    pub fn new(inner: Incoming, ret: Option<(Sender, IdleConns)>) -> Self {
        let mut b = PooledBody { inner, ret };
        if b.inner.is_end_stream() {
            b.release();
        }
        b
    }

    fn release(&mut self) {
        if let Some((s, pool)) = self.ret.take() {
            pool.put(s);
        }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.release(),
            Poll::Ready(Some(Err(_))) => self.ret = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
