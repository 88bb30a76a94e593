//! Preconditions and ranges of a file response, as Go's `http.ServeContent`
//! checks them for Caddy's `file_server`: `If-Match`, else
//! `If-Unmodified-Since` (412 when false); `If-None-Match`, else
//! `If-Modified-Since` (304 for GET and HEAD, 412 otherwise); `If-Range`
//! decides whether a `Range` applies. A file without a useful modification
//! time (the Unix epoch) has no date validators.

use crate::http::Cx;
use http::header::{self, HeaderMap};
use std::time::{SystemTime, UNIX_EPOCH};

/// What the preconditions decided.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Serve (the range too, when `Range` is honoured).
    Serve {
        honour_range: bool,
    },
    NotModified,
    PreconditionFailed,
}

#[derive(PartialEq)]
enum Cond {
    None,
    True,
    False,
}

/// A file's modification time in whole seconds, when useful (Caddy's
/// `usefulModTime`: not 0 or 1 s after the epoch).
pub fn useful_mtime(m: Option<SystemTime>) -> Option<u64> {
    let secs = m?.duration_since(UNIX_EPOCH).ok()?.as_secs();
    (secs > 1).then_some(secs)
}

/// Checks the request's preconditions against the file's validators.
pub fn check(cx: &Cx<'_>, etag: Option<&str>, mtime: Option<u64>) -> Decision {
    let h = &cx.parts.headers;
    let get_or_head = matches!(cx.parts.method, http::Method::GET | http::Method::HEAD);
    let mut c = if_match(h, etag);
    if c == Cond::None {
        c = date_cond(h, header::IF_UNMODIFIED_SINCE, mtime, |m, t| m <= t);
    }
    if c == Cond::False {
        return Decision::PreconditionFailed;
    }
    match if_none_match(h, etag) {
        Cond::False if get_or_head => return Decision::NotModified,
        Cond::False => return Decision::PreconditionFailed,
        Cond::None
            if get_or_head
                && date_cond(h, header::IF_MODIFIED_SINCE, mtime, |m, t| m > t) == Cond::False =>
        {
            return Decision::NotModified;
        }
        _ => {}
    }
    Decision::Serve {
        honour_range: if_range(h, etag, mtime) != Cond::False,
    }
}

fn text(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn tags(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|t| !t.is_empty())
}

fn strong_match(a: &str, b: &str) -> bool {
    a == b && !a.starts_with("W/")
}

fn weak_match(a: &str, b: &str) -> bool {
    a.trim_start_matches("W/") == b.trim_start_matches("W/")
}

fn if_match(h: &HeaderMap, etag: Option<&str>) -> Cond {
    let Some(list) = text(h, header::IF_MATCH) else {
        return Cond::None;
    };
    let hit = tags(list).any(|t| t == "*" || etag.is_some_and(|e| strong_match(t, e)));
    if hit {
        Cond::True
    } else {
        Cond::False
    }
}

fn if_none_match(h: &HeaderMap, etag: Option<&str>) -> Cond {
    let Some(list) = text(h, header::IF_NONE_MATCH) else {
        return Cond::None;
    };
    let hit = tags(list).any(|t| t == "*" || etag.is_some_and(|e| weak_match(t, e)));
    if hit {
        Cond::False
    } else {
        Cond::True
    }
}

/// A date precondition: `holds(mtime, date)` in whole seconds.
fn date_cond(
    h: &HeaderMap,
    name: header::HeaderName,
    mtime: Option<u64>,
    holds: fn(u64, u64) -> bool,
) -> Cond {
    let (Some(v), Some(m)) = (text(h, name), mtime) else {
        return Cond::None;
    };
    let Some(t) = httpdate::parse_http_date(v)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
    else {
        return Cond::None;
    };
    if holds(m, t.as_secs()) {
        Cond::True
    } else {
        Cond::False
    }
}

fn if_range(h: &HeaderMap, etag: Option<&str>, mtime: Option<u64>) -> Cond {
    let Some(v) = text(h, header::IF_RANGE) else {
        return Cond::None;
    };
    if v.starts_with('"') || v.starts_with("W/") {
        return match etag {
            Some(e) if strong_match(v, e) => Cond::True,
            _ => Cond::False,
        };
    }
    match date_cond(h, header::IF_RANGE, mtime, |m, t| m == t) {
        Cond::True => Cond::True,
        _ => Cond::False,
    }
}

/// A single byte range: `Some(Ok((first, last)))`, `Some(Err(()))` when
/// unsatisfiable, `None` to send everything (no, bad or multiple ranges).
pub fn range(cx: &Cx<'_>, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = text(&cx.parts.headers, header::RANGE)?.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.trim().split_once('-')?;
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return Some(Err(()));
        }
        (size.saturating_sub(n), size.checked_sub(1)?)
    } else {
        let first: u64 = a.parse().ok()?;
        let last = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>().ok()?.min(size.saturating_sub(1))
        };
        if first >= size || last < first {
            return Some(Err(()));
        }
        (first, last)
    };
    Some(Ok(r))
}
