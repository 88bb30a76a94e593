//! What an upstream response head says about its connection and body,
//! noted field by field as the head is parsed: `Content-Length`,
//! `Transfer-Encoding` and `Connection`. The framing and keep-alive rules
//! then need no lookup in the header map, and the hop-by-hop fields the
//! proxy would remove anyway need not enter it ([`Noted::note`]). Where
//! nothing reads the fields before the client's writer, [`Lines`] keeps
//! them as they came, as [`RawFields`].

use super::super::response_body::is_event_stream;
use super::body::{Chunk, Framing};
use super::H1Error;
use crate::http::raw_fields::RawFields;
use bytes::Bytes;
use http::header::{
    CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, DATE, TRAILER, TRANSFER_ENCODING,
    VIA,
};
use http::{HeaderName, Method, StatusCode, Version};
use std::ops::Range;

/// The framing fields of one response head.
pub struct Noted {
    /// Every `Content-Length` agreed on this (`None`: none came), or the
    /// first fault found in them.
    length: Result<Option<u64>, &'static str>,
    /// A `Transfer-Encoding` came.
    pub coded: bool,
    /// Its last coding is `chunked`.
    chunked: bool,
    /// `Connection` lists `close`, `keep-alive`.
    close: bool,
    keep_alive: bool,
}

/// A `Content-Length` value: plain digits, at most 2^63 - 1 (as Go's
/// `strconv.ParseUint(v, 10, 63)`).
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        let d = b.is_ascii_digit().then(|| u64::from(b - b'0'))?;
        n.checked_mul(10)?
            .checked_add(d)
            .filter(|&n| n <= i64::MAX as u64)
    })
}

impl Noted {
    /// Nothing noted yet.
    pub fn new() -> Self {
        Noted {
            length: Ok(None),
            coded: false,
            chunked: false,
            close: false,
            keep_alive: false,
        }
    }

    /// Notes the field `name: value`; whether it is a hop-by-hop field the
    /// proxy removes from every response but a 101 (`Trailer` is not; a
    /// `Connection` is only when it names no other field to remove).
    pub fn note(&mut self, name: &HeaderName, value: &[u8]) -> bool {
        if name == CONTENT_LENGTH {
            self.note_length(value);
            return false;
        }
        if name == TRANSFER_ENCODING {
            self.coded = true;
            let last = tokens(value).rfind(|t| !t.is_empty());
            if let Some(t) = last {
                self.chunked = t.eq_ignore_ascii_case(b"chunked");
            }
            return true;
        }
        if name == CONNECTION {
            let mut names_fields = false;
            for t in tokens(value).filter(|t| !t.is_empty()) {
                if t.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                } else {
                    names_fields = true;
                }
            }
            return !names_fields;
        }
        matches!(
            name.as_str(),
            "keep-alive"
                | "proxy-connection"
                | "proxy-authenticate"
                | "proxy-authorization"
                | "te"
                | "upgrade"
                | "alt-svc"
        )
    }

    fn note_length(&mut self, value: &[u8]) {
        let Ok(prior) = self.length else {
            return;
        };
        let mut length = prior;
        for part in value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
            let n = digits(part);
            self.length = match (n, length) {
                (None, _) => Err("invalid Content-Length"),
                (Some(n), Some(l)) if l != n => Err("conflicting Content-Length"),
                (Some(n), _) => Ok(Some(n)),
            };
            let Ok(l) = self.length else {
                return;
            };
            length = l;
        }
    }

    /// Whether a `Content-Length` came (valid or not).
    pub fn has_length(&self) -> bool {
        !matches!(self.length, Ok(None))
    }

    /// The framing of the response to `method` (RFC 9112, section 6.3):
    /// none for HEAD, 1xx, 204 and 304; chunked when the last transfer
    /// coding is, up to the close for another coding; else by
    /// `Content-Length` (several must agree), else up to the close.
    pub fn framing(&self, method: &Method, status: StatusCode) -> Result<Framing, H1Error> {
        if method == Method::HEAD
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Ok(Framing::Length(0));
        }
        if self.coded {
            return Ok(match self.chunked {
                true => Framing::Chunked(Chunk::Size),
                false => Framing::Eof,
            });
        }
        match self.length {
            Ok(length) => Ok(length.map_or(Framing::Eof, Framing::Length)),
            Err(e) => Err(H1Error::Malformed(e.into())),
        }
    }

    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `keep-alive`.
    pub fn keeps_alive(&self, v: Version) -> bool {
        match v == Version::HTTP_10 {
            true => self.keep_alive,
            false => !self.close,
        }
    }
}

/// A head's field lines being checked, one by one as they are noted,
/// for writing as they came ([`RawFields`]).
pub struct Lines {
    raw: RawFields,
    lengths: u8,
    /// A gzip answer is decoded on the way.
    gunzip: bool,
}

impl Lines {
    /// The field lines `lines` of `head` (`gunzip`: a gzip answer is
    /// decoded on the way); `None` for a head of 64 KiB or more.
    pub fn new(head: Bytes, lines: Range<usize>, gunzip: bool) -> Option<Self> {
        Some(Lines {
            raw: RawFields::new(head, lines)?,
            lengths: 0,
            gunzip,
        })
    }

    /// Checks the line `line` of the field `name: value` (`hop`: the
    /// proxy removes it); `false` when the head cannot go as it came: a
    /// line not ending in CRLF, `Transfer-Encoding`, `Trailer`, `Via`, a
    /// `Connection` that names fields, a `Content-Length` that is not one
    /// plain number, a `text/event-stream` (flushed as it comes), a gzip
    /// answer to be decoded, or too many lines to leave out.
    pub fn line(&mut self, name: &HeaderName, value: &[u8], hop: bool, line: Range<usize>) -> bool {
        if !self.raw.ends_in_crlf(&line) {
            return false;
        }
        match *name {
            TRANSFER_ENCODING | TRAILER | VIA => return false,
            CONNECTION if !hop => return false,
            CONTENT_LENGTH => {
                self.lengths += 1;
                match digits(value) {
                    Some(n) if self.lengths == 1 => self.raw.set_length(n),
                    _ => return false,
                }
            }
            CONTENT_TYPE if is_event_stream(value) => return false,
            CONTENT_ENCODING if self.gunzip && value.eq_ignore_ascii_case(b"gzip") => return false,
            DATE => self.raw.set_date(),
            _ => {}
        }
        !hop || self.raw.skip(line)
    }

    /// The lines, when one `Content-Length` was among them.
    pub fn finish(self) -> Option<RawFields> {
        (self.lengths == 1).then_some(self.raw)
    }
}

/// The comma-separated tokens of a value, trimmed.
fn tokens(value: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(<[u8]>::trim_ascii)
}

#[cfg(test)]
mod tests {
    use super::super::super::headers::HOP;
    use super::*;

    /// `note` calls every hop-by-hop field of `headers::HOP` one to drop,
    /// but `Trailer`, and a `Connection` that names another field.
    #[test]
    fn note_agrees_with_the_hop_by_hop_fields() {
        for n in &HOP {
            let dropped = Noted::new().note(n, b"keep-alive");
            assert_eq!(dropped, n != "trailer", "{n}");
        }
        assert!(!Noted::new().note(&CONNECTION, b"close, X-Listed"));
        assert!(!Noted::new().note(&CONTENT_LENGTH, b"5"));
    }

    /// The framing rules, from the fields noted.
    #[test]
    fn framing_from_noted_fields() {
        let framed = |fields: &[(&HeaderName, &[u8])], status: u16| {
            let mut n = Noted::new();
            for (k, v) in fields {
                n.note(k, v);
            }
            n.framing(&Method::GET, StatusCode::from_u16(status).unwrap())
                .map_err(|e| e.to_string())
        };
        let cl = &CONTENT_LENGTH;
        let te = &TRANSFER_ENCODING;
        assert_eq!(
            framed(&[(cl, b"5, 5"), (cl, b"5")], 200).unwrap(),
            Framing::Length(5)
        );
        assert!(framed(&[(cl, b"5"), (cl, b"6")], 200)
            .unwrap_err()
            .contains("conflicting"));
        assert!(framed(&[(cl, b"x")], 200).unwrap_err().contains("invalid"));
        // As Go: digits only, leading zeros allowed, at most 2^63 - 1.
        for bad in [
            &b""[..],
            b"+5",
            b"-5",
            b"5 5",
            b"0x5",
            b"9223372036854775808",
        ] {
            assert!(framed(&[(cl, bad)], 200).is_err(), "{bad:?}");
        }
        assert_eq!(
            framed(&[(cl, b"000000000000000000000042")], 200).unwrap(),
            Framing::Length(42)
        );
        assert_eq!(
            framed(&[(cl, b"9223372036854775807")], 200).unwrap(),
            Framing::Length(i64::MAX as u64)
        );
        assert_eq!(framed(&[(cl, b"x")], 204).unwrap(), Framing::Length(0));
        assert_eq!(
            framed(&[(te, b"gzip, chunked"), (te, b" ")], 200).unwrap(),
            Framing::Chunked(Chunk::Size)
        );
        assert_eq!(
            framed(&[(te, b"chunked, gzip")], 200).unwrap(),
            Framing::Eof
        );
        assert_eq!(framed(&[], 200).unwrap(), Framing::Eof);
    }
}
