//! What a template sees of its request: the context value (Caddy's
//! `TemplateContext`: `.Req`, `.OriginalReq`, `.Args`, `.Host`,
//! `.RemoteIP`, `.ClientIP`, `.Cookie "name"`, `.RespHeader.Add/Set/Del`),
//! the request objects (`.Method`, `.Host`, `.URL.Path`, `.URL.Query.Get
//! "q"`, `.Header.Get "X"`, …), and [`HttpEnv`], the [`Env`] of one
//! response: placeholders, the file root, the response headers being
//! built.

use super::value::{Object, Value};
use super::{files, Env, Fail};
use crate::http::replacer::Template as Placeholders;
use crate::http::Cx;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Uri;
use std::rc::Rc;

/// The environment of one template execution.
pub struct HttpEnv<'c, 'a> {
    pub cx: &'c Cx<'a>,
    /// The virtual requests made so far for `httpInclude`.
    included: &'c [Included],
    pub root: String,
    pub delims: (&'c str, &'c str),
    pub headers: &'c mut HeaderMap,
    req: Rc<ReqView>,
    orig: Rc<ReqView>,
}

impl<'c, 'a> HttpEnv<'c, 'a> {
    pub fn new(
        cx: &'c Cx<'a>,
        root: String,
        delims: (&'c str, &'c str),
        headers: &'c mut HeaderMap,
        included: &'c [Included],
    ) -> Self {
        let req = ReqView::new(cx, cx.parts.method.as_str(), &cx.parts.uri);
        let orig = ReqView::new(cx, cx.orig_method.as_str(), &cx.orig_uri);
        HttpEnv {
            cx,
            included,
            root,
            delims,
            headers,
            req: Rc::new(req),
            orig: Rc::new(orig),
        }
    }
}

impl Env for HttpEnv<'_, '_> {
    fn call(&mut self, name: &str, args: Vec<Value>) -> Option<Result<Value, Fail>> {
        let r = match name {
            "placeholder" | "ph" => one_str(&args).map(|n| {
                let rendered = Placeholders::parse(&format!("{{{n}}}"))
                    .render(self.cx)
                    .into_owned();
                Value::str(rendered)
            }),
            "env" => one_str(&args).map(|n| Value::str(std::env::var(n).unwrap_or_default())),
            "httpError" => {
                return Some(match args.first().map(Value::as_int) {
                    Some(Ok(code)) if (400..600).contains(&code) => Err(Fail::Http(code as u16)),
                    _ => Err(Fail::msg(
                        "httpError needs a status code between 400 and 599",
                    )),
                })
            }
            "maybe" => {
                let n = args.first().map(Value::display).unwrap_or_default();
                tracing::debug!(function = %n, "template function not available; skipping");
                Ok(Value::str(""))
            }
            _ => return files::call(&self.root, name, &args).map(|r| r.map_err(Fail::Msg)),
        };
        Some(r.map_err(Fail::Msg))
    }

    fn read_file(&self, name: &str) -> Result<String, String> {
        files::read(&self.root, name)
    }

    fn delims(&self) -> (&str, &str) {
        self.delims
    }

    fn root(&self, args: Vec<Value>) -> Value {
        Value::Obj(Rc::new(Root {
            req: self.req.clone(),
            orig: self.orig.clone(),
            args: Value::list(args),
            host: crate::http::context::split_host(&self.req.host)
                .0
                .to_string(),
            remote_ip: self.cx.remote_ip().to_string(),
            client_ip: self.cx.client_ip().to_string(),
        }))
    }

    fn headers(&mut self) -> &mut HeaderMap {
        self.headers
    }

    fn http_include(&mut self, uri: &str) -> Result<String, Fail> {
        include_depth(self.cx).map_err(Fail::Msg)?;
        match self.included.iter().find(|(u, _)| u == uri) {
            Some((_, got)) => got.clone().map_err(Fail::Msg),
            None => Err(Fail::Include(uri.to_string())),
        }
    }
}

/// A virtual request made for `httpInclude`: its URI and the body, or why
/// there is none.
pub type Included = (String, Result<String, String>);

/// Caddy's header counting how deep in virtual requests a request is.
const INCLUDE_DEPTH: &str = "caddy-templates-include";

/// The depth the next virtual request gets; an error past three, as
/// Caddy's `virtual request cycle`.
fn include_depth(cx: &Cx<'_>) -> Result<u32, String> {
    let Some(v) = cx.parts.headers.get(INCLUDE_DEPTH) else {
        return Ok(1);
    };
    let n: u32 = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("parsing Caddy-Templates-Include: {v:?}"))?;
    if n >= 3 {
        return Err("virtual request cycle".into());
    }
    Ok(n + 1)
}

/// Caddy's `httpInclude` request: a GET of `uri` through the same server,
/// with the request's headers and host, `Accept-Encoding: identity`, from
/// 127.0.0.1:10000 and without TLS; a status of 400 or more is an error.
pub async fn virtual_get(cx: &Cx<'_>, uri: &str) -> Result<String, String> {
    use http_body_util::BodyExt;
    let depth = include_depth(cx)?;
    let parsed: Uri = uri.parse().map_err(|e| format!("parsing {uri}: {e}"))?;
    let target = parsed.path_and_query().map_or("/", |p| p.as_str());
    let mut req = http::Request::get(target)
        .body(())
        .map_err(|e| format!("building the request for {uri}: {e}"))?;
    let headers = req.headers_mut();
    *headers = cx.parts.headers.clone();
    headers.insert(
        http::header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    headers.insert(INCLUDE_DEPTH, HeaderValue::from(depth));
    let (parts, ()) = req.into_parts();
    let conn = crate::http::conn::ConnInfo {
        remote: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 10000))),
        local: cx.conn.local,
        tls: false,
        tls_sni: None,
        alpn_h2: false,
        tls_info: None,
        state: None,
        remote_value: Default::default(),
    };
    let body = crate::http::ReqBody::full(bytes::Bytes::new());
    let sub = Cx::new(parts, body, &conn, cx.server);
    let response = Box::pin(cx.server.serve(sub))
        .await
        .map_err(|_| format!("virtual request for {uri} aborted"))?;
    let status = response.status().as_u16();
    if status >= 400 {
        return Err(format!("http {status}"));
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the answer to {uri}: {e}"))?
        .to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn one_str(args: &[Value]) -> Result<&str, String> {
    match args {
        [v] => v.as_str(),
        _ => Err(format!("wrong number of args: want 1 got {}", args.len())),
    }
}

/// Caddy's `TemplateContext`.
struct Root {
    req: Rc<ReqView>,
    orig: Rc<ReqView>,
    args: Value,
    host: String,
    remote_ip: String,
    client_ip: String,
}

impl Object for Root {
    fn type_name(&self) -> &'static str {
        "templates.TemplateContext"
    }

    fn get(&self, name: &str, args: Vec<Value>, _env: &mut dyn Env) -> Result<Value, String> {
        if name == "Cookie" {
            return one_str(&args).map(|n| Value::str(self.req.cookie(n).unwrap_or_default()));
        }
        no_args(name, &args)?;
        Ok(match name {
            "Req" => Value::Obj(self.req.clone()),
            "OriginalReq" => Value::Obj(self.orig.clone()),
            "Args" => self.args.clone(),
            "Host" => Value::str(self.host.as_str()),
            "RemoteIP" => Value::str(self.remote_ip.as_str()),
            "ClientIP" => Value::str(self.client_ip.as_str()),
            "RespHeader" => Value::Obj(Rc::new(RespHeader)),
            _ => return Err(no_field(name, self.type_name())),
        })
    }
}

fn no_args(name: &str, args: &[Value]) -> Result<(), String> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(format!("{name} is not a method but has arguments"))
    }
}

fn no_field(name: &str, ty: &str) -> String {
    format!("can't evaluate field {name} in type {ty}")
}

/// What `.Req` shows of a request.
struct ReqView {
    method: String,
    host: String,
    proto: String,
    remote_addr: String,
    url: Rc<UrlView>,
    header: Rc<Headers>,
}

impl ReqView {
    fn new(cx: &Cx<'_>, method: &str, uri: &Uri) -> ReqView {
        let path = crate::http::context::decode_path(uri.path()).into_owned();
        ReqView {
            method: method.to_string(),
            host: cx.hostport().to_string(),
            proto: format!("{:?}", cx.parts.version),
            remote_addr: {
                let mut s = String::new();
                cx.conn.write_remote(&mut s);
                s
            },
            url: Rc::new(UrlView {
                path,
                raw_path: uri.path().to_string(),
                raw_query: uri.query().unwrap_or("").to_string(),
                scheme: cx.conn.scheme().into(),
                host: cx.hostport().to_string(),
            }),
            header: Rc::new(Headers(cx.parts.headers.clone())),
        }
    }

    fn cookie(&self, name: &str) -> Option<String> {
        crate::http::context::cookie(&self.header.0, name).map(str::to_string)
    }
}

impl Object for ReqView {
    fn type_name(&self) -> &'static str {
        "*http.Request"
    }

    fn get(&self, name: &str, args: Vec<Value>, _env: &mut dyn Env) -> Result<Value, String> {
        no_args(name, &args)?;
        Ok(match name {
            "Method" => Value::str(self.method.as_str()),
            "Host" => Value::str(self.host.as_str()),
            "Proto" => Value::str(self.proto.as_str()),
            "RemoteAddr" => Value::str(self.remote_addr.as_str()),
            "RequestURI" => Value::str(self.url.request_uri()),
            "URL" => Value::Obj(self.url.clone()),
            "Header" => Value::Obj(self.header.clone()),
            _ => return Err(no_field(name, self.type_name())),
        })
    }
}

/// What `.Req.URL` shows.
struct UrlView {
    path: String,
    raw_path: String,
    raw_query: String,
    scheme: String,
    host: String,
}

impl UrlView {
    fn request_uri(&self) -> String {
        match self.raw_query.as_str() {
            "" => self.raw_path.clone(),
            q => format!("{}?{q}", self.raw_path),
        }
    }
}

impl Object for UrlView {
    fn type_name(&self) -> &'static str {
        "*url.URL"
    }

    fn get(&self, name: &str, args: Vec<Value>, _env: &mut dyn Env) -> Result<Value, String> {
        no_args(name, &args)?;
        Ok(match name {
            "Path" => Value::str(self.path.as_str()),
            "RawPath" | "EscapedPath" => Value::str(self.raw_path.as_str()),
            "RawQuery" => Value::str(self.raw_query.as_str()),
            "Scheme" => Value::str(self.scheme.as_str()),
            "Host" => Value::str(self.host.as_str()),
            "Fragment" => Value::str(""),
            "RequestURI" => Value::str(self.request_uri()),
            "String" => Value::str(format!(
                "{}://{}{}",
                self.scheme,
                self.host,
                self.request_uri()
            )),
            "Query" => {
                let mut q: Vec<(String, Vec<String>)> = Vec::new();
                for (k, v) in crate::http::replacer::query_pairs(&self.raw_query) {
                    match q.iter_mut().find(|(n, _)| *n == k) {
                        Some(slot) => slot.1.push(v.into_owned()),
                        None => q.push((k.into_owned(), vec![v.into_owned()])),
                    }
                }
                Value::Obj(Rc::new(Query(q)))
            }
            _ => return Err(no_field(name, self.type_name())),
        })
    }

    fn display(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.request_uri())
    }
}

/// `url.Values`.
struct Query(Vec<(String, Vec<String>)>);

impl Object for Query {
    fn type_name(&self) -> &'static str {
        "url.Values"
    }

    fn get(&self, name: &str, args: Vec<Value>, _env: &mut dyn Env) -> Result<Value, String> {
        let key = one_str(&args)?;
        let values = self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        Ok(match name {
            "Get" => Value::str(values.and_then(|v| v.first()).map_or("", String::as_str)),
            "Has" => Value::Bool(values.is_some()),
            _ => return Err(no_field(name, self.type_name())),
        })
    }

    fn index(&self, key: &Value) -> Option<Value> {
        let key = key.as_str().ok()?;
        let values = self
            .0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone());
        Some(Value::list(
            values
                .unwrap_or_default()
                .into_iter()
                .map(Value::str)
                .collect(),
        ))
    }
}

/// `http.Header` of the request.
struct Headers(HeaderMap);

impl Object for Headers {
    fn type_name(&self) -> &'static str {
        "http.Header"
    }

    fn get(&self, name: &str, args: Vec<Value>, _env: &mut dyn Env) -> Result<Value, String> {
        let key = one_str(&args)?;
        let values = self
            .0
            .get_all(key)
            .iter()
            .map(|v| Value::str(String::from_utf8_lossy(v.as_bytes())));
        Ok(match name {
            "Get" => values.into_iter().next().unwrap_or(Value::str("")),
            "Values" => Value::list(values.collect()),
            _ => return Err(no_field(name, self.type_name())),
        })
    }

    fn index(&self, key: &Value) -> Option<Value> {
        let key = key.as_str().ok()?;
        let values: Vec<Value> = self
            .0
            .get_all(key)
            .iter()
            .map(|v| Value::str(String::from_utf8_lossy(v.as_bytes())))
            .collect();
        Some(if values.is_empty() {
            Value::Missing
        } else {
            Value::list(values)
        })
    }
}

/// `.RespHeader`: edits the headers of the response being rendered.
struct RespHeader;

impl Object for RespHeader {
    fn type_name(&self) -> &'static str {
        "templates.WrappedHeader"
    }

    fn get(&self, name: &str, args: Vec<Value>, env: &mut dyn Env) -> Result<Value, String> {
        let field = args.first().ok_or("missing header field name")?.as_str()?;
        let field =
            HeaderName::from_bytes(field.as_bytes()).map_err(|e| format!("{field:?}: {e}"))?;
        let value = || -> Result<HeaderValue, String> {
            let v = args.get(1).ok_or("missing header value")?.display();
            HeaderValue::from_str(&v).map_err(|e| format!("{v:?}: {e}"))
        };
        let h = env.headers();
        match name {
            "Add" => {
                h.append(field, value()?);
            }
            "Set" => {
                h.insert(field, value()?);
            }
            "Del" => {
                h.remove(field);
            }
            _ => return Err(no_field(name, self.type_name())),
        }
        Ok(Value::str(""))
    }
}
