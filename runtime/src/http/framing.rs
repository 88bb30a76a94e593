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
//! A GET or HEAD with a body (hyper frames it) is served, but marked
//! [`CloseAfter`]: its answer closes the client connection and its
//! upstream connection is not reused, so a hop that ignores such a body
//! cannot take it for a second request.

use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{Method, StatusCode, Version};

/// Request extension: close the client connection after the answer and
/// do not reuse the upstream connection the request went out on.
#[derive(Debug, Clone, Copy)]
pub struct CloseAfter;

/// Why a request head is refused, if it is.
pub fn refuse(parts: &http::request::Parts) -> Option<StatusCode> {
    if parts.version >= Version::HTTP_2 {
        return None;
    }
    let h = &parts.headers;
    let mut hosts = h.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (_, Some(_)) => return Some(StatusCode::BAD_REQUEST),
        (None, _) if parts.version == Version::HTTP_11 => return Some(StatusCode::BAD_REQUEST),
        _ => {}
    }
    if h.contains_key(TRANSFER_ENCODING) {
        if !single_chunked(h) || parts.version < Version::HTTP_11 {
            return Some(StatusCode::NOT_IMPLEMENTED);
        }
        if h.contains_key(CONTENT_LENGTH) {
            return Some(StatusCode::BAD_REQUEST);
        }
    }
    if has_encoded_nul(parts.uri.path_and_query().map_or("", |p| p.as_str())) {
        return Some(StatusCode::BAD_REQUEST);
    }
    if h.keys().any(|n| lookalike(n.as_str())) {
        return Some(StatusCode::BAD_REQUEST);
    }
    None
}

/// Whether a GET or HEAD carries a body (see [`CloseAfter`]).
pub fn bodyless_method_with_body(parts: &http::request::Parts) -> bool {
    (parts.method == Method::GET || parts.method == Method::HEAD)
        && (parts.headers.contains_key(TRANSFER_ENCODING)
            || parts
                .headers
                .get(CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0"))
}

/// A (lowercase) header name that reads as `transfer-encoding` or
/// `content-length` once punctuation is ignored, but is not that name.
fn lookalike(name: &str) -> bool {
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
