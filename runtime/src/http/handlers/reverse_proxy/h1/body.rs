//! The body of an upstream HTTP/1.1 response read on our own connection
//! ([`super::H1Conn`]): by `Content-Length`, chunked (chunk extensions
//! skipped, trailers kept as a trailers frame), or up to the close. Data
//! frames are slices of the read buffer, not copies. When the body ends
//! exactly where the framing says, the connection goes back to its pool;
//! on an error, an early drop or stray bytes after the end it is closed.

use super::{H1Conn, H1Error};
use crate::http::handlers::reverse_proxy::pool::{IdleConns, Sender};
use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Frame, SizeHint};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 4096;
/// Trailer fields kept.
const MAX_TRAILERS: usize = 64;

/// How the response body is delimited, and how much is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// This many bytes remain.
    Length(u64),
    /// Chunked, at the given point.
    Chunked(Chunk),
    /// Everything up to the close.
    Eof,
    /// Read to the end.
    Done,
}

/// Where a chunked body stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

impl Framing {
    /// Whether the body's end is known without the connection closing.
    pub fn delimited(&self) -> bool {
        !matches!(self, Framing::Eof)
    }
}

/// A response body read from its connection.
pub struct H1Body {
    conn: Option<Box<H1Conn>>,
    framing: Framing,
    /// Where the connection goes at the end; `None` closes it.
    pool: Option<IdleConns>,
}

impl H1Body {
    /// The body that follows a head framed as `framing`; `pool` takes the
    /// connection back if it is to be kept.
    pub fn new(conn: Box<H1Conn>, framing: Framing, pool: Option<IdleConns>) -> Self {
        let mut b = H1Body {
            conn: Some(conn),
            framing,
            pool,
        };
        if b.framing == Framing::Length(0) {
            b.finish();
        }
        b
    }

    /// The whole body, when it is sized and already read with the head (a
    /// small response usually is): the connection goes back at once, and
    /// the response needs no stream. `None` leaves the body as it was.
    pub fn take_whole(&mut self) -> Option<Bytes> {
        match self.framing {
            Framing::Done => Some(Bytes::new()),
            Framing::Length(n) => {
                let conn = self.conn.as_mut()?;
                let n = usize::try_from(n).ok().filter(|&n| n <= conn.buf.len())?;
                let data = conn.buf.split_to(n).freeze();
                self.finish();
                Some(data)
            }
            Framing::Chunked(_) | Framing::Eof => None,
        }
    }

    /// The body ended: the connection goes back, unless bytes follow it.
    fn finish(&mut self) {
        self.framing = Framing::Done;
        if let (Some(conn), Some(pool)) = (self.conn.take(), self.pool.take()) {
            if conn.buf.is_empty() {
                pool.put(Sender::Own(conn));
            }
        }
    }

    fn fail<T>(&mut self, e: impl Into<io::Error>) -> Poll<Option<Result<T, io::Error>>> {
        self.framing = Framing::Done;
        self.conn = None;
        Poll::Ready(Some(Err(e.into())))
    }

    /// At least one unread byte, or `Ok(false)` at the end of the stream.
    fn poll_some(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(Ok(false));
        };
        if !conn.buf.is_empty() {
            return Poll::Ready(Ok(true));
        }
        Poll::Ready(Ok(ready!(conn.poll_fill(cx))? > 0))
    }

    /// Up to `max` bytes of data, or an error if the stream ended first.
    fn poll_data(&mut self, cx: &mut Context<'_>, max: u64) -> Poll<io::Result<Bytes>> {
        if !ready!(self.poll_some(cx))? {
            return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
        }
        let conn = self.conn.as_mut().expect("poll_some saw a connection");
        let take = conn
            .buf
            .len()
            .min(usize::try_from(max).unwrap_or(usize::MAX));
        Poll::Ready(Ok(conn.buf.split_to(take).freeze()))
    }

    fn poll_chunked(
        &mut self,
        cx: &mut Context<'_>,
        at: Chunk,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        match at {
            Chunk::Data(left) => {
                let data = match ready!(self.poll_data(cx, left)) {
                    Ok(d) => d,
                    Err(e) => return self.fail(e),
                };
                let left = left - data.len() as u64;
                self.framing = Framing::Chunked(if left == 0 {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left)
                });
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            _ => self.poll_chunk_meta(cx, at),
        }
    }

    /// Chunk sizes, the line end after a chunk's data, and trailers.
    fn poll_chunk_meta(
        &mut self,
        cx: &mut Context<'_>,
        at: Chunk,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let step = {
            let conn = self
                .conn
                .as_mut()
                .expect("a chunked body has its connection");
            chunk_step(&mut conn.buf, at, conn.limits.max_head)
        };
        match step {
            Err(e) => self.fail(e),
            Ok(Step::More) => match ready!(self.poll_more(cx)) {
                Ok(()) => self.poll_chunk_meta(cx, at),
                Err(e) => self.fail(e),
            },
            Ok(Step::Next(Chunk::Data(0))) => {
                self.framing = Framing::Chunked(Chunk::Trailers);
                self.poll_chunk_meta(cx, Chunk::Trailers)
            }
            Ok(Step::Next(next)) => {
                self.framing = Framing::Chunked(next);
                self.poll_chunked(cx, next)
            }
            Ok(Step::End(trailers)) => {
                self.finish();
                match trailers {
                    Some(t) => Poll::Ready(Some(Ok(Frame::trailers(t)))),
                    None => Poll::Ready(None),
                }
            }
        }
    }

    /// Reads more; the stream ending is an error here.
    fn poll_more(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let conn = self
            .conn
            .as_mut()
            .expect("a chunked body has its connection");
        match ready!(conn.poll_fill(cx))? {
            0 => Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into())),
            _ => Poll::Ready(Ok(())),
        }
    }
}

/// What the bytes at hand say about a chunked body.
enum Step {
    More,
    Next(Chunk),
    End(Option<HeaderMap>),
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("upstream chunked body: {what}"),
    )
}

fn chunk_step(buf: &mut bytes::BytesMut, at: Chunk, max: usize) -> io::Result<Step> {
    match at {
        Chunk::Size => match httparse::parse_chunk_size(buf) {
            Ok(httparse::Status::Complete((n, size))) => {
                buf.advance(n);
                Ok(Step::Next(Chunk::Data(size)))
            }
            Ok(httparse::Status::Partial) if buf.len() > MAX_CHUNK_LINE => {
                Err(bad("chunk size line too long"))
            }
            Ok(httparse::Status::Partial) => Ok(Step::More),
            Err(_) => Err(bad("invalid chunk size")),
        },
        Chunk::DataEnd => match &buf[..buf.len().min(2)] {
            b"\r\n" => {
                buf.advance(2);
                Ok(Step::Next(Chunk::Size))
            }
            b"" | b"\r" => Ok(Step::More),
            _ => Err(bad("no line end after a chunk")),
        },
        Chunk::Trailers => trailers(buf, max),
        Chunk::Data(_) => unreachable!("data is read by poll_chunked"),
    }
}

fn trailers(buf: &mut bytes::BytesMut, max: usize) -> io::Result<Step> {
    match &buf[..buf.len().min(2)] {
        b"\r\n" => {
            buf.advance(2);
            return Ok(Step::End(None));
        }
        b"" | b"\r" => return Ok(Step::More),
        _ => {}
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILERS];
    let (n, parsed) = match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(c)) => c,
        Ok(httparse::Status::Partial) if buf.len() >= max => return Err(bad("trailers too large")),
        Ok(httparse::Status::Partial) => return Ok(Step::More),
        Err(e) => return Err(bad(&e.to_string())),
    };
    let mut map = HeaderMap::with_capacity(parsed.len());
    for f in parsed {
        let name = HeaderName::from_bytes(f.name.as_bytes()).map_err(|_| bad("trailer name"))?;
        let value = HeaderValue::from_bytes(f.value).map_err(|_| bad("trailer value"))?;
        map.append(name, value);
    }
    buf.advance(n);
    Ok(Step::End(Some(map)))
}

impl http_body::Body for H1Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let this = self.get_mut();
        match this.framing {
            Framing::Done | Framing::Length(0) => Poll::Ready(None),
            Framing::Length(left) => {
                let data = match ready!(this.poll_data(cx, left)) {
                    Ok(d) => d,
                    Err(e) => return this.fail(e),
                };
                let left = left - data.len() as u64;
                this.framing = Framing::Length(left);
                if left == 0 {
                    this.finish();
                }
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Framing::Eof => match ready!(this.poll_some(cx)) {
                Ok(true) => {
                    let conn = this.conn.as_mut().expect("poll_some saw a connection");
                    Poll::Ready(Some(Ok(Frame::data(conn.buf.split().freeze()))))
                }
                Ok(false) => {
                    this.framing = Framing::Done;
                    this.conn = None;
                    Poll::Ready(None)
                }
                Err(e) => this.fail(e),
            },
            Framing::Chunked(at) => this.poll_chunked(cx, at),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.framing, Framing::Done | Framing::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            Framing::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

impl From<H1Error> for io::Error {
    fn from(e: H1Error) -> Self {
        match e {
            H1Error::Io(e) => e,
            other => io::Error::other(other),
        }
    }
}
