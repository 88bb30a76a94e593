//! Listener wrappers end to end, from raw sockets: PROXY protocol v1 and
//! v2 headers giving the client's address to placeholders and matchers,
//! the policies (allow, deny, fallback), a header split across writes, a
//! header that never completes, PROXY before the TLS handshake, and
//! `http_redirect` on a TLS port; config errors name the wrapper.

use crate::support::*;
use crate::tls_support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const V1: &[u8] = b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\n";
const REQ: &[u8] = b"GET /who HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";

/// A v2 PROXY header (PROXY command, TCP over IPv6) from `[2001:db8::7]:4242`.
fn v2() -> Vec<u8> {
    let mut b = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    b.extend([0x21, 0x21, 0, 36]);
    b.extend(
        "2001:db8::7"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    b.extend(
        "2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    b.extend(4242u16.to_be_bytes());
    b.extend(443u16.to_be_bytes());
    b
}

fn server(wrapper: Value) -> TestServer {
    start(config_with(json!({
        "listener_wrappers": [wrapper],
        "routes": [
            {"match": [{"remote_ip": {"ranges": ["192.0.2.0/24"]}}],
             "handle": [respond("doc {http.request.remote} {http.request.local.port}")]},
            {"handle": [respond("{http.request.remote.host}")]}
        ]
    })))
}

/// Writes `parts` (pausing between them) and reads the answer to EOF:
/// `None` when the server closed without answering.
async fn exchange(addr: SocketAddr, parts: &[&[u8]]) -> Option<String> {
    let mut c = TcpStream::connect(addr).await.unwrap();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        if c.write_all(p).await.is_err() {
            return None;
        }
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), c.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (_, body) = text.split_once("\r\n\r\n")?;
    Some(body.to_string())
}

#[tokio::test]
async fn a_trusted_peer_s_header_gives_the_client_address() {
    let s = server(json!({"wrapper": "proxy_protocol", "allow": ["127.0.0.0/8"]}));
    let v1 = exchange(s.addr, &[&[V1, REQ].concat()]).await;
    assert_eq!(v1.as_deref(), Some("doc 192.0.2.1:5000 443"));
    let v2 = exchange(s.addr, &[&[&v2()[..], REQ].concat()]).await;
    assert_eq!(v2.as_deref(), Some("2001:db8::7"));
    // a header split across writes, and the request in a later one
    let split = exchange(s.addr, &[&V1[..9], &V1[9..], REQ]).await;
    assert_eq!(split.as_deref(), Some("doc 192.0.2.1:5000 443"));
    // no header: the socket's own address
    assert_eq!(exchange(s.addr, &[REQ]).await.as_deref(), Some("127.0.0.1"));
    // a POST is not mistaken for the start of a v1 header
    let post = b"POST /who HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(
        exchange(s.addr, &[post]).await.as_deref(),
        Some("127.0.0.1")
    );
    // a malformed header closes the connection
    let bad = b"PROXY TCP4 999.1.1.1 1.1.1.1 1 2\r\n";
    assert_eq!(exchange(s.addr, &[&[&bad[..], REQ].concat()]).await, None);
}

#[tokio::test]
async fn policies_decide_by_the_peer() {
    // not in `allow`: IGNORE by default (the header is read and dropped)
    let ignore = server(json!({"wrapper": "proxy_protocol", "allow": ["10.0.0.0/8"]}));
    let r = exchange(ignore.addr, &[&[V1, REQ].concat()]).await;
    assert_eq!(r.as_deref(), Some("127.0.0.1"));
    // denied: a header closes the connection, no header is served
    let deny = server(json!({"wrapper": "proxy_protocol", "deny": ["127.0.0.1/32"]}));
    assert_eq!(exchange(deny.addr, &[&[V1, REQ].concat()]).await, None);
    assert_eq!(
        exchange(deny.addr, &[REQ]).await.as_deref(),
        Some("127.0.0.1")
    );
    // REQUIRE: no header closes the connection; a header is used
    let require = server(json!({"wrapper": "proxy_protocol", "fallback_policy": "REQUIRE"}));
    assert_eq!(exchange(require.addr, &[REQ]).await, None);
    let r = exchange(require.addr, &[&[V1, REQ].concat()]).await;
    assert_eq!(r.as_deref(), Some("doc 192.0.2.1:5000 443"));
    // SKIP: nothing is read, so the header reaches HTTP, which refuses it
    let skip = server(json!({"wrapper": "proxy_protocol", "fallback_policy": "skip"}));
    let mut c = TcpStream::connect(skip.addr).await.unwrap();
    c.write_all(&[V1, REQ].concat()).await.unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out).await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
}

#[tokio::test]
async fn a_header_that_never_completes_is_closed_after_the_timeout() {
    let s = server(json!({"wrapper": "proxy_protocol", "allow": ["127.0.0.0/8"], "timeout": "1s"}));
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"PROXY TCP4 192.0").await.unwrap();
    let began = Instant::now();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut out)).await;
    let took = began.elapsed();
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    // and a client that sends nothing is left to HTTP's own timeouts, served once it speaks
    let mut late = TcpStream::connect(s.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    late.write_all(REQ).await.unwrap();
    let mut out = String::new();
    let _ = late.read_to_string(&mut out).await;
    assert!(out.ends_with("127.0.0.1"), "{out}");
}

fn tls_server(ca: &TestCa, wrappers: Value) -> TestServer {
    let (cert, key) = ca.leaf(&["a.test"]);
    start(json!({"apps": {
        "tls": {"certificates": {"load_pem": [{"certificate": cert, "key": key}]}},
        "http": {"servers": {"s": {
            "listen": ["127.0.0.1:0"],
            "listener_wrappers": wrappers,
            "tls_connection_policies": [{}],
            "routes": [{"handle": [respond("{http.request.scheme} {http.request.remote.host}")]}]
        }}}
    }}))
}

#[tokio::test]
async fn proxy_protocol_before_tls_and_http_redirect_on_the_tls_port() {
    let ca = TestCa::new("PP CA");
    let s = tls_server(
        &ca,
        json!([{"wrapper": "http_redirect"}, {"wrapper": "proxy_protocol", "allow": ["127.0.0.0/8"]}, {"wrapper": "tls"}]),
    );
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(V1).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("a.test").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client(&[&ca.pem], None, &[b"http/1.1"]))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(REQ).await.unwrap();
    let mut out = String::new();
    let _ = tls.read_to_string(&mut out).await;
    assert!(out.ends_with("https 192.0.2.1"), "{out}");
    // plain HTTP on the TLS port: Caddy's 308 to https, then close
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /a/b?c=d HTTP/1.1\r\nHost: a.test:8443\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out).await;
    assert_eq!(
        out,
        "HTTP/1.0 308 Permanent Redirect\r\nLocation: https://a.test:8443/a/b?c=d\r\nContent-Length: 0\r\n\r\n"
    );
    // a head longer than max_header_bytes gets no redirect, only a close
    let tight = tls_server(
        &ca,
        json!([{"wrapper": "http_redirect", "max_header_bytes": 64}, {"wrapper": "tls"}]),
    );
    let mut c = TcpStream::connect(tight.addr).await.unwrap();
    let long = format!(
        "GET /a HTTP/1.1\r\nHost: a.test\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(200)
    );
    c.write_all(long.as_bytes()).await.unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out).await;
    assert_eq!(out, "", "no redirect for an oversized head");
    let mut c = TcpStream::connect(tight.addr).await.unwrap();
    c.write_all(b"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out).await;
    assert!(out.starts_with("HTTP/1.0 308"), "{out}");
    // without the wrapper, the same request gets Go's 400
    let plain = tls_server(&ca, json!([]));
    let mut c = TcpStream::connect(plain.addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out).await;
    assert!(out.starts_with("HTTP/1.0 400 Bad Request"), "{out}");
}

#[tokio::test]
async fn wrapper_config_errors_name_the_wrapper() {
    let cases = [
        (
            json!([{"wrapper": "tls"}]),
            "listener_wrappers[0]",
            "first position",
        ),
        (
            json!([{"wrapper": "http_redirect"}, {"wrapper": "tls"}, {"wrapper": "tls"}]),
            "listener_wrappers[2]",
            "only be specified once",
        ),
        (
            json!([{"wrapper": "nope"}]),
            "listener_wrappers[0].wrapper",
            "caddy.listeners.nope",
        ),
        (
            json!([{"wrapper": "proxy_protocol", "allow": ["1.2.3.4"]}]),
            "listener_wrappers[0].allow[0]",
            "ParsePrefix",
        ),
    ];
    for (wrappers, at, why) in cases {
        let config = config_with(json!({"listener_wrappers": wrappers, "routes": []}));
        let e = bellhop_runtime::validate(config.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(at) && e.contains(why), "{e}");
    }
}

#[tokio::test]
async fn a_unix_socket_peer_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pp.sock");
    let rt = bellhop_runtime::Runtime::new();
    let cfg = config_with(json!({
        "listen": [format!("unix/{}", path.display())],
        "listener_wrappers": [{"wrapper": "proxy_protocol", "fallback_policy": "reject"}],
        "routes": [{"handle": [respond("{http.request.remote}")]}]
    }));
    rt.load(cfg.to_string().as_bytes()).unwrap();
    for (sent, want) in [([V1, REQ].concat(), "192.0.2.1:5000"), (REQ.to_vec(), "@")] {
        let mut c = tokio::net::UnixStream::connect(&path).await.unwrap();
        c.write_all(&sent).await.unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).await.unwrap();
        assert!(out.ends_with(want), "{out}");
    }
}

/// reverse_proxy to a TLS upstream with `proxy_protocol` sends the PROXY
/// header before the TLS handshake, and a `server_name` with placeholders
/// is rendered per request (Caddy's httptransport_test.go
/// TestHTTPTransport_DialTLSContext_ProxyProtocol: "TLS with placeholder
/// ServerName and proxy protocol"): the upstream sees the client's own
/// port and the name the client asked for.
#[tokio::test]
async fn a_tls_upstream_gets_the_proxy_header_first_and_a_rendered_server_name() {
    let ca = TestCa::new("PP upstream CA");
    let (cert, key) = ca.leaf(&["a.test"]);
    let up = start(json!({"apps": {
        "tls": {"certificates": {"load_pem": [{"certificate": cert, "key": key}]}},
        "http": {"servers": {"s": {
            "listen": ["127.0.0.1:0"],
            "listener_wrappers": [{"wrapper": "proxy_protocol", "allow": ["127.0.0.0/8"]}, {"wrapper": "tls"}],
            "tls_connection_policies": [{}],
            "routes": [{"handle": [respond("{http.request.remote.port} {http.request.tls.server_name}")]}]
        }}}
    }}));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    for version in ["v1", "v2"] {
        let front = start(config_with(json!({"routes": [{"handle": [{
            "handler": "reverse_proxy",
            "upstreams": [{"dial": up.addr.to_string()}],
            "transport": {"protocol": "http", "proxy_protocol": version, "tls": {
                "root_ca_pem_files": [ca_file.display().to_string()],
                "server_name": "{http.request.host}"}}
        }]}]})));
        let mut c = TcpStream::connect(front.addr).await.unwrap();
        let port = c.local_addr().unwrap().port();
        c.write_all(REQ).await.unwrap();
        let mut out = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_string(&mut out)).await;
        assert!(out.ends_with(&format!("{port} a.test")), "{version}: {out}");
    }
}
