//! The data-driven runner of the cases ported from Caddy's own tests
//! (`testdata/caddy_cases/*.toml`): for each case, a real server on
//! 127.0.0.1:0 loads the case's config and answers raw HTTP/1.1 requests
//! sent over TCP; status, headers and body are compared with the answer
//! Caddy gives (the test table's, or Caddy 2.11's recorded by running it:
//! `tools/caddy-cases.py` checks the files against a Caddy binary).
//!
//! A case file is TOML:
//!
//! ```toml
//! [[case]]
//! name = "uri_escaped"
//! from = "replacer_test.go TestHTTPVarReplacement"
//! routes = '''[{"handle": [{"handler": "static_response", "body": "{http.request.uri_escaped}"}]}]'''
//! files = { "a/index.html" = "hi" }     # written under {root}, optional
//! mtimes = { "a/index.html" = 0 }       # their modification times (Unix s)
//! symlinks = { "a/link" = "index.html" } # symbolic links: name → target
//! [[case.req]]
//! target = "/foo?a=1"                   # method = "GET", host = "example.com"
//! headers = [["Accept", "*/*"]]         # send_body = "…", or raw = "…" whole
//! status = 200
//! body = "%2Ffoo%3Fa%3D1"               # or body_has (body_has_nocase) = ["…"],
//!                                       # body_lacks_nocase = ["…"], body_match = '^…$'
//! header = { "Content-Type" = "text/plain" }
//! header_match = { "ETag" = '^"[0-9a-z]+-[0-9a-z]+"$' }   # a regexp
//! present = ["Last-Modified"]
//! absent = ["Last-Modified"]
//! ```
//!
//! `routes` wraps into one server; `server` is a whole server object;
//! `config` a whole config; `merge` (JSON) is merged into the config,
//! objects key by key (another app, `storage`); `load_error` (a substring) expects the config to
//! be refused. `known_gap = "why"` marks a case where bellhop still answers
//! otherwise than Caddy: it is counted apart, and the run fails when it
//! starts to pass, so the mark is removed with the gap. In config text, `{root}` is the case's file folder and
//! `{backend}` the address of an echo backend, which answers 200 with the
//! request line and headers it received as its body. `upstream_raw` (raw
//! HTTP text) starts a backend for the case that answers every request
//! with exactly those bytes and closes; `{upstream}` is its address.
//! `unix = "srv.sock"` sends the requests over the unix socket
//! `{root}/srv.sock` (which the case's server must `listen` on) instead of
//! TCP.

use bellhop_runtime::Runtime;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    from: String,
    routes: Option<String>,
    server: Option<String>,
    config: Option<String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    mtimes: BTreeMap<String, u64>,
    /// Symbolic links to make: name → target.
    #[serde(default)]
    symlinks: BTreeMap<String, String>,
    merge: Option<String>,
    load_error: Option<String>,
    known_gap: Option<String>,
    upstream_raw: Option<String>,
    unix: Option<String>,
    #[serde(default)]
    req: Vec<Req>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Req {
    method: Option<String>,
    target: Option<String>,
    host: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    send_body: Option<String>,
    raw: Option<String>,
    status: u16,
    body: Option<String>,
    #[serde(default)]
    body_has: Vec<String>,
    /// Substrings compared without case (header lines echoed by a backend).
    #[serde(default)]
    body_has_nocase: Vec<String>,
    /// Substrings the body must not hold, compared without case.
    #[serde(default)]
    body_lacks_nocase: Vec<String>,
    /// A regexp the whole body must match.
    body_match: Option<String>,
    #[serde(default)]
    header: BTreeMap<String, String>,
    #[serde(default)]
    header_match: BTreeMap<String, String>,
    #[serde(default)]
    present: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
}

/// An answer read off the wire.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/caddy_cases")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_ported_cases() {
    let backend = echo_backend().await;
    let mut files: Vec<_> = std::fs::read_dir(cases_dir())
        .expect("testdata/caddy_cases")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let (mut cases, mut requests, mut gaps, mut failures) = (0, 0, 0, Vec::new());
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let file: File =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        for case in &file.case {
            cases += 1;
            requests += case.req.len();
            let label = format!("{stem}: {} ({})", case.name, case.from);
            match (run_case(case, backend).await, &case.known_gap) {
                (Ok(()), None) => {}
                (Err(e), None) => failures.push(format!("{label}\n    {e}")),
                (Err(_), Some(_)) => gaps += 1,
                (Ok(()), Some(why)) => failures.push(format!(
                    "{label}\n    passes now: remove its known_gap ({why})"
                )),
            }
        }
    }
    println!(
        "caddy_ported_cases: {} files, {cases} cases, {requests} requests, \
         {gaps} known gaps, {} failing",
        files.len(),
        failures.len()
    );
    assert!(cases > 0, "no cases found in {}", cases_dir().display());
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ from Caddy:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn run_case(case: &Case, backend: SocketAddr) -> Result<(), String> {
    let root = tempfile::tempdir().unwrap();
    for (name, content) in &case.files {
        let p = root.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    for (name, target) in &case.symlinks {
        std::os::unix::fs::symlink(target, root.path().join(name)).unwrap();
    }
    // Directories too (after their entries, whose making changes them).
    for (name, secs) in &case.mtimes {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(*secs);
        let f = std::fs::File::open(root.path().join(name)).unwrap();
        f.set_modified(t).unwrap();
    }
    let upstream = match &case.upstream_raw {
        Some(raw) => Some(raw_upstream(raw.clone()).await),
        None => None,
    };
    let fill = |s: &str| {
        let s = s
            .replace("{root}", &root.path().display().to_string())
            .replace("{backend}", &backend.to_string());
        match &upstream {
            Some((a, _)) => s.replace("{upstream}", &a.to_string()),
            None => s,
        }
    };
    let mut config = match (&case.routes, &case.server, &case.config) {
        (Some(r), None, None) => crate::support::config_with(serde_json::json!({
            "routes": parse_json(&fill(r))?
        })),
        (None, Some(s), None) => crate::support::config_with(parse_json(&fill(s))?),
        (None, None, Some(c)) => parse_json(&fill(c))?,
        _ => return Err("exactly one of routes, server, config".into()),
    };
    if let Some(m) = &case.merge {
        merge(&mut config, parse_json(&fill(m))?);
    }
    let rt = Runtime::new();
    let loaded = rt.load(config.to_string().as_bytes());
    match (&case.load_error, loaded) {
        (Some(want), Err(e)) if e.to_string().contains(want.as_str()) => return Ok(()),
        (Some(want), Err(e)) => return Err(format!("load error {e:?} lacks {want:?}")),
        (Some(_), Ok(())) => return Err("config loaded; Caddy refuses it".into()),
        (None, Err(e)) => return Err(format!("config refused: {e}")),
        (None, Ok(())) => {}
    }
    let to = match &case.unix {
        Some(name) => To::Unix(root.path().join(name)),
        None => To::Tcp(rt.server_addrs("srv0")[0]),
    };
    for (i, r) in case.req.iter().enumerate() {
        let raw = r.raw.clone().unwrap_or_else(|| build_request(r));
        let got = exchange(&to, raw.as_bytes()).await?;
        check(r, &got).map_err(|e| format!("request {i} ({}): {e}", first_line(&raw)))?;
    }
    rt.stop().await;
    if let Some((_, task)) = upstream {
        task.abort();
    }
    Ok(())
}

/// Where a case's requests go.
enum To {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// Merges `add` into `into`: objects key by key, anything else replaced.
fn merge(into: &mut serde_json::Value, add: serde_json::Value) {
    match (into, add) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn parse_json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("case JSON: {e}"))
}

fn first_line(raw: &str) -> &str {
    raw.split("\r\n").next().unwrap_or(raw)
}

/// The request as raw HTTP/1.1 text, closing the connection after it.
fn build_request(r: &Req) -> String {
    let method = r.method.as_deref().unwrap_or("GET");
    let target = r.target.as_deref().unwrap_or("/");
    let mut s = format!("{method} {target} HTTP/1.1\r\n");
    match r.host.as_deref() {
        Some("") => {}
        h => s += &format!("Host: {}\r\n", h.unwrap_or("example.com")),
    }
    for (k, v) in &r.headers {
        s += &format!("{k}: {v}\r\n");
    }
    if let Some(b) = &r.send_body {
        s += &format!("Content-Length: {}\r\n", b.len());
    }
    s += "Connection: close\r\n\r\n";
    s += r.send_body.as_deref().unwrap_or("");
    s
}

fn check(r: &Req, got: &Answer) -> Result<(), String> {
    let mut errs = Vec::new();
    if got.status != r.status {
        errs.push(format!("status {} (want {})", got.status, r.status));
    }
    if let Some(b) = &r.body {
        if &got.body != b {
            errs.push(format!("body {:?} (want {b:?})", got.body));
        }
    }
    for s in &r.body_has {
        if !got.body.contains(s.as_str()) {
            errs.push(format!("body {:?} lacks {s:?}", got.body));
        }
    }
    for s in &r.body_has_nocase {
        if !got.body.to_lowercase().contains(&s.to_lowercase()) {
            errs.push(format!("body {:?} lacks {s:?} (any case)", got.body));
        }
    }
    for s in &r.body_lacks_nocase {
        if got.body.to_lowercase().contains(&s.to_lowercase()) {
            errs.push(format!("body {:?} holds {s:?}", got.body));
        }
    }
    if let Some(re) = &r.body_match {
        let re = regex::Regex::new(re).map_err(|e| format!("body_match: {e}"))?;
        if !re.is_match(&got.body) {
            errs.push(format!("body {:?} (want /{re}/)", got.body));
        }
    }
    let header = |n: &str| {
        let vals: Vec<&str> = got
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
            .collect();
        (!vals.is_empty()).then(|| vals.join(", "))
    };
    for (name, want) in &r.header {
        match header(name) {
            Some(v) if &v == want => {}
            other => errs.push(format!("header {name}: {other:?} (want {want:?})")),
        }
    }
    for (name, re) in &r.header_match {
        let re = regex::Regex::new(re).map_err(|e| format!("header_match {name}: {e}"))?;
        match header(name) {
            Some(v) if re.is_match(&v) => {}
            other => errs.push(format!("header {name}: {other:?} (want /{re}/)")),
        }
    }
    for name in &r.present {
        if header(name).is_none() {
            errs.push(format!("header {name} missing"));
        }
    }
    for name in &r.absent {
        if let Some(v) = header(name) {
            errs.push(format!("header {name}: {v:?} (want none)"));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

/// Sends `raw` and reads the answer until the server closes.
async fn exchange(to: &To, raw: &[u8]) -> Result<Answer, String> {
    let out = match to {
        To::Tcp(addr) => {
            let c = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            send_and_read(c, raw).await?
        }
        To::Unix(path) => {
            let c = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            send_and_read(c, raw).await?
        }
    };
    parse_answer(&out)
}

async fn send_and_read<S>(mut c: S, raw: &[u8]) -> Result<Vec<u8>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    c.write_all(raw).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut out))
        .await
        .map_err(|_| "no answer within 10 s".to_string())?
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// A backend that reads each request's head and answers `raw`, then closes.
async fn raw_upstream(raw: String) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let raw = std::sync::Arc::new(raw);
    crate::proxy_support::raw_backend(move |mut c| {
        let raw = raw.clone();
        async move {
            if crate::proxy_support::read_head(&mut c).await.is_some() {
                let _ = c.write_all(raw.as_bytes()).await;
                let _ = c.shutdown().await;
            }
        }
    })
    .await
}

fn parse_answer(out: &[u8]) -> Result<Answer, String> {
    let text = String::from_utf8_lossy(out);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response head in {text:?}"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out += &rest[..n];
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A backend that answers every request with its head as the body.
async fn echo_backend() -> SocketAddr {
    let (addr, _task) = crate::proxy_support::raw_backend(|mut c| async move {
        let Some((buf, end)) = crate::proxy_support::read_head(&mut c).await else {
            return;
        };
        let head = &buf[..end - 4];
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            head.len()
        );
        let _ = c.write_all(resp.as_bytes()).await;
        let _ = c.write_all(head).await;
    })
    .await;
    addr
}
