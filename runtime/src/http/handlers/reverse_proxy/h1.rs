//! Our own HTTP/1.1 upstream exchange, driven in the request's task: the
//! request head (and a body already in memory) goes out in one write, the
//! response head is parsed where it was read (header values share the read
//! buffer), and the body ([`body::H1Body`]) is read by whoever polls it —
//! the client connection's own task — and gives the connection back to the
//! pool when it ends. No connection task, no channel to it, no wake-up
//! between tasks: hyper's client needs all three per exchange.
//!
//! It covers what most proxied requests are: no body, or one read whole
//! (`request_buffers`, health checks). A streamed request body, a protocol
//! upgrade, `Transfer-Encoding` set by the client and a gated
//! `Expect: 100-continue` go through hyper's client instead, on the same
//! connection (`HttpTransport::send` hands it over).
//!
//! Framing is RFC 9112's: no body for HEAD, 1xx, 204 and 304; chunked when
//! the last transfer coding is; else `Content-Length` (several must agree);
//! else up to the close. Interim 1xx responses are skipped, as hyper's
//! client skips them; a 101 is final (the proxy answers a 101 to a
//! request that asked no upgrade as Caddy does) and closes the
//! connection. A connection is reused only when both sides keep it alive
//! and the body was read to its exact end.
//!
//! The response's fields go into a map, or stay as they came
//! ([`RawFields`], see [`Keep`]) for the client's writer where nothing
//! reads them on the way (`parse`).

pub mod body;
mod fields;
mod parse;
#[cfg(test)]
mod raw_tests;
#[cfg(test)]
mod tests;

use super::direct::HeadFields;
use super::stream::UpStream;
use crate::http::h1::names::Names;
use crate::http::raw_fields::RawFields;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, StatusCode, Version};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncWriteExt;
use tokio::sync::OwnedSemaphorePermit;

pub use body::H1Body;
use parse::{parse_head, Parsed};

/// hyper's default cap on a response head (`max_buf_size`).
pub const DEFAULT_MAX_HEAD: usize = 8192 + 4096 * 100;
/// The first read of a response; later reads grow while they fill it.
const FIRST_READ: usize = 8192;
/// The largest read.
const MAX_READ: usize = 256 * 1024;
/// Header fields in one response head.
const MAX_HEADERS: usize = 128;
/// A body in memory up to this size goes out in the head's write.
const INLINE_BODY: usize = 64 * 1024;

/// Size limits of a connection's reads.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest response head (`max_response_header_size`).
    pub max_head: usize,
    /// A fixed read size (`read_buffer_size`), else adaptive.
    pub read_exact: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: DEFAULT_MAX_HEAD,
            read_exact: None,
        }
    }
}

/// An HTTP/1.1 connection to an upstream, between exchanges.
pub struct H1Conn {
    io: UpStream,
    /// Bytes read and not yet consumed.
    buf: BytesMut,
    /// The request head being written (kept for the next request).
    head: Vec<u8>,
    /// The last response head's header names.
    names: Names,
    /// Where the fields of the head being parsed are (kept: no array of
    /// spans zeroed per head).
    spans: Vec<[u32; 4]>,
    next_read: usize,
    limits: Limits,
    reused: bool,
    /// The `max_conns_per_host` slot this connection holds.
    permit: Option<OwnedSemaphorePermit>,
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum H1Error {
    #[error("upstream connection: {0}")]
    Io(#[from] io::Error),
    #[error("upstream response: {0}")]
    Malformed(String),
    /// A connection taken from the pool was closed before it answered.
    #[error("upstream closed a kept-alive connection before answering")]
    Stale,
    #[error("upstream closed the connection before the response head ended")]
    Closed,
}

impl H1Conn {
    /// A new connection over `io`.
    pub fn new(io: UpStream, limits: Limits, permit: Option<OwnedSemaphorePermit>) -> Self {
        H1Conn {
            io,
            buf: BytesMut::new(),
            head: Vec::new(),
            names: Names::default(),
            spans: Vec::new(),
            next_read: limits.read_exact.unwrap_or(FIRST_READ),
            limits,
            reused: false,
            permit,
        }
    }

    /// Whether the upstream closed (or wrote to) this idle connection,
    /// from the readiness the reactor already has: no system call unless
    /// the socket became readable since the last read.
    pub fn is_closed(&mut self) -> bool {
        self.io.probe_closed()
    }

    /// Marks a connection taken from the pool.
    pub fn set_reused(&mut self) {
        self.reused = true;
    }

    /// The stream and its slot, for hyper's client to take over (only
    /// between exchanges, when no byte is left unread).
    pub fn into_parts(self) -> (UpStream, Option<OwnedSemaphorePermit>) {
        (self.io, self.permit)
    }

    /// Reads more into the buffer; `Ok(0)` at the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < self.next_read / 2 {
            self.buf.reserve(self.next_read);
        }
        let want = self.buf.capacity() - self.buf.len();
        let n = std::task::ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.io),
            cx,
            &mut self.buf
        ))?;
        if self.limits.read_exact.is_none() && n == want {
            self.next_read = (self.next_read * 2).min(MAX_READ);
        }
        Poll::Ready(Ok(n))
    }
}

/// The upstream's response head and how its body is framed.
pub struct Head {
    pub status: StatusCode,
    pub version: Version,
    /// The fields, but those kept in `raw`.
    pub headers: HeaderMap,
    /// The fields as they came, when they can go to the client so.
    pub raw: Option<RawFields>,
    pub framing: body::Framing,
    pub keep_alive: bool,
}

/// What becomes of a response head's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// All go into the map.
    All,
    /// The hop-by-hop fields the proxy removes from the response are left
    /// out of the map (nothing reads them before; see
    /// [`fields::Noted::note`]).
    NoHop,
    /// As `NoHop`, and kept as they came ([`RawFields`]) where the head
    /// allows it: nothing reads them before the client's writer.
    Raw,
    /// As `Raw`, but for a `Content-Encoding: gzip` answer, which is
    /// decoded (and its fields changed) on the way: the transport asked
    /// for gzip on the client's behalf (`compression`).
    RawUnlessGzip,
}

/// Sends one request (its body in memory) and reads the response head,
/// its fields kept as `keep` says.
pub async fn exchange<F: HeadFields + ?Sized>(
    mut conn: Box<H1Conn>,
    method: &Method,
    uri: &http::Uri,
    fields: &F,
    body: Bytes,
    keep: Keep,
) -> Result<(Head, Box<H1Conn>), H1Error> {
    write_head(&mut conn.head, method, uri, fields, body.len());
    if !body.is_empty() && body.len() <= INLINE_BODY {
        conn.head.extend_from_slice(&body);
    }
    let sent = send(&mut conn, &body).await;
    if let Err(e) = sent {
        return Err(if conn.reused {
            H1Error::Stale
        } else {
            e.into()
        });
    }
    let head = loop {
        // Nothing to parse before the first read (the usual case).
        let parsed = match conn.buf.is_empty() {
            true => None,
            false => parse_head(
                &mut conn.buf,
                &mut conn.names,
                &mut conn.spans,
                conn.limits.max_head,
                keep,
            )?,
        };
        if let Some(head) = parsed {
            if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS {
                continue;
            }
            break head;
        }
        let n = poll_fn(|cx| conn.poll_fill(cx)).await;
        match n {
            Ok(0) if conn.buf.is_empty() && conn.reused => return Err(H1Error::Stale),
            Ok(0) => return Err(H1Error::Closed),
            Ok(_) => {}
            Err(e) if conn.buf.is_empty() && conn.reused => {
                tracing::debug!(error = %e, "kept-alive upstream connection failed");
                return Err(H1Error::Stale);
            }
            Err(e) => return Err(e.into()),
        }
    };
    let Parsed {
        status,
        version,
        mut headers,
        raw,
        noted,
    } = head;
    let framing = noted.framing(method, status)?;
    // Kept as they came only when they frame the body as it is (not for
    // a HEAD, say), and a length may be sent.
    let sized = framing == body::Framing::Length(raw.as_ref().map_or(0, RawFields::length));
    let bodiless = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let raw = raw.and_then(|r| r.kept_if(sized && !bodiless, &mut headers));
    // Both framings at once: the sender must close (RFC 9112, 6.1).
    let both = noted.coded && noted.has_length();
    // A 101 (to a request that asked no upgrade: those go through hyper)
    // is final, and ends the connection's HTTP.
    let switched = status == StatusCode::SWITCHING_PROTOCOLS;
    let keep_alive = noted.keeps_alive(version) && framing.delimited() && !both && !switched;
    let head = Head {
        status,
        version,
        headers,
        raw,
        framing,
        keep_alive,
    };
    Ok((head, conn))
}

async fn send(conn: &mut H1Conn, body: &Bytes) -> io::Result<()> {
    conn.io.write_all(&conn.head).await?;
    if body.len() > INLINE_BODY {
        conn.io.write_all(body).await?;
    }
    conn.io.flush().await
}

/// `METHOD target HTTP/1.1`, the fields as given, and `Content-Length`
/// for a non-empty body (as hyper's client sets it; an empty body keeps
/// the fields as they are).
fn write_head<F: HeadFields + ?Sized>(
    w: &mut Vec<u8>,
    method: &Method,
    uri: &http::Uri,
    fields: &F,
    len: usize,
) {
    w.clear();
    w.extend_from_slice(method.as_str().as_bytes());
    w.push(b' ');
    match uri.scheme() {
        None => w.extend_from_slice(uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes()),
        Some(_) => w.extend_from_slice(uri.to_string().as_bytes()),
    }
    w.extend_from_slice(b" HTTP/1.1\r\n");
    fields.write_fields(w, len);
    if len > 0 {
        w.extend_from_slice(b"content-length: ");
        w.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
        w.extend_from_slice(b"\r\n");
    }
    w.extend_from_slice(b"\r\n");
}
