//! HTTP/2 server push (`http.handlers.push`) with a real HTTP/2 client
//! (the `h2` crate, push enabled): configured resources and `Link` fields
//! promised and served through the server's routes, the promised
//! requests' headers, over h2c and over TLS; no push to a client that
//! disabled it, to a request that is itself pushed, or over HTTP/1.1; and
//! Caddy's `TestParseLinkHeader` table seen from the client.

use crate::support::*;
use crate::tls_support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncWrite};

/// What one promised stream carried.
#[derive(Debug)]
struct Pushed {
    method: String,
    uri: String,
    headers: http::HeaderMap,
    status: u16,
    body: String,
}

/// The response to a GET and what was pushed with it, in order.
#[derive(Debug)]
struct Got {
    status: u16,
    body: String,
    pushed: Vec<Pushed>,
}

async fn read_body(mut b: h2::RecvStream) -> String {
    let mut out = Vec::new();
    while let Some(chunk) = b.data().await {
        let chunk = chunk.unwrap();
        let _ = b.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    String::from_utf8(out).unwrap()
}

/// GETs `uri` over HTTP/2 on `io`, with `push` enabled or not.
async fn h2_get<T>(io: T, push: bool, uri: &str, headers: &[(&str, &str)]) -> Got
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut client, conn) = h2::client::Builder::new()
        .enable_push(push)
        .handshake::<_, bytes::Bytes>(io)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = http::Request::get(uri).body(()).unwrap();
    for (k, v) in headers {
        req.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let (mut resp, _) = client.send_request(req, true).unwrap();
    let mut promises = resp.push_promises();
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    let body = read_body(resp.into_body()).await;
    let mut pushed = Vec::new();
    while let Some(p) = promises.push_promise().await {
        let (req, resp) = p.unwrap().into_parts();
        let resp = resp.await.unwrap();
        pushed.push(Pushed {
            method: req.method().to_string(),
            uri: req.uri().to_string(),
            headers: req.headers().clone(),
            status: resp.status().as_u16(),
            body: read_body(resp.into_body()).await,
        });
    }
    Got {
        status,
        body,
        pushed,
    }
}

async fn h2c_get(addr: SocketAddr, push: bool, path: &str, headers: &[(&str, &str)]) -> Got {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    h2_get(tcp, push, &format!("http://push.test{path}"), headers).await
}

/// The routes: a `push` handler first, then the pages and resources. Each
/// resource answers with what its (pushed) request carried.
fn routes() -> Value {
    json!([
        {"handle": [{
            "handler": "push",
            "resources": [{"target": "/style.css"}, {"method": "HEAD", "target": "/app.js"}],
            "headers": {"set": {"X-Pushed-By": ["bellhop {http.request.uri.path}"]}, "delete": ["Accept"]}
        }]},
        {"match": [{"path": ["/"]}], "handle": [{
            "handler": "static_response",
            "headers": {"Link": ["</late.js>; as=script, </np.js>; nopush", "<https://cdn.test/x.js>, <//cdn.test/y.js>"]},
            "body": "index"
        }]},
        {"match": [{"path": ["/link"]}], "handle": [{
            "handler": "static_response",
            "headers": {"Link": ["{http.request.uri.query.l}"]},
            "body": "link"
        }]},
        {"handle": [{
            "handler": "static_response",
            "body": "{http.request.method} {http.request.uri} push={http.request.header.Caddy-Push} by={http.request.header.X-Pushed-By} lang={http.request.header.Accept-Language} accept={http.request.header.Accept} other={http.request.header.X-Other}"
        }]}
    ])
}

fn h2c_server() -> TestServer {
    start(config_with(
        json!({"protocols": ["h1", "h2c"], "routes": routes()}),
    ))
}

fn promised(got: &Got) -> Vec<(String, String)> {
    got.pushed
        .iter()
        .map(|p| (p.method.clone(), p.uri.clone()))
        .collect()
}

fn pair(m: &str, u: &str) -> (String, String) {
    (m.to_string(), u.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_and_links_are_pushed_and_served_through_the_routes() {
    let s = h2c_server();
    let got = h2c_get(
        s.addr,
        true,
        "/",
        &[
            ("accept-language", "fr"),
            ("accept", "text/html"),
            ("user-agent", "pushtest"),
            ("x-other", "kept-out"),
        ],
    )
    .await;
    assert_eq!((got.status, got.body.as_str()), (200, "index"));
    // configured resources first, then the Link fields' local, pushable ones
    assert_eq!(
        promised(&got),
        vec![
            pair("GET", "http://push.test/style.css"),
            pair("HEAD", "http://push.test/app.js"),
            pair("GET", "http://push.test/late.js"),
        ]
    );
    let css = &got.pushed[0];
    assert_eq!(css.status, 200);
    // the promised request: Caddy-Push, the safe fields, the handler's
    // operations (placeholders from the client's request, Accept deleted)
    assert_eq!(css.headers["caddy-push"], "1");
    assert_eq!(css.headers["accept-language"], "fr");
    assert_eq!(css.headers["user-agent"], "pushtest");
    assert_eq!(css.headers["x-pushed-by"], "bellhop /");
    assert!(!css.headers.contains_key("accept"));
    assert!(!css.headers.contains_key("x-other"));
    // the pushed request went through the routes with those headers
    assert_eq!(
        css.body,
        "GET /style.css push=1 by=bellhop / lang=fr accept= other="
    );
    // a HEAD push has no body; the Link push has the same headers
    assert_eq!(
        (got.pushed[1].status, got.pushed[1].body.as_str()),
        (200, "")
    );
    assert!(got.pushed[2]
        .body
        .starts_with("GET /late.js push=1 by=bellhop / lang=fr"));
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_pushed_to_a_client_that_disabled_push_or_over_http1() {
    let s = h2c_server();
    let got = h2c_get(s.addr, false, "/", &[]).await;
    assert_eq!((got.status, got.body.as_str()), (200, "index"));
    assert!(got.pushed.is_empty(), "{:?}", promised(&got));
    // HTTP/1.1 on the same server: answered, nothing else happens
    let r = get(s.addr, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "index"));
    let r = get(s.addr, "/style.css").await;
    assert_eq!(r.body, "GET /style.css push= by= lang= accept= other=");
}

/// As Go's server: pushed streams open at once may not exceed the
/// client's SETTINGS_MAX_CONCURRENT_STREAMS; the push past it fails, and
/// the handler pushes nothing more. Counted on the wire (the `h2` client
/// would hide promises past its limit by refusing them).
#[tokio::test(flavor = "multi_thread")]
async fn pushes_stop_at_the_clients_concurrent_stream_limit() {
    let s = h2c_server();
    assert_eq!(promises_on_the_wire(s.addr, 1).await, 1);
    assert_eq!(promises_on_the_wire(s.addr, 2).await, 2);
    assert_eq!(promises_on_the_wire(s.addr, 100).await, 3);
}

/// Sends `GET /` over h2c as raw frames, allowing `limit` concurrent
/// streams, and counts the PUSH_PROMISE frames until the response ends.
async fn promises_on_the_wire(addr: SocketAddr, limit: u32) -> usize {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let frame = |kind: u8, flags: u8, stream: u32, payload: &[u8]| {
        let len = payload.len() as u32;
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    };
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // SETTINGS: MAX_CONCURRENT_STREAMS = limit, ENABLE_PUSH = 1
    let mut settings = vec![0, 3];
    settings.extend_from_slice(&limit.to_be_bytes());
    settings.extend_from_slice(&[0, 2, 0, 0, 0, 1]);
    out.extend(frame(4, 0, 0, &settings));
    // HPACK: :method GET, :path /, :scheme http, :authority push.test
    let mut block = vec![0x82, 0x84, 0x86, 0x01, 9];
    block.extend_from_slice(b"push.test");
    out.extend(frame(1, 0x1 | 0x4, 1, &block));
    c.write_all(&out).await.unwrap();
    let (mut buf, mut promises) = (Vec::new(), 0);
    let read = async {
        loop {
            let mut chunk = [0u8; 16384];
            let n = c.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before the response ended");
            buf.extend_from_slice(&chunk[..n]);
            while buf.len() >= 9 {
                let len = (buf[0] as usize) << 16 | (buf[1] as usize) << 8 | buf[2] as usize;
                if buf.len() < 9 + len {
                    break;
                }
                let (kind, flags) = (buf[3], buf[4]);
                let stream = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
                buf.drain(..9 + len);
                if kind == 5 {
                    promises += 1;
                }
                if stream == 1 && matches!(kind, 0 | 1) && flags & 0x1 != 0 {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the response to GET / ended");
    promises
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_marked_as_pushed_pushes_nothing() {
    let s = h2c_server();
    let got = h2c_get(s.addr, true, "/", &[("caddy-push", "1")]).await;
    assert_eq!((got.status, got.body.as_str()), (200, "index"));
    assert!(got.pushed.is_empty(), "{:?}", promised(&got));
}

/// Caddy's `TestParseLinkHeader` cases, as a client sees them: a response
/// with the `Link` field pushes the links' URIs, except `nopush` ones.
#[tokio::test(flavor = "multi_thread")]
async fn link_fields_push_as_caddy_parses_them() {
    let s = h2c_server();
    let cases: &[(&str, &[&str])] = &[
        ("</resource>; as=script", &["/resource"]),
        ("</resource>", &["/resource"]),
        ("</resource>; nopush", &[]),
        ("</resource>;nopush;rel=next", &[]),
        ("</resource>;nopush;rel=next,</resource2>;nopush", &[]),
        ("</resource>,</resource2>", &["/resource", "/resource2"]),
        ("malformed", &[]),
        ("<malformed", &[]),
        (",", &[]),
        (";", &[]),
        ("</resource> ; ", &["/resource"]),
    ];
    for (link, want) in cases {
        let q: String = url_escape(link);
        let got = h2c_get(s.addr, true, &format!("/link?l={q}"), &[]).await;
        assert_eq!(got.body, "link", "{link:?}");
        let mut uris: Vec<String> = got.pushed.iter().map(|p| p.uri.clone()).collect();
        // the two configured resources come first
        assert_eq!(uris.drain(..2).count(), 2, "{link:?}");
        let want: Vec<String> = want
            .iter()
            .map(|p| format!("http://push.test{p}"))
            .collect();
        assert_eq!(uris, want, "Link: {link:?}");
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pushes_over_tls_with_the_https_scheme() {
    let ca = TestCa::new("Push CA");
    let (cert, key) = ca.leaf(&["push.test"]);
    let s = start(json!({
        "apps": {
            "tls": {"certificates": {"load_pem": [{"certificate": cert, "key": key}]}},
            "http": {"servers": {"srv0": {
                "listen": ["127.0.0.1:0"],
                "tls_connection_policies": [{}],
                "routes": routes()
            }}}
        }
    }));
    let config = client(&[&ca.pem], None, &[b"h2"]);
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("push.test").unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let got = h2_get(tls, true, "https://push.test/", &[]).await;
    assert_eq!((got.status, got.body.as_str()), (200, "index"));
    assert_eq!(
        promised(&got),
        vec![
            pair("GET", "https://push.test/style.css"),
            pair("HEAD", "https://push.test/app.js"),
            pair("GET", "https://push.test/late.js"),
        ]
    );
    assert!(got.pushed[0].body.starts_with("GET /style.css push=1"));
}

#[test]
fn resources_that_can_never_be_pushed_are_refused_at_load() {
    for (resource, field, says) in [
        (
            json!({"method": "POST", "target": "/a"}),
            "resources[0].method",
            "only GET and HEAD",
        ),
        (
            json!({"target": "style.css"}),
            "resources[0].target",
            "absolute URL or an absolute path",
        ),
    ] {
        let config = config_with(
            json!({"routes": [{"handle": [{"handler": "push", "resources": [resource]}]}]}),
        );
        let e = bellhop_runtime::validate(config.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(field) && e.contains(says), "{e}");
    }
}
