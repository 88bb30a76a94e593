//! Support for the admin API tests: an admin API on 127.0.0.1:0 (autosave
//! in a temporary directory), requests through the admin client, plain
//! GETs to the served site, and a slow handler for in-flight tests.

#![allow(dead_code)]

use bellhop_runtime::admin::client::{self, Reply};
use bellhop_runtime::admin::{Admin, AdminOptions, ConfigAdapter};
use bellhop_runtime::error::Error;
use bellhop_runtime::http::{Body, BoxFuture, Cx, Flow, Handler, Step};
use bellhop_runtime::registry::{Module, Provision, Registry};
use bellhop_runtime::{HttpError, Runtime};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A running admin API and where its files go.
pub struct TestAdmin {
    pub admin: Admin,
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl TestAdmin {
    /// The autosave file.
    pub fn autosave(&self) -> std::path::PathBuf {
        self.dir.path().join("autosave.json")
    }

    /// The autosaved config, once the saves asked for so far are written.
    pub async fn saved(&self) -> Value {
        self.admin.autosaved().await;
        serde_json::from_slice(&std::fs::read(self.autosave()).unwrap()).unwrap()
    }

    /// The address the HTTP app listens on.
    pub fn site(&self) -> std::net::SocketAddr {
        self.admin.runtime().listen_addrs()[0]
    }

    /// Sends a request to the admin API.
    pub async fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        client::request(&self.addr, method, path, headers, body.as_bytes().to_vec())
            .await
            .expect("admin request")
    }

    /// POSTs a JSON config to /load.
    pub async fn load(&self, config: &Value) -> Reply {
        self.req(
            "POST",
            "/load",
            &[("Content-Type", "application/json")],
            &config.to_string(),
        )
        .await
    }

    /// A metric's value from /metrics.
    pub async fn metric(&self, name: &str) -> f64 {
        let r = self.req("GET", "/metrics", &[], "").await;
        let text = String::from_utf8(r.body).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} not in metrics:\n{text}"))
            .parse()
            .unwrap()
    }
}

/// An adapter for the tests: the body is the text a site answers with.
pub struct TextAdapter;

impl ConfigAdapter for TextAdapter {
    fn adapt(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
        if text.is_empty() {
            return Err("empty text".into());
        }
        Ok(site(text).to_string().into_bytes())
    }

    fn adapt_with_warnings(&self, body: &[u8]) -> Result<(Vec<u8>, Vec<String>), String> {
        Ok((self.adapt(body)?, vec!["text adapter: test warning".into()]))
    }
}

/// Options with autosave in `dir` and the text adapter.
pub fn options(dir: &tempfile::TempDir) -> AdminOptions {
    AdminOptions {
        default_listen: "127.0.0.1:0".into(),
        autosave: Some(dir.path().join("autosave.json")),
        max_body: 64 * 1024,
        ..AdminOptions::default()
    }
    .with_adapter("text/x-site", Arc::new(TextAdapter))
}

/// A config with one server on `listen` answering `body`.
pub fn site_on(listen: &str, body: &str) -> Value {
    json!({"apps": {"http": {"servers": {"srv0": {
        "listen": [listen],
        "routes": [{"handle": [{"handler": "static_response", "body": body}]}]
    }}}}})
}

/// A config with one server on 127.0.0.1:0 answering `body`.
pub fn site(body: &str) -> Value {
    site_on("127.0.0.1:0", body)
}

/// Starts an admin API (with the test registry) and loads `config`.
pub async fn start(config: Value) -> TestAdmin {
    let dir = tempfile::tempdir().unwrap();
    let admin = Admin::new(Runtime::with_registry(registry()), options(&dir));
    admin
        .load(config.to_string().into_bytes(), false)
        .await
        .expect("first config loads");
    let addr = admin.address().expect("admin endpoint is enabled");
    TestAdmin { admin, addr, dir }
}

/// GETs `path` from a site over a fresh connection: (status, body).
pub async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use http_body_util::{BodyExt, Empty};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http::<Empty<bytes::Bytes>>();
    let uri: http::Uri = format!("http://{addr}{path}").parse().unwrap();
    let resp = client.get(uri).await.expect("site answers");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The standard modules plus `sleepy` (waits `ms`, then answers `body`).
pub fn registry() -> Registry {
    let mut r = Registry::standard();
    r.register("http.handlers.sleepy", Module::Handler(sleepy));
    r
}

struct Sleepy {
    wait: Duration,
    body: String,
}

fn sleepy(
    raw: &serde_json::value::RawValue,
    _: &mut Provision<'_>,
    _: &str,
) -> Result<Box<dyn Handler>, Error> {
    let v: Value = serde_json::from_str(raw.get()).unwrap_or_default();
    Ok(Box::new(Sleepy {
        wait: Duration::from_millis(v["ms"].as_u64().unwrap_or(0)),
        body: v["body"].as_str().unwrap_or("").to_string(),
    }))
}

impl Handler for Sleepy {
    fn handle(&self, _: &mut Cx<'_>) -> Step {
        Step::Async
    }

    fn handle_async<'s>(&'s self, _: &'s mut Cx<'_>) -> BoxFuture<'s, Result<Flow, HttpError>> {
        Box::pin(async move {
            tokio::time::sleep(self.wait).await;
            Ok(Flow::Respond(http::Response::new(Body::from_bytes(
                self.body.clone(),
            ))))
        })
    }
}

/// The inode of the socket listening on 127.0.0.1:`port`, from /proc/net/tcp.
pub fn listen_inode(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let want = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&want.as_str()) && f.get(3) == Some(&"0A"))
            .then(|| f.get(9)?.parse().ok())
            .flatten()
    })
}

/// Whether this process holds the socket with `inode` (/proc/self/fd).
pub fn holds_socket(inode: u64) -> bool {
    let want = format!("socket:[{inode}]");
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == want))
}

/// Open file descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}
