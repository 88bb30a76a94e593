//! `handle_response`: routes chosen by the upstream's response (status
//! and header matchers), plus the two handlers that only make sense inside
//! them: `copy_response` (the upstream response, optionally with another
//! status) and `copy_response_headers` (its headers, filtered by
//! `include`/`exclude`). A route that writes no response falls through to
//! the handlers after `reverse_proxy` — `forward_auth`'s pattern.

use super::config::{ResponseHandlerConfig, ResponseMatcherConfig, WeakString};
use crate::error::{Error, HttpError};
use crate::http::matchers::header::HeaderCriteria;
use crate::http::replacer::Template;
use crate::http::routes::RouteList;
use crate::http::{Body, BoxFuture, Cx, Flow, Handler, Step};
use crate::registry::Provision;
use http::header::HeaderName;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Caddy's `ResponseMatcher`.
pub struct ResponseMatcher {
    status: Vec<u16>,
    headers: HeaderCriteria,
}

impl ResponseMatcher {
    /// Compiles a matcher.
    pub fn new(c: &ResponseMatcherConfig) -> Self {
        ResponseMatcher {
            status: c.status_code.clone(),
            headers: HeaderCriteria::new(&c.headers),
        }
    }

    /// Whether a response with `status` and `headers` matches.
    pub fn matches(&self, cx: &Cx<'_>, status: StatusCode, headers: &HeaderMap) -> bool {
        let code = status.as_u16();
        let status_ok = self.status.is_empty()
            || self
                .status
                .iter()
                .any(|&c| c == code || (c < 100 && code / 100 == c));
        status_ok && self.headers.matches(cx, headers, "")
    }
}

/// One provisioned `handle_response` entry.
pub struct ResponseHandler {
    matcher: Option<ResponseMatcher>,
    status: Option<Template>,
    pub routes: RouteList,
}

impl ResponseHandler {
    /// Provisions entry `c` at `path`.
    pub fn provision(
        c: &ResponseHandlerConfig,
        p: &mut Provision<'_>,
        path: &str,
    ) -> Result<Self, Error> {
        Ok(ResponseHandler {
            matcher: c.matcher.as_ref().map(ResponseMatcher::new),
            status: c
                .status_code
                .as_ref()
                .filter(|s| !s.0.is_empty())
                .map(|s| Template::parse(&s.0)),
            routes: RouteList::provision(&c.routes, p, &format!("{path}.routes"))?,
        })
    }

    /// Whether this entry applies to `resp`.
    pub fn matches(&self, cx: &Cx<'_>, resp: &http::Response<Body>) -> bool {
        self.matcher
            .as_ref()
            .is_none_or(|m| m.matches(cx, resp.status(), resp.headers()))
    }

    /// The `status_code` text, rendered, when the entry has one.
    pub fn status_str(&self, cx: &Cx<'_>) -> Option<String> {
        let s = self.status.as_ref()?.render(cx).trim().to_string();
        (!s.is_empty()).then_some(s)
    }

    /// The status to substitute, when the entry only changes the status.
    pub fn status(&self, cx: &Cx<'_>) -> Option<u16> {
        self.status_str(cx)?.parse().ok().filter(|c| *c != 0)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CopyConfig {
    status_code: Option<WeakString>,
}

struct CopyResponse {
    status: Option<Template>,
}

/// `http.handlers.copy_response`.
pub fn copy_response(
    v: &RawValue,
    p: &mut Provision<'_>,
    path: &str,
) -> Result<Box<dyn Handler>, Error> {
    let c: CopyConfig = p.decode_text(v, path)?;
    Ok(Box::new(CopyResponse {
        status: c
            .status_code
            .filter(|s| !s.0.is_empty())
            .map(|s| Template::parse(&s.0)),
    }))
}

fn outside(name: &str) -> HttpError {
    HttpError::internal(format!(
        "cannot use '{name}' outside of reverse_proxy's handle_response routes"
    ))
}

impl Handler for CopyResponse {
    fn handle(&self, _cx: &mut Cx<'_>) -> Step {
        Step::Async
    }

    fn handle_async<'s>(&'s self, cx: &'s mut Cx<'_>) -> BoxFuture<'s, Result<Flow, HttpError>> {
        Box::pin(async move {
            let Some(up) = cx.proxy.as_mut().and_then(|i| i.response.take()) else {
                return Err(outside("copy_response"));
            };
            let up = up.into_inner().unwrap_or_else(|e| e.into_inner());
            let mut resp = up.response;
            if let Some(t) = &self.status {
                let s = t.render(cx);
                let code: u16 = s
                    .trim()
                    .parse()
                    .map_err(|e| HttpError::internal(format!("copy_response status {s:?}: {e}")))?;
                *resp.status_mut() = StatusCode::from_u16(code).map_err(|e| {
                    HttpError::internal(format!("copy_response status {code}: {e}"))
                })?;
            }
            up.shared.finalize(cx, &mut resp).await;
            Ok(Flow::Respond(resp))
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CopyHeadersConfig {
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

struct CopyHeaders {
    include: Vec<HeaderName>,
    exclude: Vec<HeaderName>,
}

/// `http.handlers.copy_response_headers`.
pub fn copy_response_headers(
    v: &RawValue,
    p: &mut Provision<'_>,
    path: &str,
) -> Result<Box<dyn Handler>, Error> {
    let c: CopyHeadersConfig = p.decode_text(v, path)?;
    if !c.include.is_empty() && !c.exclude.is_empty() {
        return Err(Error::config(
            path,
            "cannot define both 'exclude' and 'include' lists at the same time",
        ));
    }
    let names = |l: &[String], f: &str| -> Result<Vec<HeaderName>, Error> {
        l.iter()
            .enumerate()
            .map(|(i, n)| {
                HeaderName::from_bytes(n.as_bytes())
                    .map_err(|e| Error::config(format!("{path}.{f}[{i}]"), e))
            })
            .collect()
    };
    Ok(Box::new(CopyHeaders {
        include: names(&c.include, "include")?,
        exclude: names(&c.exclude, "exclude")?,
    }))
}

impl Handler for CopyHeaders {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        let Some(info) = cx.proxy.as_deref() else {
            return Step::Fail(outside("copy_response_headers"));
        };
        if info.response.is_none() && info.status.is_none() {
            return Step::Fail(outside("copy_response_headers"));
        }
        let mut out = std::mem::take(&mut cx.resp_headers);
        for (name, value) in info.headers.iter() {
            if (!self.include.is_empty() && !self.include.contains(name))
                || self.exclude.contains(name)
            {
                continue;
            }
            out.append(name.clone(), value.clone());
        }
        cx.resp_headers = out;
        Step::Next
    }
}
