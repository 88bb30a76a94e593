//! `http.handlers.static_response`: answers with a fixed status, headers and
//! body, all of which may hold placeholders.
//!
//! Caddyfile: `respond [<matcher>] <status>|<body> [<status>] { body <text>; close }`
//! and `abort`. `close` closes the connection after the response; `abort`
//! closes it without any response. In error routes, the default status is
//! the error's. A body that looks like JSON gets `application/json`,
//! another body `text/plain; charset=utf-8`, unless headers set one.

use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{Body, Cx, Handler, Response, Step};
use crate::registry::Provision;
use http::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE};
use http::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    status_code: Option<Value>,
    #[serde(default)]
    headers: BTreeMap<String, Vec<String>>,
    body: Option<String>,
    #[serde(default)]
    close: bool,
    #[serde(default)]
    abort: bool,
}

/// Marks a response whose connection must be dropped without answering.
#[derive(Debug, Clone, Copy)]
pub struct Abort;

struct StaticResponse {
    status: Option<Template>,
    headers: Vec<(HeaderName, Vec<Template>)>,
    body: Option<BodySource>,
    close: bool,
    abort: bool,
}

/// What a body is made of.
enum BodySource {
    /// No placeholders: its bytes and content type, made once, shared by
    /// every response.
    Literal(bytes::Bytes, HeaderValue),
    /// Rendered and typed per request.
    Template(Template),
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let status = match &c.status_code {
        None => None,
        Some(Value::Number(n)) => Some(Template::parse(&n.to_string())),
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(Template::parse(s)),
        Some(_) => {
            return Err(Error::config(
                format!("{path}.status_code"),
                "must be a number or string",
            ))
        }
    };
    if let Some(lit) = status.as_ref().and_then(Template::as_literal) {
        parse_status(lit).map_err(|e| Error::config(format!("{path}.status_code"), e))?;
    }
    let mut headers = Vec::new();
    for (name, vals) in &c.headers {
        let hn = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::config(format!("{path}.headers.{name}"), e))?;
        headers.push((hn, vals.iter().map(|v| Template::parse(v)).collect()));
    }
    let body = c.body.as_deref().filter(|b| !b.is_empty()).map(|b| {
        let t = Template::parse(b);
        match t.as_literal() {
            Some(lit) => BodySource::Literal(bytes::Bytes::from(lit.to_owned()), content_type(lit)),
            None => BodySource::Template(t),
        }
    });
    Ok(Box::new(StaticResponse {
        status,
        headers,
        body,
        close: c.close,
        abort: c.abort,
    }))
}

fn parse_status(s: &str) -> Result<StatusCode, String> {
    s.trim()
        .parse::<u16>()
        .ok()
        .and_then(|n| StatusCode::from_u16(n).ok())
        .ok_or_else(|| format!("invalid status code {s:?}"))
}

impl Handler for StaticResponse {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        if self.abort {
            let mut r = Response::new(Body::Empty);
            r.extensions_mut().insert(Abort);
            return Step::Respond(r);
        }
        let status = match &self.status {
            Some(t) => match parse_status(&t.render(cx)) {
                Ok(s) => s,
                Err(e) => return Step::Fail(HttpError::internal(e)),
            },
            None => cx.error.as_ref().map_or(StatusCode::OK, |e| e.status),
        };
        let (body, ctype) = match &self.body {
            Some(BodySource::Literal(b, t)) => (Body::from_bytes(b.clone()), Some(t.clone())),
            Some(BodySource::Template(t)) => {
                let b = t.render_known(cx).into_owned();
                let ctype = content_type(&b);
                (Body::from_bytes(b), Some(ctype))
            }
            None => (Body::Empty, None),
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        // The thread's spare map (the writer keeps it again): no
        // allocation per response.
        let spare = crate::http::spare::header_map(self.headers.len() + 2);
        crate::http::spare::discard_header_map(std::mem::replace(resp.headers_mut(), spare));
        let h = resp.headers_mut();
        for (name, vals) in &self.headers {
            h.remove(name);
            for v in vals {
                if let Ok(v) = HeaderValue::from_str(&v.render(cx)) {
                    h.append(name.clone(), v);
                }
            }
        }
        if let Some(t) = ctype {
            if !h.contains_key(CONTENT_TYPE) {
                h.insert(CONTENT_TYPE, t);
            }
        }
        if self.close {
            h.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Step::Respond(resp)
    }
}

/// The content type of a body (a value made at compile time: made from a
/// `&str` at run time, each of its bytes is checked again per response).
fn content_type(body: &str) -> HeaderValue {
    const JSON: HeaderValue = HeaderValue::from_static("application/json");
    const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
    let t = body.trim();
    let looks_json = t.len() > 2
        && ((t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']')));
    if looks_json && serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok() {
        JSON
    } else {
        TEXT
    }
}
