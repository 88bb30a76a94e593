//! The upstream request's fields written straight from the client's, with
//! no header map of their own: what [`prepare_request`] makes of them, in
//! the bytes our HTTP/1.1 exchange sends. A proxied request otherwise
//! copies the client's fields into a new map, changes it, writes it and
//! drops it.
//!
//! It covers the common request: from a client that is not a trusted
//! proxy, over TCP, asking no upgrade, whose `Connection` names no field
//! to remove, with no `header_up` operation. Anything else is prepared in
//! a map as before (see [`direct_ok`]). The fields are the map's, in
//! another order: the client's (less the hop-by-hop ones and its
//! `X-Forwarded-*`), then `TE: trailers`, `Host` when the client sent none
//! (HTTP/2) or the transport sets it (TLS), `Connection: close`,
//! `X-Forwarded-For`, `-Proto`, `-Host`, `Via`, `Accept-Encoding: gzip`
//! (`compression`) and `Content-Length`.
//!
//! [`prepare_request`]: super::headers::prepare_request

use super::headers::{h2_websocket, lists_token, via};
use crate::http::Cx;
use crate::util::IpNet;
use http::header::{self, HeaderMap, HeaderValue};
use http::Method;

/// Whether `cx`'s request can go upstream as [`Direct`] fields.
pub fn direct_ok(cx: &Cx<'_>, trusted: &[IpNet]) -> bool {
    if cx.conn.remote.is_none() || h2_websocket(&cx.parts) {
        return false;
    }
    let remote = cx.remote_ip();
    if cx.server.trusts(cx.conn) || trusted.iter().any(|n| n.contains(remote)) {
        return false;
    }
    // `close` and `keep-alive` name no field to remove; anything else
    // (an upgrade, a listed field) is for the map.
    cx.parts
        .headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .all(|t| {
            t.is_empty()
                || t.eq_ignore_ascii_case(b"close")
                || t.eq_ignore_ascii_case(b"keep-alive")
        })
}

/// What a header field of the client's request is to the upstream's.
enum Kind {
    /// Written as it came.
    Pass,
    /// Hop-by-hop, or replaced: not written.
    Skip,
    Te,
    Host,
    AcceptEncoding,
    Range,
    ContentLength,
}

fn kind(name: &str) -> Kind {
    match name {
        "host" => Kind::Host,
        "accept-encoding" => Kind::AcceptEncoding,
        "range" => Kind::Range,
        "content-length" => Kind::ContentLength,
        "te" => Kind::Te,
        // `Trailer` stays announced (as `strip_hop` keeps it).
        "alt-svc"
        | "connection"
        | "proxy-connection"
        | "keep-alive"
        | "proxy-authenticate"
        | "proxy-authorization"
        | "transfer-encoding"
        | "upgrade"
        | "x-forwarded-for"
        | "x-forwarded-proto"
        | "x-forwarded-host" => Kind::Skip,
        _ => Kind::Pass,
    }
}

/// The upstream request's fields, made from the client's request as they
/// are written (see the module's doc).
pub struct Direct<'a> {
    client: &'a HeaderMap,
    /// The request's host, when it sent no `Host` field.
    hostport: &'a str,
    /// The client's `Host`.
    host: Option<&'a HeaderValue>,
    /// `Host` as the transport sets it (a TLS upstream's address).
    pub host_override: Option<HeaderValue>,
    xff: Option<HeaderValue>,
    scheme: &'static str,
    via: HeaderValue,
    te_trailers: bool,
    /// `Connection: close`: an upstream connection not to be reused.
    pub close: bool,
    /// Whether `Accept-Encoding: gzip` may be asked for (no
    /// `Accept-Encoding`, no `Range`, not HEAD): see `request_gzip`.
    gzip_allowed: bool,
    /// It is asked for (`compression`).
    pub gzip: bool,
}

impl<'a> Direct<'a> {
    /// The fields for `cx`'s request (one that [`direct_ok`] took).
    pub fn new(cx: &'a Cx<'_>) -> Self {
        let client = &cx.parts.headers;
        let (mut host, mut te_trailers, mut coding) = (None, false, false);
        for (k, v) in client {
            match kind(k.as_str()) {
                Kind::Host if host.is_none() => host = Some(v),
                Kind::Te => te_trailers |= lists_token(v.as_bytes(), "trailers"),
                Kind::AcceptEncoding | Kind::Range => coding = true,
                _ => {}
            }
        }
        let fresh = cx
            .parts
            .extensions
            .get::<crate::http::framing::FreshUpstream>()
            .is_some();
        Direct {
            client,
            hostport: if host.is_none() { cx.hostport() } else { "" },
            host,
            host_override: None,
            xff: cx.conn.remote_header(),
            scheme: cx.conn.scheme(),
            via: via(cx.parts.version),
            te_trailers,
            close: fresh,
            gzip_allowed: !coding && cx.parts.method != Method::HEAD,
            gzip: false,
        }
    }

    /// Asks for gzip when `compression` is on and the request allows it;
    /// whether it did.
    pub fn ask_gzip(&mut self, compression: bool) -> bool {
        self.gzip = compression && self.gzip_allowed;
        self.gzip
    }

    /// Whether the client's request has the field `name`.
    pub fn has(&self, name: &header::HeaderName) -> bool {
        self.client.contains_key(name)
    }

    /// The client's fields.
    pub fn client(&self) -> &HeaderMap {
        self.client
    }
}

/// The fields of a request head, as our HTTP/1.1 exchange writes them.
pub trait HeadFields: Sync {
    /// Writes the fields, each ending in CRLF; `len`: the length of a
    /// non-empty body, whose `Content-Length` the exchange writes itself.
    fn write_fields(&self, w: &mut Vec<u8>, len: usize);
}

#[inline(always)]
fn field(w: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    w.extend_from_slice(name);
    w.extend_from_slice(b": ");
    w.extend_from_slice(value);
    w.extend_from_slice(b"\r\n");
}

impl HeadFields for HeaderMap {
    fn write_fields(&self, w: &mut Vec<u8>, len: usize) {
        for (k, v) in self {
            if k == header::TRANSFER_ENCODING || (len > 0 && k == header::CONTENT_LENGTH) {
                continue;
            }
            field(w, k.as_str().as_bytes(), v.as_bytes());
        }
    }
}

impl HeadFields for Direct<'_> {
    fn write_fields(&self, w: &mut Vec<u8>, len: usize) {
        for (k, v) in self.client {
            match kind(k.as_str()) {
                Kind::Skip | Kind::Te => continue,
                Kind::Host if self.host_override.is_some() => continue,
                Kind::ContentLength if len > 0 => continue,
                _ => field(w, k.as_str().as_bytes(), v.as_bytes()),
            }
        }
        if self.te_trailers {
            field(w, b"te", b"trailers");
        }
        if let Some(h) = &self.host_override {
            field(w, b"host", h.as_bytes());
        } else if self.host.is_none() {
            field(w, b"host", self.hostport.as_bytes());
        }
        if self.close {
            field(w, b"connection", b"close");
        }
        if let Some(v) = &self.xff {
            field(w, b"x-forwarded-for", v.as_bytes());
        }
        field(w, b"x-forwarded-proto", self.scheme.as_bytes());
        let host = self.host.map_or(self.hostport.as_bytes(), |h| h.as_bytes());
        field(w, b"x-forwarded-host", host);
        field(w, b"via", self.via.as_bytes());
        if self.gzip {
            field(w, b"accept-encoding", b"gzip");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::headers::HOP;
    use super::*;

    /// Every hop-by-hop field of `headers::HOP` is left out (`TE` to be
    /// written as `TE: trailers` when it lists them), but `Trailer`.
    #[test]
    fn kinds_agree_with_the_hop_by_hop_fields() {
        for n in &HOP {
            let k = kind(n.as_str());
            match n.as_str() {
                "trailer" => assert!(matches!(k, Kind::Pass)),
                "te" => assert!(matches!(k, Kind::Te)),
                other => assert!(matches!(k, Kind::Skip), "{other}"),
            }
        }
        for n in ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"] {
            assert!(matches!(kind(n), Kind::Skip), "{n}");
        }
        assert!(matches!(kind("x-forwarded-port"), Kind::Pass));
    }
}
