//! `http.handlers.encode`: compresses responses with gzip or zstd.
//!
//! When the request accepts an encoding the handler offers (by q-value,
//! ties broken by `prefer`, by default zstd, br, gzip among those enabled,
//! then by the order the client listed them), the
//! handler wraps the eventual response, as Caddy's does:
//! - it is left alone when it already has a `Content-Encoding`, a
//!   `Cache-Control: no-transform`, a `Content-Range`, no body by its status
//!   (1xx, 204, 304 — a 304 gets `Vary: Accept-Encoding`), a known length not
//!   above `minimum_length` (default 512), or does not meet `match` (default:
//!   Caddy's list of text-like `Content-Type`s);
//! - otherwise `Content-Encoding` is set, `Vary: Accept-Encoding` added,
//!   `Content-Length` and `Accept-Ranges` removed, a strong `ETag` gets
//!   `-gzip`/`-zstd` before its closing quote (and the suffix is stripped
//!   from `If-None-Match` on the way in, so validators keep working), and
//!   the body is compressed: at once for a single buffer, as a stream
//!   otherwise (`encode/stream.rs`).
//!
//! A body whose length is unknown (a stream without an exact size) is
//! decided at its first piece, as Caddy decides at the first write: the
//! headers wait for it, and only a first piece longer than
//! `minimum_length` is compressed (`encode/first.rs`); a server-sent event
//! stream is decided at once. Caddyfile: `encode [<matcher>] <formats...>
//! { ... }`.

mod first;
mod stream;

use super::response_matcher::{ResponseMatcher, ResponseMatcherConfig};
use crate::error::Error;
use crate::http::{Body, Cx, Handler, Response, Step};
use crate::registry::Provision;
use http::header::{self, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use stream::{Codec, EncodedBody};

/// Caddy's default `minimum_length`.
const DEFAULT_MIN_LENGTH: u64 = 512;

/// Caddy's default `match`: text-like content types.
const DEFAULT_TYPES: &[&str] = &[
    "application/atom+xml*",
    "application/eot*",
    "application/font*",
    "application/geo+json*",
    "application/graphql+json*",
    "application/javascript*",
    "application/json*",
    "application/ld+json*",
    "application/manifest+json*",
    "application/opentype*",
    "application/otf*",
    "application/rss+xml*",
    "application/truetype*",
    "application/ttf*",
    "application/vnd.api+json*",
    "application/vnd.ms-fontobject*",
    "application/wasm*",
    "application/x-httpd-cgi*",
    "application/x-javascript*",
    "application/x-opentype*",
    "application/x-otf*",
    "application/x-perl*",
    "application/x-protobuf*",
    "application/x-ttf*",
    "application/xhtml+xml*",
    "application/xml*",
    "font/ttf*",
    "font/otf*",
    "image/svg+xml*",
    "image/vnd.microsoft.icon*",
    "image/x-icon*",
    "multipart/bag*",
    "multipart/mixed*",
    "text/*",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    encodings: Map<String, Value>,
    #[serde(default)]
    prefer: Vec<String>,
    #[serde(default)]
    minimum_length: i64,
    #[serde(rename = "match")]
    matcher: Option<ResponseMatcherConfig>,
}

struct Encode {
    codecs: Vec<Codec>,
    prefer: Vec<String>,
    min_length: u64,
    matcher: ResponseMatcher,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let mut codecs = Vec::new();
    for (name, conf) in &c.encodings {
        let at = format!("{path}.encodings.{name}");
        p.require(&format!("http.encoders.{name}"), &at)?;
        codecs.push(Codec::provision(name, conf, p, &at)?);
    }
    for (i, name) in c.prefer.iter().enumerate() {
        let at = format!("{path}.prefer[{i}]");
        if !codecs.iter().any(|k| k.name() == name) {
            return Err(Error::config(at, format!("encoding {name} not enabled")));
        }
        if c.prefer[..i].contains(name) {
            return Err(Error::config(
                at,
                format!("encoding {name} is duplicated in prefer"),
            ));
        }
    }
    let matcher = match &c.matcher {
        Some(m) => m.clone(),
        None => ResponseMatcherConfig {
            status_code: Vec::new(),
            headers: [(
                "Content-Type".to_string(),
                Some(DEFAULT_TYPES.iter().map(|s| s.to_string()).collect()),
            )]
            .into(),
        },
    };
    // Without `prefer`, Caddy's default order among the enabled encodings.
    let prefer = if c.prefer.is_empty() {
        ["zstd", "br", "gzip"]
            .into_iter()
            .filter(|n| codecs.iter().any(|k| k.name() == *n))
            .map(String::from)
            .collect()
    } else {
        c.prefer
    };
    Ok(Box::new(Encode {
        codecs,
        prefer,
        min_length: u64::try_from(c.minimum_length)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MIN_LENGTH),
        matcher: ResponseMatcher::provision(&matcher, &format!("{path}.match"))?,
    }))
}

impl Encode {
    /// The offered codec the client prefers most, if any.
    fn choose(&self, headers: &HeaderMap) -> Option<&Codec> {
        if no_transform(headers) {
            return None;
        }
        let websocket = headers.contains_key(header::SEC_WEBSOCKET_KEY);
        let mut best: Option<(f64, isize, &Codec)> = None;
        for v in headers.get_all(header::ACCEPT_ENCODING) {
            let Ok(v) = v.to_str() else { continue };
            for item in v.split(',') {
                let (name, q) = parse_item(item);
                if q < 0.00001 || websocket {
                    continue;
                }
                let found = self
                    .codecs
                    .iter()
                    .find(|c| c.name().eq_ignore_ascii_case(name));
                let Some(codec) = found else {
                    continue;
                };
                let order = self
                    .prefer
                    .iter()
                    .position(|p| p.eq_ignore_ascii_case(name))
                    .map_or(-1, |i| (self.prefer.len() - i) as isize);
                let better = match best {
                    None => true,
                    Some((bq, bo, _)) if (q - bq).abs() < 0.00001 => order > bo,
                    Some((bq, _, _)) => q > bq,
                };
                if better {
                    best = Some((q, order, codec));
                }
            }
        }
        best.map(|(_, _, c)| c)
    }

    /// Whether the response qualifies for encoding (headers untouched),
    /// its body being `len` bytes long.
    fn qualifies(&self, cx: &Cx<'_>, r: &Response, len: u64) -> bool {
        let h = r.headers();
        if h.contains_key(header::CONTENT_ENCODING)
            || h.contains_key(header::CONTENT_RANGE)
            || no_transform(h)
        {
            return false;
        }
        len > self.min_length && self.matcher.matches(cx, r.status().as_u16(), h)
    }

    /// The body's length if known now: its size, or a declared
    /// `Content-Length`; `None` for a stream that must be read to know.
    fn known_length(r: &Response) -> Option<u64> {
        let declared = || {
            r.headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        match r.body() {
            Body::Empty => Some(declared().unwrap_or(0)),
            Body::Full(b) => Some(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Stream(s) => http_body::Body::size_hint(s).exact().or_else(declared),
        }
    }

    /// The length that decides, reading the first piece of a stream of
    /// unknown length (which may also give it a sniffed `Content-Type`).
    async fn decisive_length(&self, r: &mut Response) -> u64 {
        if let Some(n) = Self::known_length(r) {
            return n;
        }
        if first::is_sse(r.headers().get(header::CONTENT_TYPE)) {
            return u64::MAX;
        }
        let body = std::mem::replace(r.body_mut(), Body::Empty);
        let (seen, body) = first::peek(body).await;
        *r.body_mut() = body;
        match seen {
            first::First::Data(d) => {
                let len = d.len() as u64;
                if len > self.min_length && !r.headers().contains_key(header::CONTENT_TYPE) {
                    let sniffed = HeaderValue::from_static(stream::sniff(&d));
                    r.headers_mut().insert(header::CONTENT_TYPE, sniffed);
                }
                len
            }
            first::First::Empty | first::First::Other => 0,
        }
    }

    async fn encode(&self, cx: &Cx<'_>, mut r: Response) -> Response {
        let Some(codec) = self.choose(&cx.parts.headers) else {
            return r;
        };
        let status = r.status().as_u16();
        if status == 304 {
            add_vary(r.headers_mut());
            return r;
        }
        if status < 200 || status == 204 {
            return r;
        }
        if !r.headers().contains_key(header::CONTENT_TYPE) {
            if let Body::Full(Some(b)) = r.body() {
                let sniffed = HeaderValue::from_static(stream::sniff(b));
                r.headers_mut().insert(header::CONTENT_TYPE, sniffed);
            }
        }
        let len = self.decisive_length(&mut r).await;
        if !self.qualifies(cx, &r, len) {
            return r;
        }
        let h = r.headers_mut();
        h.remove(header::CONTENT_LENGTH);
        h.remove(header::ACCEPT_RANGES);
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(codec.name()),
        );
        add_vary(h);
        suffix_etag(h, codec.name());
        if cx.parts.method == http::Method::HEAD {
            return r.map(|_| Body::Empty);
        }
        r.map(|body| match body {
            Body::Full(Some(b)) => codec.encode_all(&b),
            other => Body::stream(EncodedBody::new(other, codec.encoder())),
        })
    }
}

impl Handler for Encode {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        let Some(codec) = self.choose(&cx.parts.headers) else {
            return Step::Next;
        };
        strip_etag_suffix(&mut cx.parts.headers, codec.name());
        Step::Wrap
    }

    /// Asynchronous: a stream of unknown length is decided at its first
    /// piece.
    fn wraps_async(&self) -> bool {
        true
    }

    fn on_response_async<'s>(
        &'s self,
        cx: &'s mut Cx<'_>,
        response: Response,
    ) -> crate::http::BoxFuture<'s, Result<Response, crate::error::HttpError>> {
        Box::pin(async move { Ok(self.encode(cx, response).await) })
    }
}

/// `name` and q-value of one `Accept-Encoding` item.
fn parse_item(item: &str) -> (&str, f64) {
    let mut parts = item.split(';');
    let name = parts.next().unwrap_or("").trim();
    let q = parts
        .next()
        .map(str::trim)
        .and_then(|p| p.get(2..).filter(|_| p[..2].eq_ignore_ascii_case("q=")))
        .and_then(|q| q.parse::<f64>().ok())
        .filter(|q| (0.0..=1.0).contains(q))
        .unwrap_or(1.0);
    (name, q)
}

fn no_transform(h: &HeaderMap) -> bool {
    h.get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("no-transform"))
}

fn add_vary(h: &mut HeaderMap) {
    let present = h
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding"));
    if !present {
        h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// `"abc"` → `"abc-gzip"` for a strong ETag.
fn suffix_etag(h: &mut HeaderMap, enc: &str) {
    let Some(tag) = h.get(header::ETAG).and_then(|v| v.to_str().ok()) else {
        return;
    };
    if tag.starts_with("W/") {
        return;
    }
    let tagged = format!("{}-{enc}\"", tag.strip_suffix('"').unwrap_or(tag));
    if let Ok(v) = HeaderValue::from_str(&tagged) {
        h.insert(header::ETAG, v);
    }
}

/// Undoes [`suffix_etag`] on `If-None-Match`, for handlers further in.
fn strip_etag_suffix(h: &mut HeaderMap, enc: &str) {
    let Some(tag) = h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return;
    };
    if tag.starts_with("W/") {
        return;
    }
    let Some(base) = tag
        .strip_suffix('"')
        .and_then(|t| t.strip_suffix(enc))
        .and_then(|t| t.strip_suffix('-'))
    else {
        return;
    };
    if let Ok(v) = HeaderValue::from_str(&format!("{base}\"")) {
        h.insert(header::IF_NONE_MATCH, v);
    }
}
