//! Response fields kept as the bytes they came in: an upstream's HTTP/1.1
//! response head whose fields bellhop's own HTTP/1.1 writer copies to the
//! client as they are, in runs between the lines it leaves out, instead of
//! parsing each into a header map and writing it out again.
//!
//! The reverse proxy makes one only when nothing between it and the writer
//! reads or changes the response's fields (see `Cx::fields_unread`), and
//! only for a head it can vouch for line by line: every line ends in CRLF,
//! exactly one `Content-Length` of plain digits, no `Transfer-Encoding`,
//! `Trailer` or `Via`, and no `Connection` that names other fields. It
//! travels in the response's extensions ([`RawFields::attach`], in a map
//! the thread reuses); the header map holds only the fields
//! added after it (`Connection: close`, `Alt-Svc`). Whoever cannot use it
//! as it is (a HEAD, a body of another length) puts it into the map with
//! [`RawFields::into_map`], ahead of what the map holds, so the order is
//! the one the map would have had.
//!
//! Names go out in the case the upstream sent them (nginx's proxy does the
//! same); the map would have lowered them. HTTP field names are
//! case-insensitive.

use bytes::Bytes;
use http::{Extensions, HeaderMap, HeaderName, HeaderValue};
use std::ops::Range;

/// At most this many lines are left out (the hop-by-hop fields of one
/// head are one or two: `Connection`, `Keep-Alive`).
const MAX_SKIPS: usize = 4;

/// A response head's field lines, to be written as they came. (Small:
/// it is moved along with the response head, and its offsets are `u16`.)
#[derive(Clone, Debug)]
pub struct RawFields {
    /// The whole head, status line included (under 64 KiB).
    head: Bytes,
    /// Where the field lines are in `head`, each ending in CRLF.
    lines: (u16, u16),
    /// The lines left out, as byte ranges of `head`, in order.
    skip: [(u16, u16); MAX_SKIPS],
    skips: u8,
    has_date: bool,
    /// The value of the one `Content-Length` among the lines.
    length: u64,
    /// A field line written after the lines, without its CRLF (the
    /// proxy's `Via`).
    added: Option<&'static str>,
}

impl RawFields {
    /// Puts `self` into `ext` (the thread's spare map when `ext` holds
    /// nothing yet: [`super::spare`]).
    pub fn attach(self, ext: &mut Extensions) {
        if ext.is_empty() {
            *ext = super::spare::extensions();
        }
        ext.insert(self);
    }

    /// Takes the fields out of `ext`; the map, emptied, is kept for
    /// [`Self::attach`] (one that holds more stays).
    pub fn detach(ext: &mut Extensions) -> Option<Self> {
        let raw = ext.remove::<Self>()?;
        if ext.is_empty() {
            super::spare::keep_extensions(std::mem::take(ext));
        }
        Some(raw)
    }

    /// The lines `lines` of `head`; `None` for a head of 64 KiB or more.
    pub fn new(head: Bytes, lines: Range<usize>) -> Option<Self> {
        let at = |i: usize| u16::try_from(i).ok();
        let (start, end) = (at(lines.start)?, at(head.len()).and(at(lines.end))?);
        Some(RawFields {
            head,
            lines: (start, end),
            skip: [(0, 0); MAX_SKIPS],
            skips: 0,
            has_date: false,
            length: 0,
            added: None,
        })
    }

    /// Leaves out the line at `line` (after those left out before it);
    /// `false` when no more can be.
    pub fn skip(&mut self, line: Range<usize>) -> bool {
        let i = usize::from(self.skips);
        if i == MAX_SKIPS {
            return false;
        }
        // (Within the head, which `new` found under 64 KiB.)
        self.skip[i] = (line.start as u16, line.end as u16);
        self.skips += 1;
        true
    }

    /// Notes the `Content-Length` among the lines.
    pub fn set_length(&mut self, n: u64) {
        self.length = n;
    }

    /// Whether `line`, a range of the head, ends in CRLF.
    pub fn ends_in_crlf(&self, line: &Range<usize>) -> bool {
        line.end >= line.start + 2 && self.head.get(line.end - 2..line.end) == Some(b"\r\n")
    }

    /// Notes that a `Date` is among the lines.
    pub fn set_date(&mut self) {
        self.has_date = true;
    }

    /// Whether a `Date` is among the lines.
    pub fn has_date(&self) -> bool {
        self.has_date
    }

    /// The `Content-Length` the lines give.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Adds a field line (`name: value`, no CRLF) after the lines (one: a
    /// second replaces it).
    pub fn add(&mut self, line: &'static str) {
        self.added = Some(line);
    }

    /// The runs of lines that are written, in order.
    fn runs(&self) -> impl Iterator<Item = &[u8]> {
        let skip = &self.skip[..usize::from(self.skips)];
        let starts = std::iter::once(self.lines.0).chain(skip.iter().map(|s| s.1));
        let ends = skip
            .iter()
            .map(|s| s.0)
            .chain(std::iter::once(self.lines.1));
        starts
            .zip(ends)
            .map(|(s, e)| &self.head[s as usize..e as usize])
    }

    /// Appends the lines (but those left out) and the added field.
    pub fn write(&self, dst: &mut Vec<u8>) {
        for run in self.runs() {
            dst.extend_from_slice(run);
        }
        if let Some(line) = self.added {
            dst.extend_from_slice(line.as_bytes());
            dst.extend_from_slice(b"\r\n");
        }
    }

    /// `self` when `usable` (it can go as it is); else `None`, its
    /// fields put into `map` ([`Self::into_map`]).
    pub fn kept_if(self, usable: bool, map: &mut HeaderMap) -> Option<Self> {
        if usable {
            return Some(self);
        }
        self.into_map(map);
        None
    }

    /// Puts the fields into `map`, ahead of those it holds: the lines (but
    /// those left out), then the added field. Values share the head's
    /// buffer.
    pub fn into_map(self, map: &mut HeaderMap) {
        let after = std::mem::take(map);
        map.reserve(after.len() + 16);
        for run in self.runs() {
            let base = run.as_ptr() as usize - self.head.as_ptr() as usize;
            for (at, line) in lines(run) {
                let Some((name, value)) = split_line(line) else {
                    continue;
                };
                let Ok(name) = HeaderName::from_bytes(name) else {
                    continue;
                };
                let start = base + at + value.start;
                let value = self.head.slice(start..start + value.len());
                if let Ok(value) = HeaderValue::from_maybe_shared(value) {
                    map.append(name, value);
                }
            }
        }
        let added = self.added.and_then(|l| {
            let (name, value) = split_line(l.as_bytes())?;
            let name = HeaderName::from_bytes(name).ok()?;
            Some((name, HeaderValue::from_static(&l[value])))
        });
        if let Some((name, value)) = added {
            map.append(name, value);
        }
        let mut last = None;
        for (name, value) in after {
            if let Some(n) = name {
                last = Some(n);
            }
            if let Some(n) = &last {
                map.append(n.clone(), value);
            }
        }
    }
}

/// The lines of a run (each without its CRLF), with their offsets.
fn lines(run: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = &run[at..];
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = (at, &rest[..end]);
        at += end + 2;
        Some(line)
    })
}

/// A line's name and where its value is in it (without the whitespace
/// around it).
fn split_line(line: &[u8]) -> Option<(&[u8], Range<usize>)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = colon + 1 + line[colon + 1..].iter().take_while(|b| ows(b)).count();
    let end = line.len() - line[start..].iter().rev().take_while(|b| ows(b)).count();
    Some((&line[..colon], start..end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nServer: up\r\nConnection: keep-alive\r\nX-A:  1 \r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\nx-a: 2\r\n\r\n";

    /// The lines of `HEAD` with `Connection` and `Keep-Alive` left out.
    fn raw() -> RawFields {
        let head = Bytes::from_static(HEAD);
        let at = |s: &str| {
            let i = HEAD
                .windows(s.len())
                .position(|w| w == s.as_bytes())
                .unwrap();
            i..i + s.len()
        };
        let mut r = RawFields::new(head, 17..HEAD.len() - 2).unwrap();
        r.set_length(2);
        assert!(r.skip(at("Connection: keep-alive\r\n")));
        assert!(r.skip(at("Keep-Alive: timeout=5\r\n")));
        r
    }

    #[test]
    fn writes_the_lines_kept_then_the_added_field() {
        let mut r = raw();
        r.add("via: 1.1 bellhop");
        let mut out = Vec::new();
        r.write(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Server: up\r\nX-A:  1 \r\nContent-Length: 2\r\nx-a: 2\r\nvia: 1.1 bellhop\r\n"
        );
        assert_eq!(r.length(), 2);
        assert!(!r.has_date());
    }

    #[test]
    fn attach_and_detach_keep_the_other_extensions() {
        let written = |r: &RawFields| {
            let mut out = Vec::new();
            r.write(&mut out);
            out
        };
        for _ in 0..2 {
            // (The second round's map is the one the first detach kept.)
            let mut ext = http::Extensions::new();
            raw().attach(&mut ext);
            let r = RawFields::detach(&mut ext).expect("attached");
            assert_eq!(written(&r), written(&raw()));
            assert!(ext.is_empty());
            assert!(RawFields::detach(&mut ext).is_none());
        }
        let mut ext = http::Extensions::new();
        ext.insert(7u8);
        raw().attach(&mut ext);
        assert!(RawFields::detach(&mut ext).is_some());
        assert_eq!(ext.get::<u8>(), Some(&7));
        assert!(RawFields::detach(&mut ext).is_none());
        assert_eq!(ext.len(), 1);
    }

    #[test]
    fn into_map_puts_the_fields_ahead_of_the_maps_own() {
        let mut r = raw();
        r.add("via: 1.1 bellhop");
        let mut map = HeaderMap::new();
        map.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        map.append("x-b", HeaderValue::from_static("1"));
        map.append("x-b", HeaderValue::from_static("2"));
        r.into_map(&mut map);
        let got: Vec<String> = map
            .iter()
            .map(|(n, v)| format!("{n}={}", v.to_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                "server=up",
                "x-a=1",
                "x-a=2",
                "content-length=2",
                "via=1.1 bellhop",
                "connection=close",
                "x-b=1",
                "x-b=2"
            ]
        );
    }

    #[test]
    fn at_most_four_lines_are_left_out_of_a_head_under_64_kib() {
        let mut r = RawFields::new(Bytes::from_static(HEAD), 17..HEAD.len() - 2).unwrap();
        for _ in 0..MAX_SKIPS {
            assert!(r.skip(17..17));
        }
        assert!(!r.skip(17..17));
        let big = Bytes::from(vec![b'x'; 65535]);
        assert!(RawFields::new(big.clone(), 17..100).is_some());
        let bigger = Bytes::from(vec![b'x'; 65536]);
        assert!(RawFields::new(bigger, 17..100).is_none());
        assert!(std::mem::size_of::<RawFields>() <= 96);
    }
}
