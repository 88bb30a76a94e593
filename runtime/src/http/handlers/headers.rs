//! `http.handlers.headers`: manipulates request and response headers.
//!
//! Request operations apply at once. Response operations apply at once to
//! the headers of the response-to-be (later handlers may override them),
//! unless `deferred` is set or `require` conditions are given: then they
//! apply to the final response, and only when it meets `require` (status
//! codes, where `2` means any 2xx, and header criteria).
//! Caddyfile: `header` and `request_header`.

use super::header_ops::{HeaderOps, HeaderOpsConfig, ReplacementConfig};
use crate::error::Error;
use crate::http::matchers::header::HeaderCriteria;
use crate::http::{Cx, Handler, Response, Step};
use crate::registry::Provision;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    request: Option<HeaderOpsConfig>,
    #[serde(default)]
    response: Option<RespConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RespConfig {
    #[serde(default)]
    add: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    set: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    delete: Vec<String>,
    #[serde(default)]
    replace: BTreeMap<String, Vec<ReplacementConfig>>,
    require: Option<RequireConfig>,
    #[serde(default)]
    deferred: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequireConfig {
    #[serde(default)]
    status_code: Vec<u16>,
    #[serde(default)]
    headers: BTreeMap<String, Option<Vec<String>>>,
}

/// Conditions on a response (Caddy's `ResponseMatcher`).
pub struct Require {
    status: Vec<u16>,
    headers: HeaderCriteria,
}

impl Require {
    fn matches(&self, cx: &Cx<'_>, r: &Response) -> bool {
        let code = r.status().as_u16();
        let status_ok = self.status.is_empty()
            || self
                .status
                .iter()
                .any(|&c| c == code || (c < 100 && code / 100 == c));
        status_ok && self.headers.matches(cx, r.headers(), "")
    }
}

struct Headers {
    request: HeaderOps,
    response: HeaderOps,
    require: Option<Require>,
    deferred: bool,
}

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode(v, path)?;
    let request = match &c.request {
        Some(r) => HeaderOps::provision(r, &format!("{path}.request"))?,
        None => HeaderOps::default(),
    };
    let (response, require, deferred) = match c.response {
        Some(r) => {
            let ops = HeaderOpsConfig {
                add: r.add,
                set: r.set,
                delete: r.delete,
                replace: r.replace,
            };
            let require = r.require.map(|q| Require {
                status: q.status_code,
                headers: HeaderCriteria::new(&q.headers),
            });
            (
                HeaderOps::provision(&ops, &format!("{path}.response"))?,
                require,
                r.deferred,
            )
        }
        None => (HeaderOps::default(), None, false),
    };
    Ok(Box::new(Headers {
        request,
        response,
        require,
        deferred,
    }))
}

impl Handler for Headers {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        if !self.request.is_empty() {
            let mut h = std::mem::take(&mut cx.parts.headers);
            self.request.apply(cx, &mut h);
            cx.parts.headers = h;
        }
        if self.response.is_empty() {
            return Step::Next;
        }
        if self.deferred || self.require.is_some() {
            return Step::Wrap;
        }
        let mut h = std::mem::take(&mut cx.resp_headers);
        self.response.apply(cx, &mut h);
        cx.resp_headers = h;
        Step::Next
    }

    fn on_response(&self, cx: &Cx<'_>, mut response: Response) -> Response {
        if self
            .require
            .as_ref()
            .is_none_or(|r| r.matches(cx, &response))
        {
            self.response.apply(cx, response.headers_mut());
        }
        response
    }
}
