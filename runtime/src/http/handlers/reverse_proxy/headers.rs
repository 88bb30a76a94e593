//! Header rules between client and upstream, as Caddy applies them:
//! hop-by-hop fields (and those the `Connection` field names) are removed
//! both ways, an upgrade is re-announced, `TE: trailers` and the
//! `Trailer` announcement survive;
//! `X-Forwarded-For/Proto/Host` are set, extending the client's values
//! only when it is a trusted proxy; `Via` names bellhop both ways.

use crate::http::Cx;
use crate::util::IpNet;
use base64::Engine;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Hop-by-hop fields, never forwarded.
pub(super) static HOP: [HeaderName; 10] = [
    HeaderName::from_static("alt-svc"),
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Where `Connection`, `TE` and `Trailer` are in [`HOP`].
const HOP_CONNECTION: usize = 1;
const HOP_TE: usize = 6;
const HOP_TRAILER: usize = 7;

static XFF: HeaderName = HeaderName::from_static("x-forwarded-for");
static XFP: HeaderName = HeaderName::from_static("x-forwarded-proto");
static XFH: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The protocol a request asks to upgrade to (lowercase), if any.
pub fn upgrade_type(h: &HeaderMap) -> Option<String> {
    if !contains_token(h, &header::CONNECTION, "upgrade") {
        return None;
    }
    h.get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase())
}

/// Whether a comma-separated field `name` lists `token`, case-insensitively
/// (Go's `httpguts.HeaderValuesContainsToken`: a value's bytes are split
/// on commas, so one token with other bytes does not hide the rest).
pub fn contains_token(h: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    h.get_all(name)
        .iter()
        .any(|v| lists_token(v.as_bytes(), token))
}

/// Whether one comma-separated value lists `token`, as [`contains_token`]
/// reads each value.
pub fn lists_token(value: &[u8], token: &str) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Whether a request is WebSocket over HTTP/2: an extended CONNECT with
/// `:protocol websocket` (RFC 8441).
pub fn h2_websocket(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::CONNECT
        && parts.version == http::Version::HTTP_2
        && parts
            .extensions
            .get::<hyper::ext::Protocol>()
            .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"))
}

/// Makes an HTTP/1.1 WebSocket handshake of an RFC 8441 request's
/// headers (Caddy does the same): `Upgrade: websocket` and a fresh
/// `Sec-WebSocket-Key`; `Sec-WebSocket-Version`, `-Protocol` and
/// `-Extensions` pass as the client sent them.
pub fn to_h1_websocket(h: &mut HeaderMap) {
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&crate::util::random_u64().to_le_bytes());
    key[8..].copy_from_slice(&crate::util::random_u64().to_le_bytes());
    let key = base64::engine::general_purpose::STANDARD.encode(key);
    if let Ok(v) = HeaderValue::from_str(&key) {
        h.insert(header::SEC_WEBSOCKET_KEY, v);
    }
}

/// Removes the fields `Connection` names, then the hop-by-hop fields.
/// The `Trailer` announcement is kept (Go's proxy re-announces the
/// trailers it forwards; hyper sends only announced trailer fields).
pub fn strip_hop(h: &mut HeaderMap, keep_te_trailers: bool) {
    // Most messages carry none of them, or only `Connection: keep-alive`:
    // one pass over the names finds which are there.
    let mut present = 0u16;
    for k in h.keys() {
        if let Some(i) = hop_index(k) {
            present |= 1 << i;
        }
    }
    if present == 0 {
        return;
    }
    // Fields not there are not looked up (each lookup hashes the name).
    let has = |i: usize| present & (1 << i) != 0;
    let trailer = has(HOP_TRAILER)
        .then(|| h.remove(header::TRAILER))
        .flatten();
    if has(HOP_CONNECTION) {
        // The usual tokens need no list: `close` names no field, and
        // `Keep-Alive` is removed below anyway.
        let listed: Vec<HeaderName> = h
            .get_all(header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|t| !t.eq_ignore_ascii_case(b"close") && !t.eq_ignore_ascii_case(b"keep-alive"))
            .filter_map(|t| HeaderName::from_bytes(t).ok())
            .collect();
        for n in listed {
            h.remove(n);
        }
    }
    let te_trailers = keep_te_trailers && has(HOP_TE) && contains_token(h, &header::TE, "trailers");
    for (i, n) in HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            h.remove(n);
        }
    }
    if te_trailers {
        h.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(t) = trailer {
        h.insert(header::TRAILER, t);
    }
}

/// A copy of `h` with room for `extra` more fields. A clone has none: the
/// first field added to it grows its entries anew.
pub fn copy_with_room(h: &HeaderMap, extra: usize) -> HeaderMap {
    let mut copy = HeaderMap::with_capacity(h.len() + extra);
    for (k, v) in h {
        copy.append(k.clone(), v.clone());
    }
    copy
}

/// Room for what [`prepare_request`] adds: `Host`, `X-Forwarded-For`,
/// `-Proto`, `-Host` and `Via`, and a `Connection`.
pub const ADDED: usize = 6;

/// Where `k` is in [`HOP`], if it is hop-by-hop: one match on the name,
/// not ten comparisons.
fn hop_index(k: &HeaderName) -> Option<usize> {
    Some(match k.as_str() {
        "alt-svc" => 0,
        "connection" => HOP_CONNECTION,
        "proxy-connection" => 2,
        "keep-alive" => 3,
        "proxy-authenticate" => 4,
        "proxy-authorization" => 5,
        "te" => HOP_TE,
        "trailer" => HOP_TRAILER,
        "transfer-encoding" => 8,
        "upgrade" => 9,
        _ => return None,
    })
}

/// Prepares the upstream request's headers (once per request).
pub fn prepare_request(cx: &Cx<'_>, h: &mut HeaderMap, trusted: &[IpNet]) {
    let upgrade = upgrade_type(h);
    strip_hop(h, true);
    if let Some(u) = upgrade {
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        if let Ok(v) = HeaderValue::from_str(&u) {
            h.insert(header::UPGRADE, v);
        }
    } else if cx
        .parts
        .extensions
        .get::<crate::http::framing::FreshUpstream>()
        .is_some()
    {
        // not reused: a GET/HEAD with a body, or chunked (framing.rs)
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if !h.contains_key(header::HOST) {
        if let Ok(v) = HeaderValue::from_str(cx.hostport()) {
            h.insert(header::HOST, v);
        }
    }
    forwarded(cx, h, trusted);
    h.append(header::VIA, via(cx.parts.version));
}

/// `Via` for a message of `version`.
pub fn via(version: http::Version) -> HeaderValue {
    // Constants: `from_static` checks its bytes when called at run time.
    const V10: HeaderValue = HeaderValue::from_static("1.0 bellhop");
    const V11: HeaderValue = HeaderValue::from_static("1.1 bellhop");
    const V2: HeaderValue = HeaderValue::from_static("2.0 bellhop");
    const V3: HeaderValue = HeaderValue::from_static("3.0 bellhop");
    match version {
        http::Version::HTTP_10 => V10,
        http::Version::HTTP_2 => V2,
        http::Version::HTTP_3 => V3,
        _ => V11,
    }
}

/// The `Via` field line (no CRLF) of a response from an upstream that
/// spoke `version`.
pub fn via_line(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "via: 1.0 bellhop",
        http::Version::HTTP_2 => "via: 2.0 bellhop",
        http::Version::HTTP_3 => "via: 3.0 bellhop",
        _ => "via: 1.1 bellhop",
    }
}

fn forwarded(cx: &Cx<'_>, h: &mut HeaderMap, trusted_here: &[IpNet]) {
    // a unix-socket peer has no address: trusted only with
    // `trusted_proxies_unix`, and then nothing is appended to the chain
    let unix = cx.conn.remote.is_none();
    let remote = cx.remote_ip();
    let trusted =
        cx.server.trusts(cx.conn) || (!unix && trusted_here.iter().any(|n| n.contains(remote)));
    if unix && !trusted {
        h.remove(&XFF);
        h.remove(&XFP);
        h.remove(&XFH);
        return;
    }
    let prior: Vec<&str> = match trusted {
        true => h
            .get_all(&XFF)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect(),
        false => Vec::new(),
    };
    let has_prior = prior.iter().any(|p| !p.is_empty());
    let xff = match (has_prior, unix) {
        (true, false) => HeaderValue::from_str(&format!("{}, {remote}", prior.join(", "))).ok(),
        (true, true) => HeaderValue::from_str(&prior.join(", ")).ok(),
        (false, false) => cx.conn.remote_header(),
        (false, true) => None,
    };
    if let Some(v) = xff {
        h.insert(&XFF, v);
    }
    // The client's own values count only from a trusted proxy (and are
    // looked up only then).
    let last = |h: &HeaderMap, n: &HeaderName| {
        if !trusted {
            return None;
        }
        h.get_all(n)
            .iter()
            .next_back()
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let proto = last(h, &XFP).unwrap_or_else(|| HeaderValue::from_static(cx.conn.scheme()));
    h.insert(&XFP, proto);
    // The Host field (set above when the request had none) is the
    // request's host: share its bytes.
    let host = last(h, &XFH).or_else(|| h.get(header::HOST).cloned());
    if let Some(v) = host {
        h.insert(&XFH, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Via` value and line name the same version.
    #[test]
    fn via_value_and_line_agree() {
        use http::Version as V;
        for (v, want) in [
            (V::HTTP_10, "1.0"),
            (V::HTTP_11, "1.1"),
            (V::HTTP_2, "2.0"),
            (V::HTTP_3, "3.0"),
        ] {
            assert_eq!(via(v), format!("{want} bellhop").as_str());
            assert_eq!(via_line(v), format!("via: {want} bellhop"));
        }
    }

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            let name = HeaderName::from_bytes(k.as_bytes()).unwrap();
            h.append(name, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    /// As Go's `HeaderValuesContainsToken`: tokens are compared byte by
    /// byte, so a token with non-ASCII bytes does not hide the others in
    /// its value (they were skipped whole before).
    #[test]
    fn tokens_are_found_beside_non_ascii_ones() {
        let h = headers(&[
            ("connection", b"caf\xe9, Upgrade"),
            ("upgrade", b"WebSocket"),
        ]);
        assert_eq!(upgrade_type(&h).as_deref(), Some("websocket"));
        let h = headers(&[("te", b"x\xff ,\ttrailers ")]);
        assert!(contains_token(&h, &header::TE, "trailers"));
        let h = headers(&[("connection", b"keep-alive"), ("connection", b"close")]);
        assert!(contains_token(&h, &header::CONNECTION, "CLOSE"));
        assert!(!contains_token(&h, &header::CONNECTION, "upgrade"));
        let h = headers(&[("connection", b"upgraded, x-upgrade")]);
        assert_eq!(upgrade_type(&h), None);
    }

    #[test]
    fn hop_indices_name_their_fields() {
        for (i, n) in HOP.iter().enumerate() {
            assert_eq!(hop_index(n), Some(i), "{n}");
        }
        assert_eq!(HOP[HOP_CONNECTION], header::CONNECTION);
        assert_eq!(HOP[HOP_TE], header::TE);
        assert_eq!(HOP[HOP_TRAILER], header::TRAILER);
        assert_eq!(hop_index(&header::HOST), None);
        assert_eq!(hop_index(&HeaderName::from_static("x-te")), None);
    }

    /// What `Connection` lists goes, `TE: trailers` stays (upstream-bound)
    /// alone, and `Trailer` stays; a message with none of them is left
    /// as it was.
    #[test]
    fn strip_hop_removes_listed_and_hop_fields() {
        let mut h = headers(&[
            ("connection", b"keep-alive, x-a"),
            ("x-a", b"1"),
            ("te", b"gzip, trailers"),
            ("trailer", b"x-t"),
            ("keep-alive", b"timeout=5"),
            ("x-b", b"2"),
        ]);
        strip_hop(&mut h, true);
        let left: Vec<_> = h.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
        assert_eq!(
            left,
            [("x-b", &b"2"[..]), ("te", b"trailers"), ("trailer", b"x-t")]
        );
        let mut h = headers(&[("te", b"trailers"), ("upgrade", b"h2c")]);
        strip_hop(&mut h, false);
        assert!(h.is_empty());
        let mut h = headers(&[("host", b"a"), ("x-b", b"2")]);
        let before = h.clone();
        strip_hop(&mut h, true);
        assert_eq!(h, before);
    }
}
