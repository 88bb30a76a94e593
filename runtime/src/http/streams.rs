//! HTTP/2 streams run inside their connection's task. hyper hands every
//! stream of a connection to an executor; with `tokio::spawn` each stream
//! is a task of its own, allocated, scheduled, often stolen by another
//! worker thread, and every response it produces wakes the connection's
//! task across threads to be written. [`StreamExec`] instead queues the
//! stream, and [`WithStreams`] polls the queued streams beside the
//! connection, in one task, as nginx runs a connection's streams in one
//! worker. A stream that waits (on an upstream, a file, a timer) costs
//! nothing meanwhile; the price is that one connection's streams share a
//! thread.

use super::drive::Graceful;
use crossbeam_queue::SegQueue;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

type StreamFut = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How many times one poll goes round (connection, new streams, streams)
/// when new streams keep arriving, before yielding to other tasks.
const ROUNDS: usize = 4;

/// The executor hyper's HTTP/2 server is given: it queues each stream for
/// the connection's [`WithStreams`].
#[derive(Clone)]
pub(crate) struct StreamExec {
    queue: Weak<SegQueue<StreamFut>>,
}

impl<F> hyper::rt::Executor<F> for StreamExec
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        match self.queue.upgrade() {
            Some(q) => q.push(Box::pin(fut)),
            // The connection's driver is gone (it never is while hyper
            // polls the connection, but a stray stream still runs).
            None => {
                tokio::spawn(fut);
            }
        }
    }
}

/// A connection future polled together with its streams.
pub(crate) struct WithStreams<C> {
    conn: Pin<Box<C>>,
    queue: Arc<SegQueue<StreamFut>>,
    streams: FuturesUnordered<StreamFut>,
}

impl<C> WithStreams<C> {
    /// An executor for a connection that [`WithStreams::new`] will drive.
    pub(crate) fn executor() -> (StreamExec, Arc<SegQueue<StreamFut>>) {
        let queue = Arc::new(SegQueue::new());
        let exec = StreamExec {
            queue: Arc::downgrade(&queue),
        };
        (exec, queue)
    }

    /// Drives `conn` and the streams it queues on `queue`.
    pub(crate) fn new(conn: C, queue: Arc<SegQueue<StreamFut>>) -> Self {
        WithStreams {
            conn: Box::pin(conn),
            queue,
            streams: FuturesUnordered::new(),
        }
    }
}

impl<C: Future> Future for WithStreams<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let this = self.get_mut();
        for _ in 0..ROUNDS {
            let done = this.conn.as_mut().poll(cx);
            let mut added = false;
            while let Some(s) = this.queue.pop() {
                this.streams.push(s);
                added = true;
            }
            while let Poll::Ready(Some(())) = this.streams.poll_next_unpin(cx) {}
            if let Poll::Ready(out) = done {
                // The connection is over; a stream left can no longer answer.
                return Poll::Ready(out);
            }
            if !added {
                return Poll::Pending;
            }
        }
        // New streams kept coming: let other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<C: Graceful> Graceful for WithStreams<C> {
    fn shutdown(self: Pin<&mut Self>) {
        self.get_mut().conn.as_mut().shutdown();
    }
}
