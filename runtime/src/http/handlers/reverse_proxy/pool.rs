//! Keep-alive connections to upstreams, without locks: each upstream owns
//! a bounded lock-free queue of idle senders (`max_idle_conns_per_host`),
//! all of a transport's queues share an atomic budget (`max_idle_conns`),
//! and a semaphore per host bounds its connections (`max_conns_per_host`). An HTTP/1.1 connection is
//! taken out for one exchange and put back when its response body ends;
//! an HTTP/2 connection stays in the queue and is shared (cloned) by
//! concurrent requests. Idle connections older than the idle timeout are
//! dropped when found.

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

/// A request sender on one connection.
pub enum Sender {
    H1(http1::SendRequest<UpBody>),
    H2(http2::SendRequest<UpBody>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    /// Sends a request once the connection is ready.
    pub async fn send(
        &mut self,
        req: http::Request<UpBody>,
    ) -> Result<http::Response<Incoming>, hyper::Error> {
        match self {
            Sender::H1(s) => {
                s.ready().await?;
                s.send_request(req).await
            }
            Sender::H2(s) => {
                s.ready().await?;
                s.send_request(req).await
            }
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
    idle: ArrayQueue<Idle>,
    budget: Option<Arc<IdleBudget>>,
    conns: Option<Arc<Semaphore>>,
}

/// The connection pool of one upstream address.
#[derive(Clone)]
pub struct IdleConns(Arc<HostPool>);

impl IdleConns {
    /// A pool for one address under `limits`.
    pub fn new(limits: &PoolLimits) -> Self {
        IdleConns(Arc::new(HostPool {
            idle: ArrayQueue::new(limits.idle_per_host.max(1)),
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

    fn pop(&self) -> Option<Idle> {
        let idle = self.0.idle.pop()?;
        if let Some(b) = &self.0.budget {
            b.give_back();
        }
        Some(idle)
    }

    fn push(&self, sender: Sender, since: Instant) {
        if let Some(b) = &self.0.budget {
            if !b.take() {
                return;
            }
        }
        if self.0.idle.push(Idle { sender, since }).is_err() {
            if let Some(b) = &self.0.budget {
                b.give_back();
            }
        }
    }

    /// A live connection, if one is idle (HTTP/2 ones are shared).
    pub fn checkout(&self, idle_timeout: Duration) -> Option<Sender> {
        while let Some(idle) = self.pop() {
            if idle.sender.is_closed() || idle.since.elapsed() > idle_timeout {
                continue;
            }
            return Some(match idle.sender {
                Sender::H2(s) => {
                    let clone = s.clone();
                    self.push(Sender::H2(s), Instant::now());
                    Sender::H2(clone)
                }
                h1 => h1,
            });
        }
        None
    }

    /// Keeps a connection for later requests (dropped, and so closed,
    /// when the host's or the transport's idle cap is reached).
    pub fn put(&self, sender: Sender) {
        if !sender.is_closed() {
            self.push(sender, Instant::now());
        }
    }
}

/// An upstream response body that gives its HTTP/1.1 connection back to
/// the pool once read to the end.
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
