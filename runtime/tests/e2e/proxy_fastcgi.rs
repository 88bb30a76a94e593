//! reverse_proxy's FastCGI transport against a FastCGI responder written
//! here (records, name-value pairs, STDIN, STDOUT with a CGI head):
//! `split_path`, `root`, `env` with placeholders, `SCRIPT_FILENAME`, the
//! request body, the CGI `Status`, and no `HTTP_PROXY` (httpoxy) or
//! headers with `_` in their names.

use crate::proxy_support::*;
use crate::support::*;
use serde_json::json;
use std::collections::BTreeMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn record(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 8];
    s.read_exact(&mut h).await.unwrap();
    let len = u16::from_be_bytes([h[4], h[5]]) as usize;
    let mut body = vec![0u8; len + h[6] as usize];
    s.read_exact(&mut body).await.unwrap();
    body.truncate(len);
    (h[1], body)
}

fn write_record(out: &mut Vec<u8>, kind: u8, content: &[u8]) {
    out.extend_from_slice(&[1, kind, 0, 1]);
    out.extend_from_slice(&(content.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(content);
}

fn pairs(mut p: &[u8]) -> BTreeMap<String, String> {
    let len = |p: &mut &[u8]| {
        if p[0] & 0x80 == 0 {
            let n = p[0] as usize;
            *p = &p[1..];
            n
        } else {
            let n = u32::from_be_bytes([p[0] & 0x7f, p[1], p[2], p[3]]) as usize;
            *p = &p[4..];
            n
        }
    };
    let mut out = BTreeMap::new();
    while !p.is_empty() {
        let (k, v) = (len(&mut p), len(&mut p));
        let key = String::from_utf8_lossy(&p[..k]).into_owned();
        let val = String::from_utf8_lossy(&p[k..k + v]).into_owned();
        p = &p[k + v..];
        out.insert(key, val);
    }
    out
}

/// Serves one FastCGI request: answers 201 with every parameter
/// (`K=V` lines) and the STDIN it got.
async fn responder(mut s: TcpStream) {
    let (mut params, mut stdin) = (Vec::new(), Vec::new());
    loop {
        match record(&mut s).await {
            (4, c) => params.extend_from_slice(&c),
            (5, c) if c.is_empty() => break,
            (5, c) => stdin.extend_from_slice(&c),
            _ => {}
        }
    }
    let env = pairs(&params);
    let mut body = String::from("Content-Type: text/plain\r\nStatus: 201 Created\r\n\r\n");
    for (k, v) in &env {
        body.push_str(&format!("{k}={v}\n"));
    }
    body.push_str(&format!("STDIN={}\n", String::from_utf8_lossy(&stdin)));
    let mut out = Vec::new();
    write_record(&mut out, 6, body.as_bytes());
    write_record(&mut out, 6, b"");
    write_record(&mut out, 3, &[0; 8]);
    s.write_all(&out).await.unwrap();
}

fn var<'a>(body: &'a str, k: &str) -> Option<&'a str> {
    body.lines().find_map(|l| l.strip_prefix(&format!("{k}=")))
}

#[tokio::test]
async fn fastcgi_builds_the_cgi_environment() {
    let (addr, _task) = raw_backend(responder).await;
    let s = bellhop(proxy(
        &[addr],
        json!({"transport": {"protocol": "fastcgi", "root": "/srv/www",
            "split_path": [".php"], "env": {"APP_ENV": "test-{http.request.method}"}}}),
    ));
    let r = send(
        Proto::H1,
        "POST",
        s.addr,
        "/blog/index.PHP/extra/path?x=1",
        &[
            ("Host", "site.test"),
            ("Proxy", "http://evil"),
            ("X_Under", "1"),
            ("X-Custom", "yes"),
            ("Content-Type", "text/plain"),
        ],
        "form-data",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let b = r.body.as_str();
    assert_eq!(
        var(b, "SCRIPT_FILENAME"),
        Some("/srv/www/blog/index.PHP"),
        "{b}"
    );
    assert_eq!(var(b, "SCRIPT_NAME"), Some("/blog/index.PHP"));
    assert_eq!(var(b, "PATH_INFO"), Some("/extra/path"));
    assert_eq!(var(b, "DOCUMENT_ROOT"), Some("/srv/www"));
    assert_eq!(var(b, "QUERY_STRING"), Some("x=1"));
    assert_eq!(
        var(b, "REQUEST_URI"),
        Some("/blog/index.PHP/extra/path?x=1")
    );
    assert_eq!(var(b, "REQUEST_METHOD"), Some("POST"));
    assert_eq!(var(b, "CONTENT_LENGTH"), Some("9"));
    assert_eq!(var(b, "CONTENT_TYPE"), Some("text/plain"));
    assert_eq!(var(b, "SERVER_NAME"), Some("site.test"));
    assert_eq!(var(b, "APP_ENV"), Some("test-POST"));
    assert_eq!(var(b, "HTTP_X_CUSTOM"), Some("yes"));
    assert_eq!(var(b, "HTTP_PROXY"), None, "httpoxy");
    assert_eq!(var(b, "HTTP_X_UNDER"), None, "names with _ are dropped");
    assert_eq!(var(b, "STDIN"), Some("form-data"));
}

#[tokio::test]
async fn fastcgi_without_a_split_match_uses_the_whole_path() {
    let (addr, _task) = raw_backend(responder).await;
    let s = bellhop(proxy(
        &[addr],
        json!({"transport": {"protocol": "fastcgi", "root": "/srv", "split_path": [".php"]}}),
    ));
    let r = get(s.addr, "/static/app.js").await;
    assert_eq!(var(&r.body, "SCRIPT_FILENAME"), Some("/srv/static/app.js"));
    assert_eq!(var(&r.body, "PATH_INFO"), Some(""));
}

#[tokio::test]
async fn fastcgi_dead_server_is_502() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = bellhop(proxy(
        &[dead],
        json!({"transport": {"protocol": "fastcgi"}}),
    ));
    assert_eq!(get(s.addr, "/x.php").await.status, 502);
}

/// Caddy's fastcgi_test.go TestBuildEnvServerAddr and
/// TestBuildEnvDropsProxyHeader: `SERVER_ADDR` is the listener's IP, and a
/// configured `env` overrides it; a client's `Proxy` header, in any case,
/// never becomes `HTTP_PROXY`, while a configured `HTTP_PROXY` is kept;
/// other headers pass as `HTTP_*` with `-` made `_`.
#[tokio::test]
async fn fastcgi_server_addr_and_httpoxy_as_caddys_tables() {
    let (addr, _task) = raw_backend(responder).await;
    let plain = bellhop(proxy(
        &[addr],
        json!({"transport": {"protocol": "fastcgi", "root": "/srv"}}),
    ));
    let configured = bellhop(proxy(
        &[addr],
        json!({"transport": {"protocol": "fastcgi", "root": "/srv", "env": {
            "SERVER_ADDR": "192.168.1.100", "HTTP_PROXY": "http://trusted.example:3128"}}}),
    ));
    for casing in ["Proxy", "proxy", "pRoXy", "PROXY"] {
        let headers = [
            (casing, "http://attacker.example:8080"),
            ("X-Safe-Hdr", "kept"),
        ];
        let r = send(Proto::H1, "GET", plain.addr, "/index.php", &headers, "").await;
        let b = r.body.as_str();
        assert_eq!(var(b, "HTTP_PROXY"), None, "{casing}: {b}");
        assert_eq!(var(b, "HTTP_X_SAFE_HDR"), Some("kept"), "{b}");
        assert_eq!(var(b, "SERVER_ADDR"), Some("127.0.0.1"), "{b}");
        let r = send(
            Proto::H1,
            "GET",
            configured.addr,
            "/index.php",
            &headers,
            "",
        )
        .await;
        let b = r.body.as_str();
        assert_eq!(
            var(b, "HTTP_PROXY"),
            Some("http://trusted.example:3128"),
            "{b}"
        );
        assert_eq!(var(b, "SERVER_ADDR"), Some("192.168.1.100"), "{b}");
    }
}
