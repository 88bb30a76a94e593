//! One client connection: what handlers may know about it ([`ConnInfo`]),
//! its request accounting for idle timeouts ([`ConnState`]), and
//! [`TimedIo`], the socket wrapper that bounds write stalls.
//!
//! hyper closes neither idle keep-alive connections nor stalled writers by
//! itself; the server's connection loop watches [`ConnState`] for the first
//! and `TimedIo` fails a write that stalls longer than the write stall
//! limit (`write_timeout`, `write_idle_timeout`).

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Facts about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The peer; `None` on a unix socket.
    pub remote: Option<SocketAddr>,
    /// Our end; `None` on a unix socket.
    pub local: Option<SocketAddr>,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The TLS server name the client sent.
    pub tls_sni: Option<Arc<str>>,
    /// Whether TLS negotiated `h2` by ALPN.
    pub alpn_h2: bool,
    /// What TLS negotiated, for `{http.request.tls.*}`.
    pub tls_info: Option<Arc<super::tls_info::TlsInfo>>,
    /// The connection's request accounting and per-route write limits
    /// (HTTP/1 and HTTP/2; `None` elsewhere).
    pub state: Option<Arc<ConnState>>,
    /// The peer's IP as a header value, made once for every request of
    /// the connection (`X-Forwarded-For`).
    pub remote_value: std::sync::OnceLock<Option<http::HeaderValue>>,
}

impl ConnInfo {
    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// [`Self::remote_ip`] as a header value (`None` if it cannot be one).
    pub fn remote_header(&self) -> Option<http::HeaderValue> {
        self.remote_value
            .get_or_init(|| http::HeaderValue::from_str(&self.remote_ip().to_string()).ok())
            .clone()
    }

    /// The peer's IP (unspecified for unix sockets).
    pub fn remote_ip(&self) -> IpAddr {
        self.remote
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| canonical_ip(a.ip()))
    }

    /// The peer's port (0 for unix sockets).
    pub fn remote_port(&self) -> u16 {
        self.remote.map_or(0, |a| a.port())
    }

    /// Our port (0 for unix sockets).
    pub fn local_port(&self) -> u16 {
        self.local.map_or(0, |a| a.port())
    }

    /// Writes `host:port` of the peer (`@` for unix sockets, as Go does).
    pub fn write_remote(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self.remote {
            Some(a) => {
                let _ = write!(out, "{}", SocketAddr::new(canonical_ip(a.ip()), a.port()));
            }
            None => out.push('@'),
        }
    }
}

/// IPv4-mapped IPv6 addresses as plain IPv4, as Go reports them.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Request accounting of one connection.
#[derive(Debug)]
pub struct ConnState {
    born: Instant,
    active: AtomicUsize,
    /// Milliseconds after `born` when the connection last became idle.
    idle_since_ms: AtomicU64,
    /// A route's write stall limit in milliseconds (`http.handlers.timeouts`
    /// `write_timeout`), 0 for the server's; cleared when the connection's
    /// requests are done.
    write_limit_ms: AtomicU64,
    /// A route's `max_write_chunk`, 0 for the server's.
    write_chunk: AtomicUsize,
    /// A route's `write_min_rate` (bytes per second), 0 for the server's.
    write_rate: AtomicU64,
    /// Milliseconds after `born` when the connection last became busy (its
    /// first request in flight began): where a minimum write rate counts
    /// from, as Caddy counts from the request's start.
    busy_since_ms: AtomicU64,
}

impl ConnState {
    /// A new, idle connection.
    pub fn new() -> Arc<Self> {
        Arc::new(ConnState {
            born: Instant::now(),
            active: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            write_limit_ms: AtomicU64::new(0),
            write_chunk: AtomicUsize::new(0),
            write_rate: AtomicU64::new(0),
            busy_since_ms: AtomicU64::new(0),
        })
    }

    /// Sets the write stall limit, chunk size and minimum rate for the
    /// requests in flight (a route's `timeouts` handler); `None` keeps the
    /// server's.
    pub fn limit_writes(&self, stall: Option<Duration>, chunk: Option<usize>, rate: Option<u64>) {
        if let Some(r) = rate.filter(|r| *r > 0) {
            self.write_rate.store(r, Ordering::Release);
        }
        if let Some(t) = stall {
            let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1);
            self.write_limit_ms.store(ms, Ordering::Release);
        }
        if let Some(c) = chunk.filter(|c| *c > 0) {
            self.write_chunk.store(c, Ordering::Release);
        }
    }

    /// A route's write stall limit, if one is set.
    fn write_limit(&self) -> Option<Duration> {
        match self.write_limit_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// A route's write chunk size, if one is set.
    fn write_chunk(&self) -> Option<usize> {
        match self.write_chunk.load(Ordering::Acquire) {
            0 => None,
            c => Some(c),
        }
    }

    /// A route's minimum write rate, if one is set.
    fn write_rate(&self) -> Option<u64> {
        match self.write_rate.load(Ordering::Acquire) {
            0 => None,
            r => Some(r),
        }
    }

    /// Marks a request as started; the guard marks it finished when the
    /// response body is done or dropped. The clock read here is the
    /// request's start too ([`ActiveGuard::started`]).
    pub fn begin(self: &Arc<Self>) -> ActiveGuard {
        let now = Instant::now();
        if self.active.fetch_add(1, Ordering::AcqRel) == 0 {
            let ms = now.saturating_duration_since(self.born).as_millis() as u64;
            self.busy_since_ms.store(ms, Ordering::Release);
        }
        ActiveGuard(self.clone(), now.into_std())
    }

    /// When the connection became idle, or `None` while requests run.
    pub fn idle_since(&self) -> Option<Instant> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = self.idle_since_ms.load(Ordering::Acquire);
        Some(self.born + Duration::from_millis(ms))
    }
}

/// Held while a request (and its response body) is in flight.
#[derive(Debug)]
pub struct ActiveGuard(Arc<ConnState>, std::time::Instant);

impl ActiveGuard {
    /// When the request started (made by [`ConnState::begin`]).
    pub fn started(&self) -> std::time::Instant {
        self.1
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let s = &self.0;
        let ms = s.born.elapsed().as_millis() as u64;
        s.idle_since_ms.store(ms, Ordering::Release);
        if s.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last request is done: a route's write limits end with it.
            if s.write_limit_ms.load(Ordering::Relaxed) != 0 {
                s.write_limit_ms.store(0, Ordering::Release);
            }
            if s.write_chunk.load(Ordering::Relaxed) != 0 {
                s.write_chunk.store(0, Ordering::Release);
            }
            if s.write_rate.load(Ordering::Relaxed) != 0 {
                s.write_rate.store(0, Ordering::Release);
            }
        }
    }
}

/// A socket whose writes fail when they stall longer than the server's
/// write stall limit (`write_timeout`, `write_idle_timeout`), or, under a
/// minimum write rate (`write_min_rate`), once they fall behind it: a
/// write pending past `busy since + limit + written / rate` fails, as
/// Caddy's `IdleDeadline` bounds each write with a rate (so a client that
/// reads just enough never to stall, but slower than the rate, is cut).
pub struct TimedIo<T> {
    io: T,
    write_timeout: Option<Duration>,
    /// `max_write_chunk`: no socket write covers more bytes than this, so
    /// the stall limit applies between chunks of a large response.
    chunk: Option<usize>,
    /// The stall timer, kept across writes (reset, not reallocated).
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether the timer runs for the write pending now.
    armed: bool,
    /// Where a route's own write limits are set.
    state: Option<Arc<ConnState>>,
    /// The server's `write_min_rate`, 0 for none.
    min_rate: u64,
    /// Bytes written since the connection last became busy, and the
    /// `busy_since_ms` they count from.
    written: u64,
    window_ms: u64,
    /// When the wrapper was made: the rate's start without a state.
    made: Instant,
}

impl<T> TimedIo<T> {
    /// Wraps `io`.
    pub fn new(io: T, write_timeout: Option<Duration>, chunk: Option<usize>) -> Self {
        TimedIo {
            io,
            write_timeout,
            chunk: chunk.filter(|c| *c > 0),
            stall: None,
            armed: false,
            state: None,
            min_rate: 0,
            written: 0,
            window_ms: 0,
            made: Instant::now(),
        }
    }

    /// Fails writes that fall behind `rate` bytes per second (0: none).
    pub fn with_min_rate(mut self, rate: u64) -> Self {
        self.min_rate = rate;
        self
    }

    /// The start of the rate's window, starting a new count when the
    /// connection became busy again since the last write.
    fn window_start(&mut self) -> Instant {
        let Some(s) = &self.state else {
            return self.made;
        };
        let ms = s.busy_since_ms.load(Ordering::Acquire);
        if ms != self.window_ms {
            self.window_ms = ms;
            self.written = 0;
        }
        s.born + Duration::from_millis(ms)
    }

    /// Counts the bytes of a finished write, while a rate is in force
    /// (a route's rate is set before its response is written).
    fn count(&mut self, polled: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = polled {
            if self.rate() > 0 {
                self.window_start();
                self.written += *n as u64;
            }
        }
    }

    /// The rate in force: the route's, else the server's.
    fn rate(&self) -> u64 {
        self.state
            .as_ref()
            .and_then(|s| s.write_rate())
            .unwrap_or(self.min_rate)
    }

    /// Follows the per-route write limits set on `state`.
    pub fn with_state(mut self, state: Arc<ConnState>) -> Self {
        self.state = Some(state);
        self
    }

    fn chunk(&self) -> Option<usize> {
        self.state
            .as_ref()
            .and_then(|s| s.write_chunk())
            .or(self.chunk)
    }

    /// Tracks a pending write: arms the stall timer, fails once it fires.
    fn check_stall<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        // Only a pending write looks the limit up.
        let limit = self.state.as_ref().and_then(|s| s.write_limit());
        let Some(limit) = limit.or(self.write_timeout) else {
            return polled;
        };
        let rate = self.rate();
        let deadline = if rate > 0 {
            // Recomputed on every pending poll: the allowance grows with
            // what was written.
            let credit = Duration::from_secs_f64(self.written as f64 / rate as f64);
            Some(self.window_start() + limit + credit)
        } else {
            None
        };
        let sleep = match &mut self.stall {
            Some(s) => {
                if let Some(d) = deadline {
                    s.as_mut().reset(d);
                } else if !self.armed {
                    s.as_mut().reset(Instant::now() + limit);
                }
                s
            }
            None => self.stall.insert(Box::pin(tokio::time::sleep_until(
                deadline.unwrap_or_else(|| Instant::now() + limit),
            ))),
        };
        self.armed = true;
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let buf = match this.chunk() {
            Some(c) if buf.len() > c => &buf[..c],
            _ => buf,
        };
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        this.count(&polled);
        this.check_stall(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(c) = this.chunk() {
            if bufs.iter().map(|b| b.len()).sum::<usize>() > c {
                // a chunk's worth of the first buffer that has bytes
                let first = bufs
                    .iter()
                    .find(|b| !b.is_empty())
                    .map_or(&[][..], |b| &b[..]);
                let polled = Pin::new(&mut this.io).poll_write(cx, &first[..first.len().min(c)]);
                this.count(&polled);
                return this.check_stall(cx, polled);
            }
        }
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.count(&polled);
        this.check_stall(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_flush(cx);
        this.check_stall(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::TimedIo;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::AsyncWriteExt;

    /// Records the size of every write it is given.
    #[derive(Default)]
    struct Sizes(Vec<usize>);

    impl tokio::io::AsyncWrite for Sizes {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.get_mut().0.push(b.len());
            Poll::Ready(Ok(b.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// `max_write_chunk` bounds each socket write, plain or vectored.
    #[tokio::test]
    async fn writes_are_cut_into_chunks() {
        let mut io = TimedIo::new(Sizes::default(), None, Some(4096));
        io.write_all(&[0u8; 10_000]).await.unwrap();
        let head = std::io::IoSlice::new(&[1u8; 100]);
        let body = std::io::IoSlice::new(&[2u8; 9_000]);
        let n = io.write_vectored(&[head, body]).await.unwrap();
        assert_eq!(n, 100);
        assert_eq!(io.io.0, vec![4096, 4096, 1808, 100]);
        let mut whole = TimedIo::new(Sizes::default(), None, None);
        whole.write_all(&[0u8; 10_000]).await.unwrap();
        assert_eq!(whole.io.0, vec![10_000]);
    }
}
