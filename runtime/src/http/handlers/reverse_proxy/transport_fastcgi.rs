//! `http.reverse_proxy.transport.fastcgi` (what `php_fastcgi` produces):
//! builds the CGI environment (`root`, `split_path`, `env`,
//! `resolve_root_symlink`), sends it and the body to the FastCGI server
//! and streams the CGI response back. Request headers become `HTTP_*`
//! variables, except a `Proxy` header (httpoxy) and names containing `_`.

use super::config::SignedDuration;
use super::dial::{dial, DialOpts};
use super::fastcgi::{
    head_end, parse_head, read_record, request_head, write_stdin, END_REQUEST, STDERR, STDOUT,
};
use super::prepare::UpBody;
use super::upstreams::DialAddr;
use crate::config::CaddyDuration;
use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{Body, Cx};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    root: String,
    #[serde(default)]
    split_path: Vec<String>,
    #[serde(default)]
    resolve_root_symlink: bool,
    #[serde(default)]
    env: BTreeMap<String, String>,
    dial_timeout: Option<CaddyDuration>,
    read_timeout: Option<CaddyDuration>,
    write_timeout: Option<CaddyDuration>,
    #[serde(default)]
    capture_stderr: bool,
    dial_fallback_delay: Option<SignedDuration>,
}

/// A provisioned FastCGI transport.
pub struct FastcgiTransport {
    root: Template,
    split: Vec<String>,
    resolve_symlink: bool,
    env: Vec<(String, Template)>,
    opts: DialOpts,
    capture_stderr: bool,
}

/// A failed exchange; `before_send` when nothing reached the server.
pub struct FcgiError {
    pub error: HttpError,
    pub before_send: bool,
}

impl FastcgiTransport {
    /// Provisions the transport's JSON (without `protocol`) at `path`.
    pub fn provision(
        v: &Value,
        p: &crate::registry::Provision<'_>,
        path: &str,
    ) -> Result<Self, Error> {
        let c: Config = p.decode(v, path)?;
        let mut split = Vec::new();
        for (i, s) in c.split_path.iter().enumerate() {
            if !s.is_ascii() {
                return Err(Error::config(
                    format!("{path}.split_path[{i}]"),
                    "split path contains non-ASCII characters",
                ));
            }
            split.push(s.to_ascii_lowercase());
        }
        let d = |o: Option<CaddyDuration>| o.map(|d| d.0).filter(|d| !d.is_zero());
        Ok(FastcgiTransport {
            root: Template::parse(if c.root.is_empty() {
                "{http.vars.root}"
            } else {
                &c.root
            }),
            split,
            resolve_symlink: c.resolve_root_symlink,
            env: c
                .env
                .iter()
                .map(|(k, v)| (k.clone(), Template::parse(v)))
                .collect(),
            opts: DialOpts {
                timeout: d(c.dial_timeout).unwrap_or(Duration::from_secs(3)),
                read_timeout: d(c.read_timeout),
                write_timeout: d(c.write_timeout),
                fallback: super::dial::fallback_delay(c.dial_fallback_delay),
                ..Default::default()
            },
            capture_stderr: c.capture_stderr,
        })
    }

    fn split_pos(&self, path: &str) -> Option<usize> {
        split_pos(&self.split, path)
    }

    /// The script's paths for a request to `uri`: `split_path` decides
    /// where the script ends and `PATH_INFO` begins.
    fn script_paths(&self, cx: &Cx<'_>, uri: &Uri) -> Result<ScriptPaths, String> {
        let rendered = self.root.render(cx);
        let root_s = if rendered.is_empty() { "." } else { &rendered };
        let mut root = std::path::absolute(root_s).map_err(|e| e.to_string())?;
        if self.resolve_symlink {
            root = std::fs::canonicalize(&root)
                .map_err(|e| format!("resolving root {}: {e}", root.display()))?;
        }
        let root = root.display().to_string();
        let fpath = crate::http::context::decode_path(uri.path()).into_owned();
        let (doc_uri, path_info) = match self.split_pos(&fpath) {
            Some(i) => (fpath[..i].to_string(), fpath[i..].to_string()),
            None => (fpath.clone(), String::new()),
        };
        let mut script_name = fpath
            .strip_suffix(path_info.as_str())
            .unwrap_or(&fpath)
            .to_string();
        let path_info = if path_info.is_empty() {
            cx.file_match
                .as_ref()
                .map(|m| m.remainder.clone())
                .unwrap_or_default()
        } else {
            path_info
        };
        let script_filename = crate::util::sanitized_join(&root, &script_name);
        if !script_name.is_empty() && !script_name.starts_with('/') {
            script_name.insert(0, '/');
        }
        Ok(ScriptPaths {
            root,
            doc_uri,
            path_info,
            script_name,
            script_filename,
        })
    }

    /// The variables not every request has, then the configured `env`.
    fn extra_vars(
        &self,
        env: &mut Vec<(String, String)>,
        cx: &Cx<'_>,
        root: &str,
        path_info: &str,
    ) {
        if let Some(l) = cx.conn.local {
            env.push(("SERVER_ADDR".into(), l.ip().to_string()));
        }
        if !path_info.is_empty() {
            env.push((
                "PATH_TRANSLATED".into(),
                crate::util::sanitized_join(root, path_info),
            ));
        }
        if cx.conn.tls {
            env.push(("HTTPS".into(), "on".into()));
        }
        for (k, t) in &self.env {
            set(env, k, t.render(cx).into_owned());
        }
    }

    fn env(
        &self,
        cx: &Cx<'_>,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Vec<(String, String)>, String> {
        let ScriptPaths {
            root,
            doc_uri,
            path_info,
            script_name,
            script_filename,
        } = self.script_paths(cx, uri)?;
        let (host, port) = crate::http::context::split_host(cx.hostport());
        let scheme = cx.conn.scheme();
        let remote_ip = cx.remote_ip().to_string();
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let mut env: Vec<(String, String)> = [
            ("AUTH_TYPE", String::new()),
            ("CONTENT_LENGTH", h("content-length")),
            ("CONTENT_TYPE", h("content-type")),
            ("GATEWAY_INTERFACE", "CGI/1.1".into()),
            ("PATH_INFO", path_info.clone()),
            ("QUERY_STRING", uri.query().unwrap_or("").into()),
            ("REMOTE_ADDR", remote_ip.clone()),
            ("REMOTE_HOST", remote_ip),
            ("REMOTE_PORT", cx.conn.remote_port().to_string()),
            ("REMOTE_IDENT", String::new()),
            ("REMOTE_USER", cx.auth_user.clone().unwrap_or_default()),
            ("REQUEST_METHOD", method.to_string()),
            ("REQUEST_SCHEME", scheme.into()),
            ("SERVER_NAME", host.into()),
            ("SERVER_PROTOCOL", format!("{:?}", cx.parts.version)),
            (
                "SERVER_SOFTWARE",
                concat!("bellhop/", env!("CARGO_PKG_VERSION")).into(),
            ),
            ("DOCUMENT_ROOT", root.clone()),
            ("DOCUMENT_URI", doc_uri),
            ("HTTP_HOST", cx.hostport().into()),
            (
                "REQUEST_URI",
                cx.orig_uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .into(),
            ),
            ("SCRIPT_FILENAME", script_filename),
            ("SCRIPT_NAME", script_name),
            (
                "SERVER_PORT",
                if !port.is_empty() {
                    port.into()
                } else if scheme == "https" {
                    "443".into()
                } else {
                    "80".into()
                },
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.extra_vars(&mut env, cx, &root, &path_info);
        header_vars(&mut env, headers);
        Ok(env)
    }

    /// One exchange with the FastCGI server at `addr`.
    pub async fn round_trip(
        &self,
        cx: &Cx<'_>,
        addr: &DialAddr,
        method: &Method,
        uri: &Uri,
        headers: HeaderMap,
        mut body: UpBody,
    ) -> Result<http::Response<Body>, FcgiError> {
        let fail = |before_send, error| FcgiError { error, before_send };
        if uri.path().contains("%00") || uri.path().contains('\0') {
            return Err(fail(
                false,
                HttpError::downstream(StatusCode::BAD_REQUEST, "invalid request path"),
            ));
        }
        let env = self.env(cx, method, uri, &headers).map_err(|e| {
            fail(
                false,
                HttpError::internal(format!("building environment: {e}")),
            )
        })?;
        let client = cx.conn.remote.unwrap_or_else(|| ([0, 0, 0, 0], 0).into());
        let raw = dial(addr, &self.opts, client)
            .await
            .map_err(|e| fail(true, HttpError::upstream(e.to_string())))?;
        let mut io = super::stream::UpStream::plain(raw, &self.opts);
        let io_err = |e: std::io::Error| {
            let status = if e.kind() == std::io::ErrorKind::TimedOut {
                StatusCode::GATEWAY_TIMEOUT
            } else {
                StatusCode::BAD_GATEWAY
            };
            fail(false, HttpError::new(status, format!("fastcgi: {e}")))
        };
        use tokio::io::AsyncWriteExt;
        io.write_all(&request_head(&env)).await.map_err(io_err)?;
        while let Some(f) = body.frame().await {
            let f = f.map_err(|e| {
                fail(
                    false,
                    HttpError::downstream(StatusCode::BAD_REQUEST, e.to_string()),
                )
            })?;
            if let Ok(d) = f.into_data() {
                if !d.is_empty() {
                    write_stdin(&mut io, &d).await.map_err(io_err)?;
                }
            }
        }
        write_stdin(&mut io, &[]).await.map_err(io_err)?;
        self.read_response(io).await.map_err(|e| match e {
            Ok(io) => io_err(io),
            Err(m) => fail(false, HttpError::upstream(m)),
        })
    }

    async fn read_response(
        &self,
        mut io: super::stream::UpStream,
    ) -> Result<http::Response<Body>, Result<std::io::Error, String>> {
        let mut head = Vec::new();
        let (status, headers, rest) = loop {
            let (kind, data) = read_record(&mut io).await.map_err(Ok)?;
            match kind {
                STDOUT => {
                    head.extend_from_slice(&data);
                    if let Some((end, body_at)) = head_end(&head) {
                        let (s, h) = parse_head(&head[..end]).map_err(Err)?;
                        break (s, h, Bytes::copy_from_slice(&head[body_at..]));
                    }
                }
                STDERR => self.stderr(&data),
                END_REQUEST => {
                    let (s, h) = parse_head(&head).map_err(Err)?;
                    break (s, h, Bytes::new());
                }
                _ => {}
            }
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
        let capture = self.capture_stderr;
        tokio::spawn(async move {
            if !rest.is_empty() && tx.send(Ok(rest)).await.is_err() {
                return;
            }
            loop {
                match read_record(&mut io).await {
                    Ok((STDOUT, d)) if !d.is_empty() => {
                        if tx.send(Ok(d)).await.is_err() {
                            return;
                        }
                    }
                    Ok((STDERR, d)) if capture => {
                        tracing::warn!(stderr = %String::from_utf8_lossy(&d), "fastcgi stderr")
                    }
                    Ok((END_REQUEST, _)) => return,
                    Ok(_) => {}
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        let mut resp = http::Response::new(Body::stream(ChannelBody(rx)));
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
        Ok(resp)
    }

    fn stderr(&self, data: &[u8]) {
        if self.capture_stderr {
            tracing::warn!(stderr = %String::from_utf8_lossy(data), "fastcgi stderr");
        }
    }
}

/// Where the script is, as CGI variables name it.
struct ScriptPaths {
    root: String,
    doc_uri: String,
    path_info: String,
    script_name: String,
    script_filename: String,
}

/// `HTTP_*` variables of the request headers; names with `_` are
/// dropped (as Caddy does), and so is `Proxy` (httpoxy).
fn header_vars(env: &mut Vec<(String, String)>, headers: &HeaderMap) {
    for name in headers.keys() {
        let n = name.as_str();
        if n.contains('_') || n == "proxy" || n == "host" {
            continue;
        }
        let vals: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        set(
            env,
            &format!("HTTP_{}", n.to_ascii_uppercase().replace('-', "_")),
            vals.join(", "),
        );
    }
}

fn set(env: &mut Vec<(String, String)>, k: &str, v: String) {
    match env.iter_mut().find(|(n, _)| n == k) {
        Some(slot) => slot.1 = v,
        None => env.push((k.to_string(), v)),
    }
}

struct ChannelBody(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|o| o.map(|r| r.map(http_body::Frame::data)))
    }
}

/// Where `path` splits into script and PATH_INFO: just after the first
/// occurrence of the first `split` extension found (ASCII case-insensitive:
/// a non-ASCII byte never matches, so no Unicode look-alike or case
/// folding counts); 0 without `split_path`, `None` when no match.
fn split_pos(split: &[String], path: &str) -> Option<usize> {
    if split.is_empty() {
        return Some(0);
    }
    let bytes = path.as_bytes();
    split.iter().filter(|s| !s.is_empty()).find_map(|s| {
        bytes
            .windows(s.len())
            .position(|w| {
                w.iter()
                    .zip(s.bytes())
                    .all(|(a, b)| a.is_ascii() && a.to_ascii_lowercase() == b)
            })
            .map(|i| i + s.len())
    })
}

#[cfg(test)]
mod tests {
    use super::split_pos;

    /// Caddy's fastcgi_test.go TestSplitPos, TestSplitPosUnicodeSecurityRegression
    /// and TestSplitPosSecurityRegressionUnicodeBypass (-1 there is `None`).
    #[test]
    fn split_positions_as_caddys_table() {
        let php = &[".php"][..];
        let both = &[".php", ".phtml"][..];
        let cases: &[(&str, &[&str], Option<usize>)] = &[
            ("/path/to/script.php", php, Some(19)),
            ("/path/to/script.php/some/path", php, Some(19)),
            ("/path/to/script.PHP", php, Some(19)),
            ("/path/to/script.PhP/info", php, Some(19)),
            ("/path/to/script.txt", php, None),
            ("/path/to/script.php", &[], Some(0)),
            ("/path/to/script.php", both, Some(19)),
            ("/path/to/script.phtml", both, Some(21)),
            ("/ȺȺȺȺshell.php", php, Some(18)),
            ("/ȺȺȺȺshell.php/path/info", php, Some(18)),
            ("/ȺȺȺȺshell.php.txt.php", php, Some(18)),
            ("/ȺȺȺȺshell.PHP", php, Some(18)),
            ("/path/Ⱥtest/script.php", php, Some(23)),
            ("/Ⱥ/script.php", php, Some(14)),
            ("/İtest.php", php, Some(11)),
            ("/PATH/TO/SCRIPT.PHP/INFO", php, Some(19)),
            ("/index.php", php, Some(10)),
            ("/test.php.bak", php, Some(9)),
            ("/PoC-match-unset.¡.txt", php, None),
            ("/script.p\u{a1}p", php, None),
            ("/shell﹒php", php, None),
            ("/shell．php", php, None),
            ("/shell.ｐhp", php, None),
            ("/shell.pｈp", php, None),
            ("/shell.phｐ", php, None),
            ("/shell.\u{1D5C1}\u{1D5B5}\u{1D5C1}", php, None),
            ("/shell.\u{1D5FD}\u{1D5F5}\u{1D5FD}", php, None),
            ("/shell.\u{1D4C5}\u{1D4BD}\u{1D4C5}", php, None),
            ("/shell.ⓟⓗⓟ", php, None),
            ("/shell.ⓟⓗⓟ.anything-after-payload.php", php, Some(43)),
        ];
        for (path, split, want) in cases {
            let split: Vec<String> = split.iter().map(|s| s.to_string()).collect();
            let got = split_pos(&split, path);
            assert_eq!(got, *want, "{path} {split:?}");
            if let Some(i) = got.filter(|i| *i > 0) {
                let script = path[..i].to_ascii_lowercase();
                assert!(split.iter().any(|s| script.ends_with(s.as_str())), "{path}");
            }
        }
    }
}
