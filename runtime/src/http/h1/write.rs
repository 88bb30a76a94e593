//! Writing one response on bellhop's HTTP/1 server: the head
//! ([`super::encode`]) and the body framed as the head says, with hyper's
//! rules for what is sent.
//!
//! Small pieces gather in the connection's output buffer and go out in one
//! write when the body has nothing more ready (a whole small response is
//! one `write`); a large data frame goes out as it is, behind what was
//! gathered, in one vectored write. A sized body stops at its length (what
//! is past it is not sent), and one that ends short, or fails, closes the
//! connection after what was written.
//!
//! The body is any `http_body::Body` (the server's is `ServedBody`), so
//! the tests can give hyper and this writer the same one.

use super::encode::{self, BodyLength, Exchange, Framing};
use crate::http::raw_fields::RawFields;
use bytes::Bytes;
use http::HeaderName;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::Poll;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// A data frame this large is written from its own buffer, not copied.
const COPY_BELOW: usize = 16 * 1024;

/// Why a response ended its connection early.
#[derive(Debug)]
pub(crate) struct Broken;

/// Writes `resp`; `Ok(true)` when the connection ends after it.
pub(crate) async fn response<W, B>(
    io: &mut W,
    out: &mut Vec<u8>,
    resp: http::Response<B>,
    x: Exchange,
) -> Result<bool, Broken>
where
    W: AsyncWrite + Unpin,
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let (parts, mut body) = resp.into_parts();
    let http::response::Parts {
        status,
        mut headers,
        mut extensions,
        ..
    } = parts;
    let length = if body.is_end_stream() {
        None
    } else {
        Some(
            body.size_hint()
                .exact()
                .map_or(BodyLength::Unknown, BodyLength::Known),
        )
    };
    out.clear();
    let raw = RawFields::detach(&mut extensions);
    let head = encode::head(out, status, &mut headers, raw, length, x);
    // The map, written, serves a later head on this thread.
    crate::http::spare::keep_header_map(headers);
    let head = head.map_err(|()| Broken)?;
    let mut framing = head.framing;
    let whole = if framing == Framing::Length(0) {
        Ok(())
    } else {
        body_frames(io, out, &mut body, &mut framing, x.te_trailers).await
    };
    // What was gathered goes out even when the body broke.
    flush(io, out, None).await?;
    whole.map(|()| head.last)
}

/// Writes the body's frames until its framing is done.
async fn body_frames<W: AsyncWrite + Unpin, B: http_body::Body<Data = Bytes> + Unpin>(
    io: &mut W,
    out: &mut Vec<u8>,
    body: &mut B,
    framing: &mut Framing,
    te_trailers: bool,
) -> Result<(), Broken> {
    let mut body = Pin::new(body);
    loop {
        let polled = std::future::poll_fn(|cx| Poll::Ready(body.as_mut().poll_frame(cx))).await;
        let frame = match polled {
            Poll::Ready(f) => f,
            Poll::Pending => {
                flush(io, out, None).await?;
                std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await
            }
        };
        let frame = match frame {
            None => return end(out, framing),
            Some(Err(_)) => return Err(Broken),
            Some(Ok(frame)) => frame,
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let (Ok(t), Framing::Chunked(Some(allowed))) = (frame.into_trailers(), &*framing)
                {
                    if te_trailers && trailers(out, &t, allowed) {
                        return Ok(());
                    }
                }
                continue;
            }
        };
        if data.is_empty() {
            continue;
        }
        if data_frame(io, out, framing, data).await? {
            return Ok(());
        }
    }
}

/// Writes (or gathers) one data frame; `true` once a sized body is whole.
async fn data_frame<W: AsyncWrite + Unpin>(
    io: &mut W,
    out: &mut Vec<u8>,
    framing: &mut Framing,
    mut data: Bytes,
) -> Result<bool, Broken> {
    match framing {
        Framing::Length(left) => {
            let n = (*left).min(data.len() as u64);
            data.truncate(n as usize);
            *left -= n;
            put(io, out, data).await?;
            Ok(*left == 0)
        }
        Framing::Chunked(_) => {
            use std::io::Write as _;
            let _ = write!(out, "{:X}\r\n", data.len());
            put(io, out, data).await?;
            out.extend_from_slice(b"\r\n");
            Ok(false)
        }
    }
}

/// The end of the body: the last chunk, or the check that a sized body
/// was whole.
fn end(out: &mut Vec<u8>, framing: &Framing) -> Result<(), Broken> {
    match framing {
        Framing::Chunked(_) => {
            out.extend_from_slice(b"0\r\n\r\n");
            Ok(())
        }
        Framing::Length(0) => Ok(()),
        Framing::Length(_) => Err(Broken),
    }
}

/// The last chunk with the trailer fields the `trailer` header declared
/// (hyper's `encode_trailers`); `false` when none is left to send.
fn trailers(out: &mut Vec<u8>, t: &http::HeaderMap, allowed: &[HeaderName]) -> bool {
    use http::header::*;
    let start = out.len();
    out.extend_from_slice(b"0\r\n");
    let mut any = false;
    for (name, value) in t {
        let framing_field = matches!(
            *name,
            AUTHORIZATION
                | CACHE_CONTROL
                | CONTENT_ENCODING
                | CONTENT_LENGTH
                | CONTENT_RANGE
                | CONTENT_TYPE
                | HOST
                | MAX_FORWARDS
                | SET_COOKIE
                | TRAILER
                | TRANSFER_ENCODING
                | TE
        );
        if allowed.contains(name) && !framing_field {
            any = true;
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    if !any {
        out.truncate(start);
        return false;
    }
    out.extend_from_slice(b"\r\n");
    true
}

/// Gathers `data` into `out`, or writes `out` and `data` together.
async fn put<W: AsyncWrite + Unpin>(
    io: &mut W,
    out: &mut Vec<u8>,
    data: Bytes,
) -> Result<(), Broken> {
    if data.len() < COPY_BELOW {
        out.extend_from_slice(&data);
        return Ok(());
    }
    flush(io, out, Some(&data[..])).await
}

/// Writes what `out` holds, then `more`, and flushes.
pub(crate) async fn flush<W: AsyncWrite + Unpin>(
    io: &mut W,
    out: &mut Vec<u8>,
    more: Option<&[u8]>,
) -> Result<(), Broken> {
    let more = more.unwrap_or_default();
    let (mut a, mut b) = (0, 0);
    while a < out.len() || b < more.len() {
        let n = if a < out.len() && !more.is_empty() {
            let bufs = [IoSlice::new(&out[a..]), IoSlice::new(&more[b..])];
            io.write_vectored(&bufs).await
        } else if a < out.len() {
            io.write(&out[a..]).await
        } else {
            io.write(&more[b..]).await
        };
        let mut n = n.map_err(|_| Broken)?;
        if n == 0 {
            return Err(Broken);
        }
        let from_out = n.min(out.len() - a);
        a += from_out;
        n -= from_out;
        b += n;
    }
    out.clear();
    io.flush().await.map_err(|_| Broken)
}
