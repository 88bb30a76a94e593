//! `http.handlers.request_body`: caps the request body at `max_size` bytes.
//! A declared `Content-Length` over the cap answers 413 at once; a body
//! that grows past it fails whoever reads it (reverse_proxy answers 413).
//! Caddyfile: `request_body { max_size <size> }`.

use crate::error::{Error, HttpError};
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    max_size: u64,
    read_timeout: Option<crate::config::CaddyDuration>,
    write_timeout: Option<crate::config::CaddyDuration>,
    set: Option<String>,
}

struct RequestBody {
    max_size: u64,
}

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode(v, path)?;
    for (field, set) in [
        ("read_timeout", c.read_timeout.is_some()),
        ("write_timeout", c.write_timeout.is_some()),
        ("set", c.set.is_some()),
    ] {
        if set {
            return Err(Error::config(
                format!("{path}.{field}"),
                "not implemented by bellhop yet",
            ));
        }
    }
    Ok(Box::new(RequestBody {
        max_size: c.max_size,
    }))
}

impl Handler for RequestBody {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        if self.max_size == 0 {
            return Step::Next;
        }
        let declared = cx
            .parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_size) {
            return Step::Fail(HttpError::downstream(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            ));
        }
        cx.body.limit(self.max_size);
        Step::Next
    }
}
