//! `http.handlers.file_server`: serves files from `root` (default
//! `{http.vars.root}`, else the working directory).
//!
//! The request path is joined onto the root so it can never leave it,
//! whatever the encoding of `..` (the path is decoded, then cleaned as if
//! rooted). Directories serve their first `index_names` file (default
//! `index.html`, `index.txt`; placeholders allowed) or, with `browse`, a
//! listing in HTML or JSON (`Accept: application/json`); without either, a
//! directory is not found. Canonical URIs (where the file name was not
//! rewritten): a directory served by its index file is redirected to its
//! path with a trailing slash, a file to its path without one (308).
//! `hide` patterns (globs, whole paths or file names) answer 404. Files get
//! `Content-Type` from their extension, `Vary: Accept-Encoding`, `ETag` and
//! `Last-Modified` (none for a file dated at the Unix epoch), Go's
//! preconditions (`conditional`: 304, 412, `If-Range`), single `Range`s
//! (`206`/`416`), and precompressed siblings (`.zst`, `.br`, `.gz`) when
//! the client accepts them. With `etag_file_extensions`, the
//! `ETag` is the content of the first sidecar file found with one of those
//! suffixes (`app.js.sha256`), newlines removed. `pass_thru` hands a missing file to
//! the next handler; `status_code` overrides the status. Files up to
//! 2 MiB are served from an in-memory copy while their `stat` is unchanged
//! (see `cache`).

mod browse;
mod cache;
mod conditional;
mod mime;
mod send;

pub use browse::DEFAULT_TEMPLATE as BROWSE_TEMPLATE;

use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{BoxFuture, Cx, Flow, Handler, Step};
use crate::registry::Provision;
use crate::util::{glob_match, sanitized_join};
use http::header::{HeaderValue, ALLOW, LOCATION};
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    root: Option<String>,
    #[serde(default)]
    hide: Vec<String>,
    index_names: Option<Vec<String>>,
    browse: Option<browse::Config>,
    canonical_uris: Option<bool>,
    status_code: Option<Value>,
    #[serde(default)]
    pass_thru: bool,
    precompressed: Option<Map<String, Value>>,
    precompressed_order: Option<Vec<String>>,
    fs: Option<String>,
    etag_file_extensions: Option<Vec<String>>,
}

struct FileServer {
    /// Contents of recently served small files (see `cache`).
    cache: cache::FileCache,
    root: Template,
    hide: Vec<String>,
    /// Index file names; placeholders allowed.
    index: Vec<Template>,
    browse: Option<browse::Browse>,
    canonical: bool,
    status: Option<Template>,
    pass_thru: bool,
    /// (encoding, file suffix), in preference order.
    precompressed: Vec<(&'static str, &'static str)>,
    /// Suffixes of sidecar files holding a file's ETag (`.sha256`).
    etag_exts: Vec<String>,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    if let Some(fs) = c.fs.as_deref().filter(|f| !f.is_empty()) {
        p.require(&format!("caddy.fs.{fs}"), &format!("{path}.fs"))?;
    }
    let browse = match c.browse {
        Some(b) => Some(browse::Browse::new(b, &format!("{path}.browse"))?),
        None => None,
    };
    let mut precompressed = Vec::new();
    if let Some(pc) = &c.precompressed {
        let order = c.precompressed_order.clone().unwrap_or_else(|| {
            ["br", "zstd", "gzip"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        for name in pc.keys() {
            p.require(
                &format!("http.precompressed.{name}"),
                &format!("{path}.precompressed.{name}"),
            )?;
        }
        for name in order.iter().filter(|n| pc.contains_key(*n)) {
            precompressed.push(match name.as_str() {
                "br" => ("br", ".br"),
                "zstd" => ("zstd", ".zst"),
                _ => ("gzip", ".gz"),
            });
        }
    }
    let status = match c.status_code {
        None => None,
        Some(Value::Number(n)) => Some(Template::parse(&n.to_string())),
        Some(Value::String(s)) => Some(Template::parse(&s)),
        Some(_) => {
            return Err(Error::config(
                format!("{path}.status_code"),
                "must be a number or string",
            ))
        }
    };
    Ok(Box::new(FileServer {
        cache: Default::default(),
        root: Template::parse(c.root.as_deref().unwrap_or("{http.vars.root}")),
        hide: c.hide,
        index: c
            .index_names
            .unwrap_or_else(|| vec!["index.html".into(), "index.txt".into()])
            .iter()
            .map(|n| Template::parse(n))
            .collect(),
        browse,
        canonical: c.canonical_uris.unwrap_or(true),
        status,
        pass_thru: c.pass_thru,
        precompressed,
        etag_exts: c.etag_file_extensions.unwrap_or_default(),
    }))
}

/// What a canonical-URI redirect escapes in the path it names.
const REDIRECT_PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Go's `path.Base`.
fn base(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { "." } else { "/" };
    }
    t.rsplit('/').next().unwrap_or(t)
}

fn redirect(cx: &Cx<'_>, path: &str) -> Flow {
    let mut target = percent_encoding::utf8_percent_encode(path, REDIRECT_PATH).to_string();
    if let Some(q) = cx.parts.uri.query() {
        target.push('?');
        target.push_str(q);
    }
    let mut r = super::status_response(StatusCode::PERMANENT_REDIRECT);
    if let Ok(v) = HeaderValue::from_str(&target) {
        r.headers_mut().insert(LOCATION, v);
    }
    Flow::Respond(r)
}

impl FileServer {
    fn hidden(&self, file: &str) -> bool {
        self.hide.iter().any(|h| {
            if h.contains('/') {
                glob_match(h, file) || file.starts_with(&format!("{}/", h.trim_end_matches('/')))
            } else {
                file.split('/').any(|seg| glob_match(h, seg))
            }
        })
    }

    fn not_found(&self) -> Result<Flow, HttpError> {
        if self.pass_thru {
            return Ok(Flow::Next);
        }
        Err(HttpError::downstream(
            StatusCode::NOT_FOUND,
            "file not found",
        ))
    }

    async fn serve(&self, cx: &mut Cx<'_>) -> Result<Flow, HttpError> {
        let root = self.root.render(cx);
        let root = if root.is_empty() {
            ".".to_string()
        } else {
            root.into_owned()
        };
        let req_path = cx.path().to_string();
        let joined = sanitized_join(&root, &req_path);
        let mut file = match joined.trim_end_matches('/') {
            "" => "/".to_string(),
            t => t.to_string(),
        };
        let Ok(mut meta) = std::fs::metadata(&file) else {
            return self.not_found();
        };
        if self.hidden(&file) {
            return self.not_found();
        }
        let mut implicit_index = false;
        if meta.is_dir() {
            for name in &self.index {
                let name = name.render(cx);
                let candidate = format!("{}/{name}", file.trim_end_matches('/'));
                if self.hidden(&candidate) {
                    continue;
                }
                if let Ok(m) = std::fs::metadata(&candidate) {
                    (file, meta, implicit_index) = (candidate, m, true);
                    break;
                }
            }
        }
        if meta.is_dir() {
            let Some(browse) = &self.browse else {
                return self.not_found();
            };
            let orig = crate::http::context::decode_path(cx.orig_uri.path());
            if (req_path.is_empty() || base(&orig) == base(&req_path)) && !orig.ends_with('/') {
                return Ok(redirect(cx, &format!("{orig}/")));
            }
            return match browse.serve(cx, &root, &file, &|f| self.hidden(f)).await {
                Err(e) if e.status == StatusCode::NOT_FOUND => self.not_found(),
                other => other,
            };
        }
        if self.canonical {
            // Only where the file name was not rewritten (Caddy #4205).
            let orig = crate::http::context::decode_path(cx.orig_uri.path());
            if base(&orig) == base(&req_path) {
                if implicit_index && !orig.ends_with('/') {
                    return Ok(redirect(cx, &format!("{orig}/")));
                }
                if !implicit_index && orig.ends_with('/') && orig != "/" {
                    return Ok(redirect(cx, &orig[..orig.len() - 1]));
                }
            }
        }
        if cx.parts.method != Method::GET && cx.parts.method != Method::HEAD {
            let mut r = super::status_response(StatusCode::METHOD_NOT_ALLOWED);
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Ok(Flow::Respond(r));
        }
        let status = match &self.status {
            Some(t) => {
                let s = t.render(cx);
                Some(
                    s.trim()
                        .parse::<u16>()
                        .ok()
                        .and_then(|n| StatusCode::from_u16(n).ok())
                        .ok_or_else(|| HttpError::internal(format!("invalid status {s:?}")))?,
                )
            }
            None => None,
        };
        let sidecars = send::Sidecars {
            precompressed: &self.precompressed,
            etag_exts: &self.etag_exts,
            cache: &self.cache,
        };
        send::file(cx, &file, meta, sidecars, status)
            .await
            .map(Flow::Respond)
    }
}

impl Handler for FileServer {
    fn handle(&self, _cx: &mut Cx<'_>) -> Step {
        Step::Async
    }

    fn handle_async<'s>(&'s self, cx: &'s mut Cx<'_>) -> BoxFuture<'s, Result<Flow, HttpError>> {
        Box::pin(self.serve(cx))
    }
}
