//! Driving one connection to its end, with what hyper and our HTTP/1.1
//! server do not do themselves: the idle timeout between requests, and a
//! graceful close (bounded by the grace period) when the socket leaves the
//! config or was handed to a new process. What it drives is [`Graceful`]:
//! hyper's connections and bellhop's own HTTP/1.1 and HTTP/2 ones.
//!
//! The connection is polled first, every time. The idle timer, the
//! socket's stop signal and the grace timer are polled only after one of
//! them woke the task (they are given a waker of their own that notes it):
//! a busy connection's task is woken by its socket two or three times per
//! request, and polling two timers and a watch each time cost about 800
//! instructions per request.

use super::body::BoxError;
use super::conn::ConnState;
use super::server::ConnSettings;
use crate::listeners::Socket;
use futures_util::task::AtomicWaker;
use hyper::body::Incoming;
use hyper_util::server::conn::auto;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// How long an HTTP/1 connection of a handed-off socket may stay idle
/// before it is closed (its next response closes it anyway).
const HANDED_OFF_IDLE: Duration = Duration::from_secs(2);

/// How long a connection closed for idleness may take to finish closing
/// (an HTTP/2 GOAWAY the client never reads, behind answers it never read)
/// before it is dropped: idle means no request runs, so nothing is cut.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The waker of the watchers (idle, stop, grace): notes that one of them
/// is ready to be polled, and wakes the connection's task.
#[derive(Default)]
struct Watchers {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Watchers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// What ended a wait of [`drive`].
enum Event<T> {
    Done(T),
    Idle,
    Stop,
    Grace,
}

/// Runs a connection until it ends (with its output; `None` when it was
/// dropped at the end of its grace period), closing it gracefully when it
/// has been idle too long (and dropping it if that does not finish within
/// [`IDLE_CLOSE_GRACE`]) or its socket leaves the config. When the socket
/// was handed to a new process, an HTTP/1 connection is not cut at once (a
/// request the client is sending right then would fail): its next response
/// says `Connection: close`, and it closes if it stays idle.
pub(crate) async fn drive<C: Graceful>(
    conn: C,
    state: &ConnState,
    settings: &ConnSettings,
    socket: &Socket,
) -> Option<C::Output> {
    let mut conn = pin!(conn);
    let mut stop = socket.stop.clone();
    let mut stopped = pin!(stop.changed());
    let (mut closing, mut shut) = (false, false);
    let mut idle = pin!(idle_elapsed(state, settings.idle_timeout));
    let mut grace = pin!(tokio::time::sleep(Duration::from_secs(86_400 * 365)));
    let watchers = Arc::new(Watchers::default());
    // Polled once at the start, so that each registers its waker.
    watchers.woken.store(true, Ordering::Relaxed);
    let waker = Waker::from(watchers.clone());
    loop {
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = conn.as_mut().poll(cx) {
                return Poll::Ready(Event::Done(out));
            }
            watchers.task.register(cx.waker());
            if !watchers.woken.swap(false, Ordering::AcqRel) {
                return Poll::Pending;
            }
            let mut wcx = Context::from_waker(&waker);
            if !shut && idle.as_mut().poll(&mut wcx).is_ready() {
                return Poll::Ready(Event::Idle);
            }
            if !closing && stopped.as_mut().poll(&mut wcx).is_ready() {
                return Poll::Ready(Event::Stop);
            }
            if grace.as_mut().poll(&mut wcx).is_ready() {
                return Poll::Ready(Event::Grace);
            }
            Poll::Pending
        })
        .await;
        let close_by = |grace: std::pin::Pin<&mut tokio::time::Sleep>, by| {
            if by < grace.deadline() {
                grace.reset(by);
            }
        };
        match event {
            Event::Done(out) => return Some(out),
            Event::Grace => return None,
            Event::Idle => {
                shut = true;
                conn.as_mut().shutdown();
                close_by(
                    grace.as_mut(),
                    tokio::time::Instant::now() + IDLE_CLOSE_GRACE,
                );
            }
            Event::Stop => {
                closing = true;
                if socket.is_handed_off() && !settings.h2c {
                    let limit = settings.idle_timeout.min(HANDED_OFF_IDLE);
                    idle.set(idle_elapsed(state, limit));
                } else if !shut {
                    shut = true;
                    conn.as_mut().shutdown();
                }
                let ms = socket.grace_ms.load(Ordering::Acquire);
                if ms != u64::MAX {
                    let by = tokio::time::Instant::now() + Duration::from_millis(ms);
                    close_by(grace.as_mut(), by);
                }
            }
        }
        // What changed is polled again (a reset timer registers anew).
        watchers.woken.store(true, Ordering::Release);
    }
}

/// Resolves once the connection has been idle for `limit`. It polls by
/// timer instead of being woken as requests end, so serving a request costs
/// no extra wake-up or timer registration.
pub(crate) async fn idle_elapsed(state: &ConnState, limit: Duration) {
    let mut deadline = tokio::time::Instant::now() + limit;
    loop {
        tokio::time::sleep_until(deadline).await;
        match state.idle_since() {
            None => deadline = tokio::time::Instant::now() + limit,
            Some(since) => {
                let due = tokio::time::Instant::from_std(since.into_std()) + limit;
                if tokio::time::Instant::now() >= due {
                    return;
                }
                deadline = due;
            }
        }
    }
}

/// A served connection that can be asked to finish gracefully.
pub(crate) trait Graceful: Future {
    fn shutdown(self: Pin<&mut Self>);
}

impl<I, S, E> Graceful for auto::UpgradeableConnection<'_, I, S, E>
where
    Self: Future,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<BoxError>,
    S::ResBody: http_body::Body + 'static,
    <S::ResBody as http_body::Body>::Error: Into<BoxError>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S> Graceful for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    Self: Future,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<BoxError>,
    S::ResBody: http_body::Body + 'static,
    <S::ResBody as http_body::Body>::Error: Into<BoxError>,
{
    fn shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, E> Graceful for hyper::server::conn::http2::Connection<I, S, E>
where
    Self: Future,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<BoxError>,
    S::ResBody: http_body::Body + 'static,
    <S::ResBody as http_body::Body>::Error: Into<BoxError>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}
