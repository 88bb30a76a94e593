//! [`UpStream`]: the byte stream to an upstream (TCP, unix socket or TLS
//! over either: rustls's, or OpenSSL's where renegotiation is allowed)
//! with the HTTP transport's `read_timeout` and `write_timeout` (each
//! read or write that waits longer fails with `TimedOut`, which the proxy
//! answers with 504) and its `write_buffer_size` (small writes are
//! gathered into a buffer of that size and written when it fills or the
//! connection is flushed).

use super::dial::{DialOpts, Raw};
use crate::tls::renegotiation::watch::Watched;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::Sleep;

/// A connection to an upstream, maybe TLS, with read/write timeouts and
/// an optional write buffer.
pub struct UpStream {
    inner: Inner,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    wbuf: Vec<u8>,
    wcap: usize,
}

enum Inner {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<tokio_rustls::client::TlsStream<Watched<Raw>>>),
    Ossl(Box<Renegotiating>),
}

/// TLS through OpenSSL, for upstreams allowed to renegotiate.
type Renegotiating = tokio_openssl::SslStream<Watched<Raw>>;

impl UpStream {
    /// A plain stream.
    pub fn plain(raw: Raw, o: &DialOpts) -> Self {
        Self::new(
            match raw {
                Raw::Tcp(s) => Inner::Tcp(s),
                Raw::Unix(s) => Inner::Unix(s),
            },
            o,
        )
    }

    /// A TLS stream.
    pub fn tls(s: tokio_rustls::client::TlsStream<Watched<Raw>>, o: &DialOpts) -> Self {
        Self::new(Inner::Tls(Box::new(s)), o)
    }

    /// A TLS stream that may renegotiate.
    pub fn renegotiating(s: Renegotiating, o: &DialOpts) -> Self {
        Self::new(Inner::Ossl(Box::new(s)), o)
    }

    fn new(inner: Inner, o: &DialOpts) -> Self {
        UpStream {
            inner,
            read_timeout: o.read_timeout,
            write_timeout: o.write_timeout,
            read_timer: None,
            write_timer: None,
            wbuf: Vec::new(),
            wcap: o.write_buffer,
        }
    }

    /// Whether an idle stream is closed (or has bytes no request asked
    /// for): a read past the timers. A plain socket is read with
    /// `try_read`, which answers from tokio's readiness without a system
    /// call or a waker while nothing has arrived.
    pub fn probe_closed(&mut self) -> bool {
        let mut one = [0u8; 1];
        let read = match &mut self.inner {
            Inner::Tcp(s) => s.try_read(&mut one),
            Inner::Unix(s) => s.try_read(&mut one),
            tls => {
                let mut cx = Context::from_waker(std::task::Waker::noop());
                let mut rb = ReadBuf::new(&mut one);
                match each!(tls, s => Pin::new(s).poll_read(&mut cx, &mut rb)) {
                    Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
                    Poll::Ready(r) => r.map(|()| rb.filled().len()),
                }
            }
        };
        !matches!(read, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    fn poll_inner_write(&mut self, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        let polled = each!(&mut self.inner, s => Pin::new(s).poll_write(cx, b));
        timed(&mut self.write_timer, self.write_timeout, cx, polled)
    }

    /// Writes out the buffered bytes.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut done = 0;
        let mut result = Ok(());
        while done < self.wbuf.len() {
            let buf = std::mem::take(&mut self.wbuf);
            let polled = self.poll_inner_write(cx, &buf[done..]);
            self.wbuf = buf;
            match polled {
                Poll::Ready(Ok(0)) => {
                    result = Err(io::ErrorKind::WriteZero.into());
                    break;
                }
                Poll::Ready(Ok(n)) => done += n,
                Poll::Ready(Err(e)) => {
                    result = Err(e);
                    break;
                }
                Poll::Pending => {
                    self.wbuf.drain(..done);
                    return Poll::Pending;
                }
            }
        }
        self.wbuf.drain(..done);
        Poll::Ready(result)
    }
}

/// Applies `limit` to a pending read or write: the timer starts when the
/// operation first waits and is cleared once it completes.
fn timed<T>(
    timer: &mut Option<Pin<Box<Sleep>>>,
    limit: Option<Duration>,
    cx: &mut Context<'_>,
    polled: Poll<io::Result<T>>,
) -> Poll<io::Result<T>> {
    let Some(limit) = limit else { return polled };
    if polled.is_ready() {
        *timer = None;
        return polled;
    }
    let t = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    match t.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "upstream i/o timeout",
        ))),
        Poll::Pending => Poll::Pending,
    }
}

macro_rules! each {
    ($s:expr, $v:ident => $e:expr) => {
        match $s {
            Inner::Tcp($v) => $e,
            Inner::Unix($v) => $e,
            Inner::Tls($v) => $e,
            Inner::Ossl($v) => $e,
        }
    };
}
use each;

impl AsyncRead for UpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = each!(&mut this.inner, s => Pin::new(s).poll_read(cx, buf));
        timed(&mut this.read_timer, this.read_timeout, cx, polled)
    }
}

impl AsyncWrite for UpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.wcap == 0 {
            return this.poll_inner_write(cx, b);
        }
        if this.wbuf.len() + b.len() > this.wcap {
            ready!(this.poll_drain(cx))?;
        }
        if b.len() >= this.wcap {
            return this.poll_inner_write(cx, b);
        }
        if this.wbuf.capacity() == 0 {
            this.wbuf.reserve_exact(this.wcap);
        }
        this.wbuf.extend_from_slice(b);
        Poll::Ready(Ok(b.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        each!(&mut this.inner, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        each!(&mut this.inner, s => Pin::new(s).poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair(wcap: usize) -> (UpStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let o = DialOpts {
            write_buffer: wcap,
            read_timeout: Some(Duration::from_millis(100)),
            ..Default::default()
        };
        (UpStream::plain(Raw::Tcp(c), &o), s)
    }

    #[tokio::test]
    async fn small_writes_wait_for_a_flush_when_buffered() {
        let (mut up, mut peer) = pair(64).await;
        up.write_all(b"hello ").await.unwrap();
        up.write_all(b"world").await.unwrap();
        let mut buf = [0u8; 16];
        let early = tokio::time::timeout(Duration::from_millis(50), peer.read(&mut buf)).await;
        assert!(early.is_err(), "nothing written before the flush");
        up.flush().await.unwrap();
        let n = peer.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello world");
    }

    #[tokio::test]
    async fn reads_time_out() {
        let (mut up, _peer) = pair(0).await;
        let mut buf = [0u8; 4];
        let e = up.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }
}
