//! reverse_proxy through forward proxies (`network_proxy`,
//! `forward_proxy_url`): a tiny HTTP proxy (CONNECT tunnels and
//! absolute-form requests, optional Basic credentials) and a tiny SOCKS5
//! proxy, both written here on 127.0.0.1:0, in front of real backends.

use crate::proxy_support::{backend, bellhop, named, ok, proxy, test_cert, tls_backend};
use crate::support::get;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A running forward proxy and the request heads it saw (first line,
/// then the `Proxy-Authorization` value or "-").
struct FwdProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FwdProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FwdProxy {
    fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

/// An HTTP forward proxy; with `auth`, requests without that
/// `Proxy-Authorization` get 407.
async fn http_proxy(auth: Option<&'static str>) -> FwdProxy {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(serve_http_proxy(s, auth, log.clone()));
        }
    });
    FwdProxy { addr, seen, task }
}

async fn serve_http_proxy(
    s: TcpStream,
    auth: Option<&'static str>,
    log: Arc<Mutex<Vec<(String, String)>>>,
) {
    let mut r = BufReader::new(s);
    let mut head = Vec::new();
    let (mut first, mut creds) = (String::new(), "-".to_string());
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        if first.is_empty() {
            first = line.trim_end().to_string();
        } else if let Some(v) = line
            .to_ascii_lowercase()
            .strip_prefix("proxy-authorization:")
        {
            creds = line[line.len() - v.len()..].trim().to_string();
            continue; // not forwarded
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    log.lock().unwrap().push((first.clone(), creds.clone()));
    if auth.is_some_and(|a| a != creds) {
        let _ = r
            .get_mut()
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    }
    let mut parts = first.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let authority = if method == "CONNECT" {
        target.to_string()
    } else {
        let rest = target.strip_prefix("http://").unwrap_or(target);
        rest.split('/').next().unwrap_or("").to_string()
    };
    let Ok(mut up) = TcpStream::connect(authority.as_str()).await else {
        let _ = r
            .get_mut()
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            .await;
        return;
    };
    if method == "CONNECT" {
        let _ = r
            .get_mut()
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await;
    } else {
        let _ = up.write_all(&head).await;
        let _ = up.write_all(r.buffer()).await;
    }
    let mut s = r.into_inner();
    let _ = tokio::io::copy_bidirectional(&mut s, &mut up).await;
}

/// A SOCKS5 proxy without authentication; logs "host:port" per connect.
async fn socks5_proxy() -> FwdProxy {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut b = [0u8; 2];
                s.read_exact(&mut b).await.unwrap();
                let mut methods = vec![0u8; b[1] as usize];
                s.read_exact(&mut methods).await.unwrap();
                s.write_all(&[5, 0]).await.unwrap();
                let mut req = [0u8; 5];
                s.read_exact(&mut req).await.unwrap();
                assert_eq!((req[1], req[3]), (1, 3), "CONNECT with a domain name");
                let mut name = vec![0u8; req[4] as usize + 2];
                s.read_exact(&mut name).await.unwrap();
                let port = u16::from_be_bytes([name[name.len() - 2], name[name.len() - 1]]);
                let host = String::from_utf8_lossy(&name[..name.len() - 2]).into_owned();
                log.lock()
                    .unwrap()
                    .push((format!("{host}:{port}"), "-".into()));
                let mut up = TcpStream::connect((host.as_str(), port)).await.unwrap();
                s.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut s, &mut up).await;
            });
        }
    });
    FwdProxy { addr, seen, task }
}

#[tokio::test]
async fn plain_upstreams_get_absolute_form_requests_with_proxy_credentials() {
    let fwd = http_proxy(Some("Basic dTpwQHNz")).await;
    let b = backend(|r| async move {
        let leaked = r.headers().contains_key("proxy-authorization");
        ok(format!("{} {leaked}", r.uri()))
    })
    .await;
    let url = format!("http://u:p%40ss@{}", fwd.addr);
    let s = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "network_proxy": {"from": "url", "url": url}}}),
    ));
    let r = get(s.addr, "/path?q=1").await;
    let want = format!("http://{}/path?q=1", b.addr);
    assert_eq!((r.status, r.body.clone()), (200, format!("{want} false")));
    assert_eq!(
        fwd.seen(),
        [(format!("GET {want} HTTP/1.1"), "Basic dTpwQHNz".to_string())]
    );
}

#[tokio::test]
async fn tls_upstreams_are_tunnelled_with_connect() {
    let cert = test_cert(&["localhost"]);
    let b = tls_backend(&cert, |r| async move { ok(format!("{:?}", r.version())) }).await;
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut ca, cert.ca_pem.as_bytes()).unwrap();
    let fwd = http_proxy(None).await;
    let s = bellhop(json!({"handler": "reverse_proxy",
        "upstreams": [{"dial": format!("localhost:{}", b.addr.port())}],
        "transport": {"protocol": "http", "tls": {"root_ca_pem_files": [ca.path()]},
            "network_proxy": {"from": "url", "url": format!("http://{}", fwd.addr)}}}));
    let r = get(s.addr, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "HTTP/2.0"));
    let target = format!("localhost:{}", b.addr.port());
    assert_eq!(
        fwd.seen(),
        [(format!("CONNECT {target} HTTP/1.1"), "-".into())]
    );
}

#[tokio::test]
async fn a_refused_connect_is_502_and_none_dials_directly() {
    let fwd = http_proxy(Some("Basic secret")).await;
    let b = named("direct").await;
    // The older `forward_proxy_url`; h2c upstreams are tunnelled too.
    let refused = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "versions": ["h2c"],
            "forward_proxy_url": format!("http://{}", fwd.addr)}}),
    ));
    assert_eq!(get(refused.addr, "/").await.status, 502);
    assert_eq!(fwd.seen().len(), 1);
    assert!(fwd.seen()[0].0.starts_with("CONNECT "), "{:?}", fwd.seen());
    let direct = bellhop(proxy(
        &[b.addr],
        json!({"transport": {"protocol": "http", "network_proxy": {"from": "none"}}}),
    ));
    assert_eq!(get(direct.addr, "/").await.body, "direct");
    assert_eq!(b.hits(), 1);
}

#[tokio::test]
async fn socks5_proxies_tunnel_by_name() {
    let socks = socks5_proxy().await;
    let b = named("via-socks").await;
    let s = bellhop(json!({"handler": "reverse_proxy",
        "upstreams": [{"dial": format!("localhost:{}", b.addr.port())}],
        "transport": {"protocol": "http",
            "network_proxy": {"from": "url", "url": format!("socks5://{}", socks.addr)}}}));
    for _ in 0..4 {
        assert_eq!(get(s.addr, "/").await.body, "via-socks");
    }
    let target = format!("localhost:{}", b.addr.port());
    // Tunnels by name, kept alive (one per serving thread) for the
    // requests after them.
    let warmed = socks.seen();
    assert!(
        !warmed.is_empty()
            && warmed
                .iter()
                .all(|t| *t == (target.clone(), "-".to_string())),
        "{warmed:?}"
    );
    for _ in 0..8 {
        assert_eq!(get(s.addr, "/").await.body, "via-socks");
    }
    assert_eq!(socks.seen(), warmed, "no new tunnel");
}

#[tokio::test]
async fn bad_proxy_settings_are_config_errors_naming_the_path() {
    let cases = [
        (
            json!({"from": "url", "url": "https://proxy:3128"}),
            "network_proxy.url",
        ),
        (
            json!({"from": "environment"}),
            "caddy.network_proxy.source.environment",
        ),
        (json!({"from": "url"}), "network_proxy.url"),
    ];
    for (np, want) in cases {
        let rt = bellhop_runtime::Runtime::new();
        let cfg = crate::support::config_with(json!({"routes": [{"handle": [
            {"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:1"}],
             "transport": {"protocol": "http", "network_proxy": np}}]}]}));
        let err = rt.load(cfg.to_string().as_bytes()).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
}
