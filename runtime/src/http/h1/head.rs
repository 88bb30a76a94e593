//! Parsing an HTTP/1.1 request head for bellhop's own HTTP/1 server
//! ([`super`]), with the parser hyper uses (`httparse`, default settings)
//! and hyper's checks.
//!
//! The head is parsed in the connection's buffer and its header values are
//! slices of it (no copies). Served here: requests without a body, and
//! those whose body has a `content-length` of at most [`MAX_BODY`] and is
//! already whole in the buffer (as a small POST comes, in one segment with
//! its head). Anything else, or anything unusual, is [`NotYet::Hyper`],
//! and hyper serves the rest of the connection from the same bytes, so it
//! answers exactly as it always has (its 400, 431 and 414 for bad heads,
//! chunked bodies and bodies still on their way, `Expect`, upgrades,
//! `CONNECT`, HTTP/1.0, h2c).

use super::names::Names;
use crate::http::framing::Facts;
use crate::http::handlers::reverse_proxy::headers::lists_token;
use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderName, HeaderValue, Method, Uri, Version};
use std::mem::MaybeUninit;
use std::ops::Range;

/// Header lines parsed here; a head with more goes to hyper (which takes
/// up to `MAX_HEADERS` of [`crate::http::serve`]).
const MAX_HEADERS: usize = 96;

/// The largest body served here (read with its head).
const MAX_BODY: u64 = 64 * 1024;

/// hyper's limit on a request target (`MAX_URI_LEN`): longer is its 414.
const MAX_URI_LEN: usize = (u16::MAX - 1) as usize;

/// What the front of the buffer holds: a request served here, taken off
/// the buffer, or [`NotYet`].
pub(crate) type Parsed = Result<Request, NotYet>;

/// Why the front of the buffer is not a request served here.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotYet {
    /// Not a whole head yet, and within the limit.
    Partial,
    /// A head hyper must serve (left in the buffer).
    Hyper,
}

/// A request head, and its body when it has one.
#[derive(Debug)]
pub(crate) struct Request {
    pub parts: http::request::Parts,
    pub body: Option<Bytes>,
    /// The connection may serve another request after this one.
    pub keep_alive: bool,
    /// Its `te` lists `trailers` (hyper's `te_is_trailers`).
    pub te_trailers: bool,
    /// What the request checks read of its fields, noted as the map was
    /// built.
    pub facts: Facts,
}

/// Where one header line lies in the head.
#[derive(Clone, Copy, Default)]
pub(crate) struct Line {
    name: (u32, u32),
    value: (u32, u32),
}

/// Parses the head at the front of `buf` (of at most `max` bytes, hyper's
/// buffer limit); `lines` is scratch space kept by the connection.
/// `names`: the connection's names of its last head.
pub(crate) fn parse(
    buf: &mut BytesMut,
    max: usize,
    lines: &mut Vec<Line>,
    names: &mut Names,
) -> Parsed {
    let (len, method, target) = match scan(buf, lines) {
        Scan::Complete(len, method, target) if len <= max => (len, method, target),
        Scan::Partial if buf.len() < max => return Err(NotYet::Partial),
        _ => return Err(NotYet::Hyper),
    };
    let Ok(method) = Method::from_bytes(&buf[method]) else {
        return Err(NotYet::Hyper);
    };
    if method == Method::CONNECT {
        return Err(NotYet::Hyper);
    }
    // From here on the request is ours or hyper's by its headers alone:
    // look before taking it off the buffer.
    let Some(Framing {
        keep_alive,
        length,
        te_trailers,
    }) = framing(buf, lines)
    else {
        return Err(NotYet::Hyper);
    };
    if length > MAX_BODY || len + length as usize > buf.len() {
        return Err(NotYet::Hyper);
    }
    let head = buf.split_to(len).freeze();
    match build(&head, method, target, lines, names) {
        Some((parts, facts)) => {
            let body = (length > 0).then(|| buf.split_to(length as usize).freeze());
            Ok(Request {
                parts,
                body,
                keep_alive,
                te_trailers,
                facts,
            })
        }
        None => {
            // Put the head back for hyper (rare: a target or header that
            // `http` refuses and hyper would refuse too).
            let rest = buf.split();
            buf.extend_from_slice(&head);
            buf.extend_from_slice(&rest);
            Err(NotYet::Hyper)
        }
    }
}

enum Scan {
    Complete(usize, Range<usize>, Range<usize>),
    Partial,
    Other,
}

/// httparse over the buffer: the head's length and where its method,
/// target and header lines are.
fn scan(buf: &[u8], lines: &mut Vec<Line>) -> Scan {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Scan::Partial,
        Err(_) => return Scan::Other,
    };
    if req.version != Some(1) {
        return Scan::Other;
    }
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Scan::Other;
    };
    if target.len() > MAX_URI_LEN {
        return Scan::Other;
    }
    let at = |s: &[u8]| s.as_ptr() as usize - buf.as_ptr() as usize;
    let span = |s: &[u8]| (at(s) as u32, (at(s) + s.len()) as u32);
    lines.clear();
    lines.extend(req.headers.iter().map(|h| Line {
        name: span(h.name.as_bytes()),
        value: span(h.value),
    }));
    let method = at(method.as_bytes())..at(method.as_bytes()) + method.len();
    let target = at(target.as_bytes())..at(target.as_bytes()) + target.len();
    Scan::Complete(len, method, target)
}

/// What the head's fields say of the exchange.
struct Framing {
    keep_alive: bool,
    length: u64,
    te_trailers: bool,
}

/// Whether the request wants nothing hyper does for us: no chunked
/// body, no upgrade, no `Expect`, at most one `content-length` of plain
/// digits. `Some` if so.
fn framing(buf: &[u8], lines: &[Line]) -> Option<Framing> {
    let (mut keep_alive, mut length, mut te_trailers) = (true, None, false);
    for l in lines {
        let name = &buf[l.name.0 as usize..l.name.1 as usize];
        let value = &buf[l.value.0 as usize..l.value.1 as usize];
        let is = |h: &HeaderName| name.eq_ignore_ascii_case(h.as_str().as_bytes());
        if is(&TRANSFER_ENCODING) || is(&UPGRADE) || is(&EXPECT) {
            return None;
        }
        if is(&CONTENT_LENGTH) {
            if length.is_some() {
                return None;
            }
            length = Some(digits(value)?);
        } else if is(&CONNECTION) && lists_token(value, "close") {
            keep_alive = false;
        } else if is(&TE) {
            // (A value `to_str` refuses lists nothing, as for hyper.)
            let text = value.iter().all(|&b| b == b'\t' || (32..127).contains(&b));
            te_trailers |= text && lists_token(value, "trailers");
        }
    }
    Some(Framing {
        keep_alive,
        length: length.unwrap_or(0),
        te_trailers,
    })
}

/// A length of 1 to 19 plain digits (hyper reads more forms; those go to
/// it).
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// The request's parts, its target and header values sharing `head`,
/// and the facts of its fields.
fn build(
    head: &Bytes,
    method: Method,
    target: Range<usize>,
    lines: &[Line],
    names: &mut Names,
) -> Option<(http::request::Parts, Facts)> {
    let uri = Uri::from_maybe_shared(head.slice(target)).ok()?;
    let mut headers = crate::http::spare::header_map(lines.len());
    let mut facts = Facts::default();
    for (i, l) in lines.iter().enumerate() {
        let (name, odd) = names
            .get_noted(i, &head[l.name.0 as usize..l.name.1 as usize])
            .ok()?;
        let value = head.slice(l.value.0 as usize..l.value.1 as usize);
        if !facts.note(&name, &value) {
            facts.note_name(odd.lookalike, odd.separator);
        }
        headers.append(name, HeaderValue::from_maybe_shared(value).ok()?);
    }
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    crate::http::spare::discard_header_map(std::mem::replace(&mut parts.headers, headers));
    Some((parts, facts))
}
