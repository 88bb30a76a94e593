//! bellhop's own HTTP/1.1 server, for the requests most connections carry:
//! no body, or a small one with a length that came with its head; no
//! upgrade, no `Expect`. A connection starts here; the first request that
//! is anything else (a chunked or larger body, an upgrade, a bad head,
//! h2c's preface, HTTP/1.0) hands the connection, with every byte read and
//! not yet served, to hyper, which serves it to the end exactly as before.
//!
//! Why: hyper's server costs more CPU per request than the rest of a
//! simple request together (its dispatch, its boxed service future, its
//! 1,024-slot parse arrays, a header-read timer per request). Here the
//! head is parsed in the connection's buffer with the same parser
//! (`httparse`) and hyper's checks (`head`), the request runs inside the
//! connection's own future (no box, no task), and the response is written
//! the way hyper writes it (`encode`, `write`), in one write when it is
//! small.
//!
//! What hyper did is kept: the header read timeout (from the connection's
//! start for its first request, from the first byte of a head after that,
//! as Go counts), `connection: close` on the last response, a request
//! dropped (its handler cancelled, its access log saying 499) when the
//! client closes the connection while it runs, pipelined requests answered
//! in order, and a graceful close (see `Conn`).

mod date;
mod encode;
mod head;
pub(crate) mod names;
mod write;

#[cfg(test)]
mod head_tests;
#[cfg(test)]
mod tests;

use super::body::ReqBody;
use super::drive::Graceful;
use super::serve::ConnCx;
use super::server::ConnSettings;
use bytes::BytesMut;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, Sleep};

/// The read buffer's size, and what is kept free in it for a read.
const READ_BUF: usize = 8 * 1024;
const READ_ROOM: usize = 1024;

/// How a connection left this server.
pub(crate) enum Ended<I> {
    /// It is closed (or its client went away).
    Closed,
    /// hyper serves the rest: the stream and the bytes read from it that
    /// no response has answered yet.
    Hyper(I, BytesMut),
}

/// One connection on this server. [`Graceful::shutdown`] lets the response
/// being written finish (it says `connection: close`), and closes an idle
/// connection, or one whose next head has not fully arrived, at once.
pub(crate) struct Conn<I> {
    run: Pin<Box<dyn Future<Output = Ended<I>> + Send>>,
    closing: Arc<AtomicBool>,
}

/// The limits a connection reads with.
#[derive(Clone, Copy)]
struct Limits {
    /// hyper's buffer limit: a head must fit in it.
    max_head: usize,
    read_header_timeout: Duration,
}

impl<I> Conn<I>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    pub(crate) fn new(io: I, cx: Arc<ConnCx>, s: &ConnSettings) -> Self {
        let closing = Arc::new(AtomicBool::new(false));
        let limits = Limits {
            max_head: super::serve::h1_buf_size(s),
            read_header_timeout: s.read_header_timeout,
        };
        Conn {
            run: Box::pin(run(io, cx, limits, closing.clone())),
            closing,
        }
    }
}

impl<I> Future for Conn<I> {
    type Output = Ended<I>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended<I>> {
        self.run.as_mut().poll(cx)
    }
}

impl<I> Graceful for Conn<I> {
    fn shutdown(self: Pin<&mut Self>) {
        // The driver polls the connection again right after: the flag is
        // read there.
        self.closing.store(true, Ordering::Release);
    }
}

/// Serves requests until the connection closes or goes to hyper.
async fn run<I>(mut io: I, cx: Arc<ConnCx>, limits: Limits, closing: Arc<AtomicBool>) -> Ended<I>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut buf = BytesMut::with_capacity(READ_BUF);
    let (mut out, mut lines) = (Vec::new(), Vec::new());
    let mut names = names::Names::default();
    // The first head must arrive within the timeout from the start.
    let mut first = Some(Instant::now() + limits.read_header_timeout);
    loop {
        // The head is parsed here, not in a future of its own: returned
        // from one, the request (263 bytes) was copied twice more.
        let req = {
            // (Dropped with the head: a timer left armed would wake
            // the connection while its request runs.)
            let mut timer = None;
            loop {
                if !buf.is_empty() {
                    match head::parse(&mut buf, limits.max_head, &mut lines, &mut names) {
                        Ok(r) => break r,
                        Err(head::NotYet::Hyper) => return Ended::Hyper(io, buf),
                        Err(head::NotYet::Partial) => {}
                    }
                }
                if !read_head(
                    &mut io,
                    &mut buf,
                    &mut timer,
                    first.take(),
                    limits,
                    &closing,
                )
                .await
                {
                    return close(io).await;
                }
            }
        };
        let x = encode::Exchange {
            head_request: req.parts.method == http::Method::HEAD,
            keep_alive: req.keep_alive,
            te_trailers: req.te_trailers,
        };
        let guard = cx.state.begin();
        let body = move |_| req.body.map_or_else(ReqBody::empty, ReqBody::full);
        // Pinned here, in this future: passed by value, it would be
        // copied into `watching_reads`'s and again where it is pinned.
        let served = pin!(super::serve::handle_parts(
            &cx,
            req.parts,
            body,
            guard,
            Some(req.facts)
        ));
        let Some(Ok(resp)) = watching_reads(&mut io, &mut buf, served).await else {
            // The client went away (the handler is dropped), or the
            // handler aborted the connection.
            return Ended::Closed;
        };
        let keep_alive =
            x.keep_alive && !closing.load(Ordering::Acquire) && !cx.socket_handed_off();
        let x = encode::Exchange { keep_alive, ..x };
        match write::response(&mut io, &mut out, resp, x).await {
            Ok(false) => {}
            Ok(true) => return close(io).await,
            Err(write::Broken) => return Ended::Closed,
        }
    }
}

async fn close<I: AsyncWrite + Unpin>(mut io: I) -> Ended<I> {
    let _ = io.shutdown().await;
    Ended::Closed
}

/// hyper's `te_is_trailers`: the request's `te` lists `trailers` (read
/// from the map: what `head::parse` notes must agree, and the fuzz target
/// and tests check that it does).
fn te_trailers(h: &http::HeaderMap) -> bool {
    h.get_all(http::header::TE).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        })
    })
}

/// Reads more of a head into `buf`: `false` when the connection closed,
/// failed, timed out or was asked to close (a head that is not whole is
/// dropped, as hyper drops it). `timer` is the head's deadline, armed at
/// its first read that waits: `first_by` for a connection's first head,
/// else from the head's first byte.
async fn read_head<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut BytesMut,
    timer: &mut Option<Pin<Box<Sleep>>>,
    first_by: Option<Instant>,
    limits: Limits,
    closing: &AtomicBool,
) -> bool {
    if timer.is_none() && (first_by.is_some() || !buf.is_empty()) {
        let by = first_by.unwrap_or_else(|| Instant::now() + limits.read_header_timeout);
        *timer = Some(Box::pin(tokio::time::sleep_until(by)));
    }
    if buf.capacity() - buf.len() < READ_ROOM {
        buf.reserve(READ_BUF);
    }
    let read = std::future::poll_fn(|cx| {
        if closing.load(Ordering::Acquire) {
            return Poll::Ready(None);
        }
        if let Some(t) = timer {
            if t.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
        }
        pin!(io.read_buf(&mut *buf)).poll(cx).map(Some)
    });
    matches!(read.await, Some(Ok(n)) if n > 0)
}

/// Runs `served` while watching for the client to close the connection:
/// `None` if it does first, which drops `served`. As in hyper, this reads
/// only while nothing is buffered: once the next pipelined request has
/// come, its client is not watched (a client that sends its requests and
/// then closes its side still gets its answers).
async fn watching_reads<I: AsyncRead + Unpin, F: Future>(
    io: &mut I,
    buf: &mut BytesMut,
    mut served: Pin<&mut F>,
) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = served.as_mut().poll(cx) {
            return Poll::Ready(Some(r));
        }
        if buf.is_empty() {
            if buf.capacity() < READ_ROOM {
                buf.reserve(READ_BUF);
            }
            match pin!(io.read_buf(&mut *buf)).poll(cx) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Ready(Ok(_)) | Poll::Pending => {}
            }
        }
        Poll::Pending
    })
    .await
}

/// For the fuzz target `h1_head`: reads `data` as the front of a
/// connection's buffer, and answers what it read with the request's own
/// headers as the answer's. Panics where a property fails: a request
/// taken off the buffer leaves exactly the bytes after it; anything not
/// taken leaves every byte for hyper; an answer's head ends its lines.
#[doc(hidden)]
pub fn fuzz_head(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    match head::parse(&mut buf, 9 * 1024, &mut Vec::new(), &mut Default::default()) {
        Ok(req) => {
            let body = req.body.as_ref().map_or(0, |b| b.len());
            assert!(buf.len() + body < data.len());
            assert!(data.ends_with(&buf));
            assert_eq!(req.te_trailers, te_trailers(&req.parts.headers));
            let checked = super::framing::check(&req.parts, None);
            assert_eq!(super::framing::check(&req.parts, Some(&req.facts)), checked);
            let separator = req
                .parts
                .headers
                .keys()
                .any(|k| super::alias_headers::has_separator(k.as_str().as_bytes()));
            assert_eq!(req.facts.separator, separator);
            let mut headers = req.parts.headers.clone();
            let x = encode::Exchange {
                head_request: req.parts.method == http::Method::HEAD,
                keep_alive: req.keep_alive,
                te_trailers: req.te_trailers,
            };
            let mut out = Vec::new();
            let length = Some(encode::BodyLength::Known(body as u64));
            if encode::head(
                &mut out,
                http::StatusCode::OK,
                &mut headers,
                None,
                length,
                x,
            )
            .is_ok()
            {
                assert!(out.ends_with(b"\r\n\r\n"));
            }
        }
        Err(_) => assert_eq!(&buf[..], data),
    }
}
