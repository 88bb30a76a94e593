//! `http.handlers.templates`: executes response bodies as Go templates
//! (`text/template` syntax), as Caddy's templates handler does.
//!
//! The handler wraps the rest of the chain. A response whose
//! `Content-Type` contains one of `mime_types` (default `text/html`,
//! `text/plain`, `text/markdown`) is buffered and executed with Caddy's
//! template context (`.Req`, `.Args`, `include`, `placeholder`,
//! `markdown`, … — see `templates/context.rs` and `templates/files.rs`)
//! and the functions of `templates/funcs.rs`. Files are read relative to
//! `file_root` (default `{http.vars.root}`, else the working directory).
//! `delimiters` replaces `{{`/`}}`. `httpInclude` makes a virtual GET
//! through the same server (`context::virtual_get`), as Caddy does; the
//! synchronous engine stops at one not yet made, the handler makes it
//! and runs the template again. Afterwards `Content-Length` is set to
//! the rendered size (dropped for HEAD and bodiless statuses), and
//! `Accept-Ranges`, `Last-Modified` and `ETag` are removed.
//!
//! A template that fails to parse or execute makes the request fail with
//! 500 (the message, with template name and line, goes to the log and
//! `{http.error.message}`); `httpError N` fails it with status N. Either
//! way the server's error routes take over. Extensions under `match`
//! (`http.handlers.templates.functions.*`) are modules bellhop does not
//! have: naming one is a config error.
//!
//! The engine: `lexer.rs` → `parse.rs` → `exec.rs`, values in `value.rs`.

mod context;
mod exec;
mod files;
mod funcs;
mod lexer;
mod parse;
mod value;

use crate::error::{Error, HttpError};
use crate::http::replacer::Template as Placeholders;
use crate::http::{BoxFuture, Cx, Handler, Response, Step};
use crate::registry::Provision;
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
pub(crate) use value::{Object, Value};

/// Caddy's default `mime_types`.
const DEFAULT_TYPES: [&str; 3] = ["text/html", "text/plain", "text/markdown"];

/// Why executing a template stopped.
#[derive(Debug)]
pub enum Fail {
    /// A parse or execution error.
    Msg(String),
    /// `httpError N`.
    Http(u16),
    /// `httpInclude` of a URI whose virtual request has not been made yet:
    /// the handler makes it and executes the template again.
    Include(String),
}

impl Fail {
    fn msg(m: impl Into<String>) -> Fail {
        Fail::Msg(m.into())
    }
}

/// What the engine asks of its surroundings: functions that depend on the
/// request or the file system, files to include, the data of an included
/// file, the response headers.
pub trait Env {
    /// A context function; `None` when there is none by that name.
    fn call(&mut self, name: &str, args: Vec<Value>) -> Option<Result<Value, Fail>>;
    /// The text of a file under the file root.
    fn read_file(&self, name: &str) -> Result<String, String>;
    /// The action delimiters.
    fn delims(&self) -> (&str, &str);
    /// The context value (dot) with `.Args`.
    fn root(&self, args: Vec<Value>) -> Value;
    /// The headers of the response being rendered.
    fn headers(&mut self) -> &mut HeaderMap;
    /// The body a virtual GET of `uri` answered (`httpInclude`).
    fn http_include(&mut self, uri: &str) -> Result<String, Fail> {
        Err(Fail::Msg(format!("httpInclude {uri}: no server to ask")))
    }
}

/// How many virtual requests one response's templates may make.
const MAX_HTTP_INCLUDES: usize = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    file_root: Option<String>,
    mime_types: Option<Vec<String>>,
    delimiters: Option<Vec<String>>,
    #[serde(rename = "match")]
    extensions: Option<Map<String, Json>>,
}

struct Templates {
    file_root: Placeholders,
    mime_types: Vec<String>,
    delims: (String, String),
}

pub fn new(
    v: &serde_json::value::RawValue,
    p: &mut Provision<'_>,
    path: &str,
) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    for name in c.extensions.iter().flat_map(Map::keys) {
        p.require(
            &format!("http.handlers.templates.functions.{name}"),
            &format!("{path}.match.{name}"),
        )?;
    }
    let delims = match c.delimiters.as_deref() {
        None | Some([]) => ("{{".to_string(), "}}".to_string()),
        Some([l, r]) if !l.is_empty() && !r.is_empty() => (l.clone(), r.clone()),
        Some(_) => {
            return Err(Error::config(
                format!("{path}.delimiters"),
                "delimiters must consist of exactly two elements: opening and closing",
            ))
        }
    };
    Ok(Box::new(Templates {
        file_root: Placeholders::parse(c.file_root.as_deref().unwrap_or("{http.vars.root}")),
        mime_types: c
            .mime_types
            .unwrap_or_else(|| DEFAULT_TYPES.iter().map(|s| s.to_string()).collect()),
        delims,
    }))
}

impl Templates {
    fn qualifies(&self, r: &Response) -> bool {
        let h = r.headers();
        let ct = h
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // An encoded body (precompressed file) is not template text.
        !h.contains_key(header::CONTENT_ENCODING)
            && self.mime_types.iter().any(|m| ct.contains(m.as_str()))
    }

    /// Renders `src` for the request (synchronously: the engine's values
    /// are not `Send`, so none of them lives across an await).
    /// `Ok(Err(uri))` asks for the virtual request of an `httpInclude`.
    fn render(
        &self,
        cx: &Cx<'_>,
        headers: &mut HeaderMap,
        src: &str,
        included: &[context::Included],
    ) -> Result<Result<String, String>, HttpError> {
        let root = self.file_root.render(cx);
        let root = if root.is_empty() { "." } else { &root };
        let delims = (self.delims.0.as_str(), self.delims.1.as_str());
        let mut env = context::HttpEnv::new(cx, root.to_string(), delims, headers, included);
        let out = parse::parse(cx.path(), src, delims)
            .map_err(Fail::Msg)
            .and_then(|t| exec::execute(&t, env.root(Vec::new()), &mut env));
        out.map(Ok)
            .or_else(|e| match e {
                Fail::Include(uri) => Ok(Err(uri)),
                other => Err(other),
            })
            .map_err(|e| match e {
                Fail::Msg(m) => HttpError::internal(m).with_trace("templates"),
                Fail::Http(code) => HttpError::new(
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "template called httpError",
                )
                .with_trace("templates"),
                Fail::Include(uri) => HttpError::internal(format!("httpInclude {uri}")),
            })
    }

    /// Renders `src`, making the virtual requests its `httpInclude`s ask
    /// for (the engine is synchronous: each one stops the run, is made,
    /// and the template runs again from the start with a fresh copy of
    /// the headers, so a stopped run leaves nothing behind).
    async fn render_with_includes(
        &self,
        cx: &Cx<'_>,
        headers: &mut HeaderMap,
        src: &str,
    ) -> Result<String, HttpError> {
        let mut included: Vec<context::Included> = Vec::new();
        loop {
            let mut attempt = headers.clone();
            match self.render(cx, &mut attempt, src, &included)? {
                Ok(out) => {
                    *headers = attempt;
                    return Ok(out);
                }
                Err(_) if included.len() >= MAX_HTTP_INCLUDES => {
                    return Err(HttpError::internal(format!(
                        "templates: more than {MAX_HTTP_INCLUDES} httpInclude requests"
                    )))
                }
                Err(uri) => {
                    let got = context::virtual_get(cx, &uri).await;
                    included.push((uri, got));
                }
            }
        }
    }

    async fn execute(&self, cx: &mut Cx<'_>, r: Response) -> Result<Response, HttpError> {
        use http_body_util::BodyExt;
        if !self.qualifies(&r) {
            return Ok(r);
        }
        let (mut parts, body) = r.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| HttpError::internal(format!("buffering response for templates: {e}")))?
            .to_bytes();
        let src = String::from_utf8_lossy(&bytes);
        let out = self
            .render_with_includes(cx, &mut parts.headers, &src)
            .await?;
        let h = &mut parts.headers;
        let status = parts.status.as_u16();
        if cx.parts.method == http::Method::HEAD || status < 200 || status == 204 || status == 304 {
            h.remove(header::CONTENT_LENGTH);
        } else {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(out.len()));
        }
        h.remove(header::ACCEPT_RANGES);
        h.remove(header::LAST_MODIFIED);
        h.remove(header::ETAG);
        Ok(Response::from_parts(
            parts,
            crate::http::Body::from_bytes(out),
        ))
    }
}

impl Handler for Templates {
    fn handle(&self, _cx: &mut Cx<'_>) -> Step {
        Step::Wrap
    }

    fn wraps_async(&self) -> bool {
        true
    }

    fn on_response_async<'s>(
        &'s self,
        cx: &'s mut Cx<'_>,
        response: Response,
    ) -> BoxFuture<'s, Result<Response, HttpError>> {
        Box::pin(self.execute(cx, response))
    }
}

/// A page template's text: a user's file, read for this request, or one
/// built into bellhop, parsed once per serving thread.
pub(crate) enum PageSource<'a> {
    File(&'a str),
    BuiltIn(&'static str),
}

/// Runs page template `src` (named `name`, as the browse listing's) for
/// the request: `extend` wraps Caddy's `TemplateContext` (`.Req`, …, with
/// files under `file_root`) in the page's own context. Errors carry the
/// template name and line.
pub(crate) fn render_page(
    cx: &Cx<'_>,
    file_root: &str,
    headers: &mut HeaderMap,
    name: &str,
    src: PageSource<'_>,
    extend: impl FnOnce(Value) -> Value,
) -> Result<String, String> {
    let delims = ("{{", "}}");
    let t = match src {
        PageSource::File(text) => std::rc::Rc::new(parse::parse(name, text, delims)?),
        PageSource::BuiltIn(text) => built_in(name, text, delims)?,
    };
    let mut env = context::HttpEnv::new(cx, file_root.to_string(), delims, headers, &[]);
    let dot = extend(env.root(Vec::new()));
    exec::execute(&t, dot, &mut env).map_err(|e| match e {
        Fail::Msg(m) => m,
        Fail::Http(code) => format!("template called httpError {code}"),
        Fail::Include(uri) => format!("httpInclude {uri}: not available in this template"),
    })
}

/// A built-in template, parsed on this thread's first use (parsed
/// templates hold `Rc`s, so each serving thread keeps its own).
fn built_in(
    name: &str,
    text: &'static str,
    delims: (&str, &str),
) -> Result<std::rc::Rc<parse::Template>, String> {
    use std::cell::RefCell;
    thread_local! {
        static PARSED: RefCell<Vec<(usize, std::rc::Rc<parse::Template>)>> = const { RefCell::new(Vec::new()) };
    }
    let key = text.as_ptr() as usize;
    if let Some(t) = PARSED.with(|p| {
        p.borrow()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, t)| t.clone())
    }) {
        return Ok(t);
    }
    let t = std::rc::Rc::new(parse::parse(name, text, delims)?);
    PARSED.with(|p| p.borrow_mut().push((key, t.clone())));
    Ok(t)
}

/// Formats a time by a Go layout (`2006-01-02 15:04`), in UTC.
pub(crate) fn go_time_format(t: std::time::SystemTime, layout: &str) -> String {
    funcs::time::format(t, layout)
}

#[cfg(test)]
mod tests;
