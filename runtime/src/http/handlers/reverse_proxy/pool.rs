//! Keep-alive connections to upstreams, without locks: each upstream owns
//! a bounded lock-free queue of idle senders. An HTTP/1.1 connection is
//! taken out for one exchange and put back when its response body ends;
//! an HTTP/2 connection stays in the queue and is shared (cloned) by
//! concurrent requests. Idle connections older than the idle timeout are
//! dropped when found.

use super::respond::UpBody;
use bytes::Bytes;
use crossbeam_queue::ArrayQueue;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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

/// Idle connections of one upstream address.
#[derive(Clone)]
pub struct IdleConns(Arc<ArrayQueue<Idle>>);

impl IdleConns {
    /// A queue holding at most `cap` idle connections.
    pub fn new(cap: usize) -> Self {
        IdleConns(Arc::new(ArrayQueue::new(cap.max(1))))
    }

    /// A live connection, if one is idle (HTTP/2 ones are shared).
    pub fn checkout(&self, idle_timeout: Duration) -> Option<Sender> {
        while let Some(idle) = self.0.pop() {
            if idle.sender.is_closed() || idle.since.elapsed() > idle_timeout {
                continue;
            }
            return Some(match idle.sender {
                Sender::H2(s) => {
                    let clone = s.clone();
                    let _ = self.0.push(Idle {
                        sender: Sender::H2(s),
                        since: Instant::now(),
                    });
                    Sender::H2(clone)
                }
                h1 => h1,
            });
        }
        None
    }

    /// Keeps a connection for later requests (dropped when the queue is
    /// full).
    pub fn put(&self, sender: Sender) {
        if !sender.is_closed() {
            let _ = self.0.push(Idle {
                sender,
                since: Instant::now(),
            });
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
