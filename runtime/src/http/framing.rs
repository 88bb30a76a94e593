//! Checks on an HTTP/1 request head that hyper accepts but a proxy must
//! not (RFC 9112): a request whose framing or target is ambiguous is
//! refused before any handler sees it, and its connection is closed, so
//! nothing of it can reach an upstream or be read as a second request.
//!
//! - HTTP/1.1 without `Host`, or any request with more than one `Host`
//!   line: 400 (§3.2).
//! - `Transfer-Encoding` other than a single `chunked` (a coding applied
//!   twice, any other coding, HTTP/1.0 with one): 501 (§6.1, §7).
//! - `Transfer-Encoding` together with `Content-Length`: 400 (§6.3: a
//!   request smuggling vector; refusing is the safe reading).
//! - an encoded NUL (`%00`) anywhere in the target: 400, as nginx and
//!   Caddy answer.
//! - a header named like a framing header but spelled otherwise
//!   (`Transfer_Encoding`, `Content---Length`): 400, since another hop may
//!   read it as the real one.
//!
//! A GET or HEAD with a body (hyper frames it) is served, but its answer
//! closes the client connection and it is marked [`FreshUpstream`]: its
//! upstream connection is not reused, so a hop that ignores such a body
//! cannot take it for a second request.
//!
//! Every chunked HTTP/1 request is marked [`FreshUpstream`] too: hyper
//! reads `Transfer-Encoding` over `Content-Length` and removes the length
//! before bellhop sees the head (closing the client connection after the
//! answer itself), so a chunked request may have come with a length, and
//! the upstream connection it went out on is not reused either.

use http::header::{HeaderName, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{Method, StatusCode, Version};

/// Request extension: do not reuse the upstream connection the request
/// goes out on (it is sent with `Connection: close`).
#[derive(Debug, Clone, Copy)]
pub struct FreshUpstream;

/// What bellhop does with a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answer with this status and close.
    Refuse(StatusCode),
    /// Serve it; `close_after` (close the client connection after the
    /// answer) for a GET or HEAD with a body; `fresh_upstream` for those
    /// and for every chunked request.
    Serve {
        close_after: bool,
        fresh_upstream: bool,
    },
}

/// What [`check`] reads of a head's fields, noted one field at a time:
/// by bellhop's own HTTP/1.1 parser as it builds the map (with what it
/// keeps of each name across a connection's requests), or by one pass
/// over the map ([`Facts::of`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    hosts: u32,
    te: bool,
    cl: bool,
    cl_nonzero: bool,
    lookalike: bool,
    /// A name holds `_` or `.` (see `alias_headers`); noted only by the
    /// parser.
    pub separator: bool,
}

impl Facts {
    /// The facts of `h`'s fields (no lookups by name: this runs for
    /// every HTTP/1 request hyper parses).
    pub fn of(h: &http::HeaderMap) -> Self {
        let mut f = Facts::default();
        for (name, value) in h {
            if !f.note(name, value.as_bytes()) && lookalike(name.as_str()) {
                f.lookalike = true;
            }
        }
        f
    }

    /// Notes the field `name: value`; `false` when it is none of `Host`,
    /// `Transfer-Encoding` and `Content-Length`, whose name the caller
    /// checks ([`lookalike`], [`Facts::note_name`]).
    pub fn note(&mut self, name: &HeaderName, value: &[u8]) -> bool {
        if name == HOST {
            self.hosts += 1;
        } else if name == TRANSFER_ENCODING {
            self.te = true;
        } else if name == CONTENT_LENGTH {
            self.cl = true;
            self.cl_nonzero |= value != b"0";
        } else {
            return false;
        }
        true
    }

    /// Notes what is known of another field's name: a [`lookalike`], and
    /// whether it holds a separator.
    pub fn note_name(&mut self, lookalike: bool, separator: bool) {
        self.lookalike |= lookalike;
        self.separator |= separator;
    }
}

/// Checks a request head, with the `facts` of its fields when its parser
/// noted them (else one pass over its header lines).
pub fn check(parts: &http::request::Parts, facts: Option<&Facts>) -> Verdict {
    let serve = Verdict::Serve {
        close_after: false,
        fresh_upstream: false,
    };
    if parts.version >= Version::HTTP_2 {
        return serve;
    }
    let f = match facts {
        Some(f) => *f,
        None => Facts::of(&parts.headers),
    };
    if f.lookalike {
        return Verdict::Refuse(StatusCode::BAD_REQUEST);
    }
    let (hosts, te, cl) = (f.hosts, f.te, f.cl);
    if hosts > 1 || (hosts == 0 && parts.version == Version::HTTP_11) {
        return Verdict::Refuse(StatusCode::BAD_REQUEST);
    }
    if te {
        if !single_chunked(&parts.headers) || parts.version < Version::HTTP_11 {
            return Verdict::Refuse(StatusCode::NOT_IMPLEMENTED);
        }
        if cl {
            return Verdict::Refuse(StatusCode::BAD_REQUEST);
        }
    }
    if has_encoded_nul(parts.uri.path_and_query().map_or("", |p| p.as_str())) {
        return Verdict::Refuse(StatusCode::BAD_REQUEST);
    }
    let bodyless = parts.method == Method::GET || parts.method == Method::HEAD;
    let close_after = bodyless && (te || f.cl_nonzero);
    Verdict::Serve {
        close_after,
        fresh_upstream: close_after || te,
    }
}

/// Why a request head is refused, if it is.
pub fn refuse(parts: &http::request::Parts) -> Option<StatusCode> {
    match check(parts, None) {
        Verdict::Refuse(status) => Some(status),
        Verdict::Serve { .. } => None,
    }
}

/// A (lowercase) header name that reads as `transfer-encoding` or
/// `content-length` once punctuation is ignored, but is not that name.
pub fn lookalike(name: &str) -> bool {
    if !(13..=40).contains(&name.len()) || !matches!(name.as_bytes()[0], b't' | b'c') {
        return false;
    }
    if name == "transfer-encoding" || name == "content-length" {
        return false;
    }
    let letters = name.bytes().filter(u8::is_ascii_alphanumeric);
    letters.clone().eq(b"transferencoding".iter().copied())
        || letters.eq(b"contentlength".iter().copied())
}

/// Whether all `Transfer-Encoding` lines together name exactly one
/// coding, `chunked`.
fn single_chunked(h: &http::HeaderMap) -> bool {
    let mut codings = h
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(|c| c.trim_ascii())
        .filter(|c| !c.is_empty());
    matches!(
        (codings.next(), codings.next()),
        (Some(c), None) if c.eq_ignore_ascii_case(b"chunked")
    )
}

fn has_encoded_nul(target: &str) -> bool {
    target
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &[(&str, &str)], version: Version, target: &str) -> http::request::Parts {
        let mut b = http::Request::builder().uri(target).version(version);
        for (k, v) in raw {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn codings() {
        let te = |vals: &[&str]| {
            let pairs: Vec<(&str, &str)> = vals.iter().map(|v| ("transfer-encoding", *v)).collect();
            let mut all = vec![("host", "a")];
            all.extend(pairs);
            refuse(&head(&all, Version::HTTP_11, "/"))
        };
        assert_eq!(te(&["chunked"]), None);
        assert_eq!(te(&["Chunked "]), None);
        assert_eq!(te(&["chunked, chunked"]), Some(StatusCode::NOT_IMPLEMENTED));
        assert_eq!(
            te(&["chunked", "chunked"]),
            Some(StatusCode::NOT_IMPLEMENTED)
        );
        assert_eq!(te(&["gzip, chunked"]), Some(StatusCode::NOT_IMPLEMENTED));
        assert_eq!(te(&[""]), Some(StatusCode::NOT_IMPLEMENTED));
        assert_eq!(te(&["chunked,"]), None);
    }

    #[test]
    fn chunked_requests_get_a_fresh_upstream() {
        let verdict = |method: Method, h: &[(&str, &str)]| {
            let mut p = head(h, Version::HTTP_11, "/");
            p.method = method;
            check(&p, None)
        };
        let chunked = [("host", "a"), ("transfer-encoding", "chunked")];
        let length = [("host", "a"), ("content-length", "3")];
        let serve = |close_after, fresh_upstream| Verdict::Serve {
            close_after,
            fresh_upstream,
        };
        assert_eq!(verdict(Method::POST, &chunked), serve(false, true));
        assert_eq!(verdict(Method::POST, &length), serve(false, false));
        assert_eq!(verdict(Method::GET, &chunked), serve(true, true));
        assert_eq!(verdict(Method::GET, &length), serve(true, true));
        assert_eq!(verdict(Method::GET, &[("host", "a")]), serve(false, false));
    }

    #[test]
    fn hosts_and_targets() {
        assert_eq!(
            refuse(&head(&[], Version::HTTP_11, "/")),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(refuse(&head(&[], Version::HTTP_10, "/")), None);
        assert_eq!(refuse(&head(&[], Version::HTTP_2, "/")), None);
        let ok = [("host", "a")];
        assert_eq!(refuse(&head(&ok, Version::HTTP_11, "/a%2500")), None);
        assert_eq!(
            refuse(&head(&ok, Version::HTTP_11, "/a%00")),
            Some(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn framing_lookalikes() {
        for n in [
            "transfer_encoding",
            "transfer---encoding",
            "content_length",
            "content.length",
        ] {
            assert!(lookalike(n), "{n}");
        }
        for n in [
            "transfer-encoding",
            "content-length",
            "content-type",
            "te",
            "x-content-length",
        ] {
            assert!(!lookalike(n), "{n}");
        }
    }
}
