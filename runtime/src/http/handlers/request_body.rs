//! `http.handlers.request_body`: manipulates the request body.
//!
//! - `max_size` caps the body: a declared `Content-Length` over the cap
//!   answers 413 at once; a body that grows past it fails whoever reads it
//!   (reverse_proxy answers 413).
//! - `set` replaces the body with a string (placeholders expanded, unknown
//!   ones empty) and sets `Content-Length` to its length.
//! - `read_timeout`: the rest of the body must arrive within this time from
//!   when the handler runs (Go's `SetReadDeadline`); a later read fails.
//! - `write_timeout`: the response must be written within this time from
//!   the start of the request (Go's `SetWriteDeadline`); the response body
//!   is cut off, and the connection closed, when the deadline passes.
//!
//! Caddyfile: `request_body { max_size <size>; set <body>; read_timeout
//! <duration>; write_timeout <duration> }`.

use crate::config::CaddyDuration;
use crate::error::{Error, HttpError};
use crate::http::body::Deadline;
use crate::http::replacer::Template;
use crate::http::{Body, Cx, Handler, ReqBody, Response, Step};
use crate::registry::Provision;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    max_size: u64,
    read_timeout: Option<CaddyDuration>,
    write_timeout: Option<CaddyDuration>,
    set: Option<String>,
}

struct RequestBody {
    max_size: u64,
    set: Option<Template>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let positive = |d: Option<CaddyDuration>| d.map(|d| d.0).filter(|d| !d.is_zero());
    Ok(Box::new(RequestBody {
        max_size: c.max_size,
        set: c.set.filter(|s| !s.is_empty()).map(|s| Template::parse(&s)),
        read_timeout: positive(c.read_timeout),
        write_timeout: positive(c.write_timeout),
    }))
}

impl RequestBody {
    /// Replaces the body with the expanded `set` string.
    fn replace_body(&self, set: &Template, cx: &mut Cx<'_>) {
        let body = Bytes::from(set.render(cx).into_owned());
        let headers = &mut cx.parts.headers;
        headers.remove(TRANSFER_ENCODING);
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        cx.body = ReqBody::full(body);
    }
}

impl Handler for RequestBody {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        if let Some(set) = &self.set {
            self.replace_body(set, cx);
        }
        if let Some(t) = self.read_timeout {
            cx.body.set_read_timeout(t);
        }
        if self.max_size > 0 {
            let declared = cx
                .parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > self.max_size) {
                return Step::Fail(HttpError::downstream(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large",
                ));
            }
            cx.body.limit(self.max_size);
        }
        if self.write_timeout.is_some() {
            return Step::Wrap;
        }
        Step::Next
    }

    fn on_response(&self, cx: &Cx<'_>, response: Response) -> Response {
        let Some(t) = self.write_timeout else {
            return response;
        };
        let deadline = Instant::from_std(cx.start) + t;
        response.map(|body| Body::stream(Deadline::new(body, deadline, "request_body")))
    }
}
