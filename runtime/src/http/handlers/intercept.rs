//! `http.handlers.intercept`: acts on the response the handlers after it
//! write, as Caddy's. The first `handle_response` entry whose response
//! matcher fits (none: any response) takes it: with `status_code` alone
//! the status is replaced and the body kept; with routes, those run with
//! `{http.intercept.status_code}` and `{http.intercept.header.*}` set, and
//! what they write replaces the response (the original's headers kept
//! where theirs lack them); when they write nothing the original goes out.
//! An error of the later handlers is no response: it goes to the error
//! routes untouched. Caddyfile: `intercept [<matcher>] { … }`.
//!
//! The interpreter runs the routes (`routes::apply_async_hooks`, which
//! holds the handler for the request's lifetime): `on_response_async`
//! marks the response with [`Intercepted`].

use super::reverse_proxy::{ResponseHandler, ResponseHandlerConfig};
use crate::error::{Error, HttpError};
use crate::http::{BoxFuture, Cx, Handler, Response, Step};
use crate::registry::Provision;
use http::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    handle_response: Vec<ResponseHandlerConfig>,
}

struct Intercept {
    handlers: Vec<ResponseHandler>,
}

/// On a response: the index of the `handle_response` routes to run on it.
#[derive(Clone, Copy, Debug)]
pub struct Intercepted(pub usize);

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let mut handlers = Vec::with_capacity(c.handle_response.len());
    for (i, rh) in c.handle_response.iter().enumerate() {
        handlers.push(ResponseHandler::provision(
            rh,
            p,
            &format!("{path}.handle_response[{i}]"),
        )?);
    }
    Ok(Box::new(Intercept { handlers }))
}

impl Handler for Intercept {
    fn handle(&self, _cx: &mut Cx<'_>) -> Step {
        Step::Wrap
    }

    fn wraps_async(&self) -> bool {
        true
    }

    fn on_response_async<'s>(
        &'s self,
        cx: &'s mut Cx<'_>,
        mut response: Response,
    ) -> BoxFuture<'s, Result<Response, HttpError>> {
        Box::pin(async move {
            let Some((i, rh)) = self
                .handlers
                .iter()
                .enumerate()
                .find(|(_, rh)| rh.matches(cx, &response))
            else {
                return Ok(response);
            };
            publish(cx, &response);
            if let Some(code) = rh.status_str(cx) {
                *response.status_mut() = code
                    .parse::<u16>()
                    .ok()
                    .and_then(|c| StatusCode::from_u16(c).ok())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return Ok(response);
            }
            response.extensions_mut().insert(Intercepted(i));
            Ok(response)
        })
    }

    fn indexed_routes(&self, index: usize) -> Option<&crate::http::routes::RouteList> {
        self.handlers.get(index).map(|h| &h.routes)
    }
}

/// `{http.intercept.status_code}` and `{http.intercept.header.NAME}`,
/// names in Go's canonical form, as Caddy sets them: the response's
/// headers and those handlers set before it existed (`header`).
fn publish(cx: &mut Cx<'_>, response: &Response) {
    cx.repl_vars.push((
        "http.intercept.status_code".into(),
        response.status().as_u16().to_string(),
    ));
    let mut vars = Vec::new();
    for headers in [response.headers(), &cx.resp_headers] {
        for name in headers.keys() {
            let mut joined = String::new();
            crate::http::replacer::join_header(headers, name, &mut joined);
            let key = format!("http.intercept.header.{}", canonical(name.as_str()));
            vars.push((key.into(), joined));
        }
    }
    cx.repl_vars.extend(vars);
}

/// Go's `textproto.CanonicalMIMEHeaderKey` of a lowercase name.
fn canonical(name: &str) -> String {
    let mut up = true;
    name.chars()
        .map(|c| {
            let out = if up { c.to_ascii_uppercase() } else { c };
            up = c == '-';
            out
        })
        .collect()
}

/// Merges the response the intercepting routes wrote (`Some`) with the
/// intercepted one: theirs wins, with the original's headers where theirs
/// lack them (not its framing); nothing written sends the original.
pub fn merge(intercepted: Response, written: Option<Response>) -> Response {
    let Some(mut written) = written else {
        return intercepted;
    };
    for name in intercepted.headers().keys() {
        let framing = matches!(
            *name,
            http::header::CONTENT_LENGTH
                | http::header::CONTENT_ENCODING
                | http::header::TRANSFER_ENCODING
                | http::header::CONTENT_RANGE
        );
        if framing || written.headers().contains_key(name) {
            continue;
        }
        for value in intercepted.headers().get_all(name) {
            written.headers_mut().append(name, value.clone());
        }
    }
    written
}
