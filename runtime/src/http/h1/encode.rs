//! Writing an HTTP/1.1 response head the way hyper's server writes it
//! (`proto/h1/role.rs`, `Server::encode`), so a client sees the same bytes
//! whichever of the two served it: lowercase names in the handler's order,
//! the framing chosen from the headers and the body's size, `date` added
//! when missing, `connection: close` when the connection ends after it.
//! An upstream's fields kept as they came ([`RawFields`]) go first, as
//! they are, when they frame the body as it is; else they join the map.

use crate::http::handlers::reverse_proxy::headers::{contains_token, lists_token};
use crate::http::raw_fields::RawFields;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRAILER, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// What the handler's body says of its length (hyper's `BodyLength`;
/// `None` when the body is already at its end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyLength {
    Known(u64),
    Unknown,
}

/// How the body goes on the wire.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Exactly this many bytes (0: no body is written at all).
    Length(u64),
    /// Chunked, with the trailer fields the `trailer` header allows.
    Chunked(Option<Vec<HeaderName>>),
}

/// The head written: its framing and whether the connection ends after.
#[derive(Debug)]
pub(crate) struct Head {
    pub framing: Framing,
    pub last: bool,
}

/// The response's request: what decides the framing.
#[derive(Clone, Copy)]
pub(crate) struct Exchange {
    pub head_request: bool,
    pub keep_alive: bool,
    /// The request's `te` lists `trailers`: trailer fields may be sent.
    pub te_trailers: bool,
}

/// Appends the head of a response to `dst`: `raw`'s fields, then the
/// map's. `Err` when the handler's headers cannot frame the body (an
/// unparsable `content-length` for a body of unknown size, or two that
/// differ), as hyper refuses them.
pub(crate) fn head(
    dst: &mut Vec<u8>,
    mut status: StatusCode,
    headers: &mut HeaderMap,
    mut raw: Option<RawFields>,
    mut body: Option<BodyLength>,
    x: Exchange,
) -> Result<Head, ()> {
    let mut last = !x.keep_alive;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        last = true;
    } else if status.is_informational() {
        // hyper cannot send a 1xx as the response: it sends a 500.
        (status, body, last) = (StatusCode::INTERNAL_SERVER_ERROR, None, true);
        headers.clear();
        raw = None;
    }
    let raw = raw.and_then(|r| {
        let usable = frames(&r, status, body, x.head_request);
        r.kept_if(usable, headers)
    });
    if !x.keep_alive {
        close(headers);
    }
    let start = dst.len();
    status_line(dst, status);
    let mut f = Fields::default();
    if let Some(r) = &raw {
        r.write(dst);
        f.framing = Some(Framing::Length(r.length()));
        f.wrote_len = true;
        f.wrote_date = r.has_date();
    }
    let fields = f.write(dst, headers, body, status, x.head_request);
    if fields.is_err() {
        dst.truncate(start);
    }
    fields?;
    last |= f.close;
    let framing = finish(dst, &mut f, body, status, x.head_request);
    Ok(Head { framing, last })
}

/// Whether fields kept as they came frame the body as it is: their
/// `Content-Length` is its length, and a length is sent (not for a HEAD,
/// a 204 or a 304). (An empty body's length is written last, as hyper
/// writes it: through the map.)
fn frames(raw: &RawFields, status: StatusCode, body: Option<BodyLength>, head: bool) -> bool {
    body == Some(BodyLength::Known(raw.length())) && !head && can_have_length(status)
}

/// hyper's `enforce_version` for HTTP/1.1 when keep-alive is off: a
/// `connection: close` unless one is there.
fn close(headers: &mut HeaderMap) {
    if !contains_token(headers, &CONNECTION, "close") {
        headers.append(CONNECTION, HeaderValue::from_static("close"));
    }
}

fn status_line(dst: &mut Vec<u8>, status: StatusCode) {
    if status == StatusCode::OK {
        dst.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    dst.extend_from_slice(b"HTTP/1.1 ");
    dst.extend_from_slice(status.as_str().as_bytes());
    dst.push(b' ');
    let reason = status.canonical_reason().unwrap_or("<none>");
    dst.extend_from_slice(reason.as_bytes());
    dst.extend_from_slice(b"\r\n");
}

/// What writing the handler's header lines found.
#[derive(Default)]
struct Fields {
    framing: Option<Framing>,
    /// A `content-length` or `transfer-encoding` line was written.
    wrote_len: bool,
    wrote_date: bool,
    close: bool,
    trailers: Option<Vec<HeaderName>>,
    /// The current line is written up to its value: more values of the
    /// same name join it.
    open: bool,
    /// The `transfer-encoding` line must end with `, chunked`.
    must_chunk: bool,
}

impl Fields {
    /// Writes the header lines as hyper does: `content-length`,
    /// `transfer-encoding`, `connection` and `trailer` values of one name
    /// joined on one line, the framing ones checked.
    fn write(
        &mut self,
        dst: &mut Vec<u8>,
        headers: &mut HeaderMap,
        body: Option<BodyLength>,
        status: StatusCode,
        head_request: bool,
    ) -> Result<(), ()> {
        let chunkable = can_chunk(status, head_request);
        let mut prev_len = None;
        let mut cur: Option<HeaderName> = None;
        for (next, value) in headers.drain() {
            if let Some(n) = next {
                self.end_line(dst);
                cur = Some(n);
            }
            let Some(name) = cur.as_ref() else { continue };
            match *name {
                CONTENT_LENGTH => {
                    if self.wrote_len && !self.open {
                        return Err(());
                    }
                    match body {
                        Some(BodyLength::Known(n)) => {
                            if !self.open {
                                self.start(dst, "content-length: ", &value, Framing::Length(n));
                            }
                            continue;
                        }
                        Some(BodyLength::Unknown) => {
                            let n = parse_length(value.as_bytes()).ok_or(())?;
                            match prev_len {
                                Some(p) if p != n => return Err(()),
                                Some(_) => {}
                                None => {
                                    prev_len = Some(n);
                                    self.start(dst, "content-length: ", &value, Framing::Length(n));
                                }
                            }
                            continue;
                        }
                        // No body: only a HEAD answer keeps the length it
                        // declares.
                        None if head_request => self.wrote_len = true,
                        None => continue,
                    }
                }
                TRANSFER_ENCODING => {
                    if self.wrote_len && !self.open {
                        return Err(());
                    }
                    if chunkable {
                        self.must_chunk = !last_is_chunked(value.as_bytes());
                        self.join(
                            dst,
                            "transfer-encoding: ",
                            &value,
                            Some(Framing::Chunked(None)),
                        );
                    }
                    continue;
                }
                CONNECTION => {
                    self.close |= lists_token(value.as_bytes(), "close");
                    self.join(dst, "connection: ", &value, None);
                    continue;
                }
                TRAILER => {
                    if chunkable {
                        let names = value.to_str().ok().into_iter().flat_map(|s| s.split(','));
                        let names =
                            names.filter_map(|s| HeaderName::from_bytes(s.trim().as_bytes()).ok());
                        self.trailers.get_or_insert_with(Vec::new).extend(names);
                        self.join(dst, "trailer: ", &value, None);
                    }
                    continue;
                }
                DATE => self.wrote_date = true,
                _ => {}
            }
            line(dst, name, &value);
        }
        self.end_line(dst);
        Ok(())
    }

    /// Opens a framing line: `content-length` or `transfer-encoding`.
    fn start(&mut self, dst: &mut Vec<u8>, name: &str, value: &HeaderValue, framing: Framing) {
        self.framing = Some(framing);
        self.wrote_len = true;
        self.open = true;
        dst.extend_from_slice(name.as_bytes());
        dst.extend_from_slice(value.as_bytes());
    }

    /// Opens a line, or adds `value` to the open one.
    fn join(
        &mut self,
        dst: &mut Vec<u8>,
        name: &str,
        value: &HeaderValue,
        framing: Option<Framing>,
    ) {
        if self.open {
            dst.extend_from_slice(b", ");
            dst.extend_from_slice(value.as_bytes());
            return;
        }
        match framing {
            Some(f) => self.start(dst, name, value, f),
            None => {
                self.open = true;
                dst.extend_from_slice(name.as_bytes());
                dst.extend_from_slice(value.as_bytes());
            }
        }
    }

    fn end_line(&mut self, dst: &mut Vec<u8>) {
        if !self.open {
            return;
        }
        self.open = false;
        if std::mem::take(&mut self.must_chunk) {
            dst.extend_from_slice(b", chunked");
        }
        dst.extend_from_slice(b"\r\n");
    }
}

/// Whether the last coding a `transfer-encoding` value lists is `chunked`.
fn last_is_chunked(v: &[u8]) -> bool {
    v.rsplit(|b| *b == b',')
        .next()
        .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// The framing when no header chose it, the date, the blank line.
fn finish(
    dst: &mut Vec<u8>,
    f: &mut Fields,
    body: Option<BodyLength>,
    status: StatusCode,
    head_request: bool,
) -> Framing {
    let mut framing = match f.framing.take() {
        Some(fr) => fr,
        None => match body {
            // HTTP/1.1 can always chunk where a body is allowed; where it
            // is not, no body is written below.
            Some(BodyLength::Unknown) if can_chunk(status, head_request) => {
                dst.extend_from_slice(b"transfer-encoding: chunked\r\n");
                Framing::Chunked(None)
            }
            Some(BodyLength::Unknown) => Framing::Length(0),
            None | Some(BodyLength::Known(0)) => {
                if can_have_length(status) && !head_request {
                    dst.extend_from_slice(b"content-length: 0\r\n");
                }
                Framing::Length(0)
            }
            Some(BodyLength::Known(n)) => {
                if can_have_length(status) {
                    dst.extend_from_slice(b"content-length: ");
                    dst.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                    dst.extend_from_slice(b"\r\n");
                    Framing::Length(n)
                } else {
                    Framing::Length(0)
                }
            }
        },
    };
    if !can_chunk(status, head_request) {
        framing = Framing::Length(0);
    }
    if let Framing::Chunked(allowed) = &mut framing {
        *allowed = f.trailers.take();
    }
    if !f.wrote_date {
        dst.extend_from_slice(b"date: ");
        super::date::extend(dst);
        dst.extend_from_slice(b"\r\n");
    }
    dst.extend_from_slice(b"\r\n");
    framing
}

fn line(dst: &mut Vec<u8>, name: &HeaderName, value: &HeaderValue) {
    dst.extend_from_slice(name.as_str().as_bytes());
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value.as_bytes());
    dst.extend_from_slice(b"\r\n");
}

/// hyper's `can_chunked` (and `can_have_body`) for a GET-like request:
/// where a length may be given, but not in answer to a HEAD.
fn can_chunk(status: StatusCode, head_request: bool) -> bool {
    !head_request && can_have_length(status)
}

/// hyper's `can_have_content_length` (no `CONNECT` comes here).
fn can_have_length(status: StatusCode) -> bool {
    !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
}

/// hyper's `content_length_parse`: digits, and a comma list of equal ones.
fn parse_length(v: &[u8]) -> Option<u64> {
    let mut found = None;
    for part in v.split(|b| *b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n: u64 = std::str::from_utf8(part).ok()?.parse().ok()?;
        if found.is_some_and(|f| f != n) {
            return None;
        }
        found = Some(n);
    }
    found
}
