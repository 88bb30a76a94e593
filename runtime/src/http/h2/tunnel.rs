//! RFC 8441's extended CONNECT on the `h2` server: once the routes answer
//! such a request with a 2xx, its stream becomes a byte stream both ways
//! ([`Tunnel`]), handed to whoever took the request's [`PendingTunnel`]
//! (the reverse proxy's WebSocket tunnel), as hyper hands over an
//! `Upgraded`. Reads release the peer's window as they are consumed;
//! writes wait for send capacity; shutting down ends the stream.

use bytes::{Buf, Bytes};
use h2::{RecvStream, SendStream};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

/// The client side of an extended CONNECT, once answered.
pub struct Tunnel {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// Received data not read yet.
    pending: Bytes,
    ended: bool,
}

impl Tunnel {
    pub(super) fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        Tunnel {
            send,
            recv,
            pending: Bytes::new(),
            ended: false,
        }
    }
}

/// In an extended CONNECT's extensions: the tunnel, once its 2xx is sent.
#[derive(Clone)]
pub struct PendingTunnel(Arc<Mutex<Option<oneshot::Receiver<Tunnel>>>>);

impl PendingTunnel {
    pub(super) fn new() -> (oneshot::Sender<Tunnel>, Self) {
        let (tx, rx) = oneshot::channel();
        (tx, PendingTunnel(Arc::new(Mutex::new(Some(rx)))))
    }

    /// The tunnel, once the answer opened it (taken once).
    pub fn take(&self) -> Option<oneshot::Receiver<Tunnel>> {
        super::lock(&self.0).take()
    }
}

fn io_error(e: h2::Error) -> io::Error {
    match e.get_io() {
        Some(_) => e
            .into_io()
            .unwrap_or_else(|| io::Error::other("HTTP/2 stream failed")),
        None => io::Error::other(e),
    }
}

impl AsyncRead for Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pending.is_empty() {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    self.pending = data;
                }
                Some(Err(e)) if e.reason() == Some(h2::Reason::NO_ERROR) => {
                    return Poll::Ready(Ok(()))
                }
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending[..n]);
        self.pending.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.send.reserve_capacity(buf.len());
        loop {
            let room = self.send.capacity();
            if room > 0 {
                let n = room.min(buf.len());
                let data = Bytes::copy_from_slice(&buf[..n]);
                self.send.send_data(data, false).map_err(io_error)?;
                return Poll::Ready(Ok(n));
            }
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.ended {
            self.ended = true;
            self.send.reserve_capacity(0);
            self.send.send_data(Bytes::new(), true).map_err(io_error)?;
        }
        Poll::Ready(Ok(()))
    }
}
