//! `http.handlers.headers`: manipulates request and response headers.
//!
//! Request operations apply at once. Response operations apply at once to
//! the headers of the response-to-be (later handlers may override them),
//! unless `deferred` is set or `require` conditions are given: then they
//! apply to the final response, and only when it meets `require` (status
//! codes, where `2` means any 2xx, and header criteria).
//! Caddyfile: `header` and `request_header`.

use super::header_ops::{HeaderOps, HeaderOpsConfig, ReplacementConfig};
use super::response_matcher::{ResponseMatcher, ResponseMatcherConfig};
use crate::error::Error;
use crate::http::{Cx, Handler, Response, Step};
use crate::registry::Provision;
use serde::Deserialize;
use serde_json::value::RawValue;
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
    require: Option<ResponseMatcherConfig>,
    #[serde(default)]
    deferred: bool,
}

struct Headers {
    request: HeaderOps,
    response: HeaderOps,
    require: Option<ResponseMatcher>,
    deferred: bool,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
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
            let require = match &r.require {
                Some(q) => Some(ResponseMatcher::provision(
                    q,
                    &format!("{path}.response.require"),
                )?),
                None => None,
            };
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
            .is_none_or(|r| r.matches(cx, response.status().as_u16(), response.headers()))
        {
            self.response.apply(cx, response.headers_mut());
        }
        response
    }
}
