//! reverse_proxy header rules against a backend that echoes what it
//! received: `X-Forwarded-*` with and without `trusted_proxies`,
//! `header_up`/`header_down` operations with placeholders, `Via` both
//! ways, hop-by-hop removal and the upstream's `Server` header.

use crate::proxy_support::*;
use crate::support::*;
use serde_json::json;

/// Echoes the request headers (one `name: value` per line), sending back
/// the response headers the test asks for.
async fn echo() -> Backend {
    backend(|r| async move {
        let mut lines: Vec<String> = r
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
            .collect();
        lines.sort();
        http::Response::builder()
            .header("x-internal", "secret")
            .header("x-version", "v1.2")
            .header("server", "upstream-srv")
            .header("keep-alive", "timeout=5")
            .body(text(lines.join("\n")))
            .unwrap()
    })
    .await
}

fn line<'a>(body: &'a str, name: &str) -> &'a str {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or("")
}

const SPOOF: [(&str, &str); 4] = [
    ("Host", "site.test"),
    ("X-Forwarded-For", "6.6.6.6"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "evil.test"),
];

#[tokio::test]
async fn forwarded_headers_are_replaced_for_untrusted_clients() {
    let b = echo().await;
    let s = bellhop(proxy(&[b.addr], json!({})));
    let r = get_with(s.addr, "/", &SPOOF).await;
    assert_eq!(line(&r.body, "x-forwarded-for"), "127.0.0.1", "{}", r.body);
    assert_eq!(line(&r.body, "x-forwarded-proto"), "http");
    assert_eq!(line(&r.body, "x-forwarded-host"), "site.test");
    assert_eq!(line(&r.body, "host"), "site.test", "Host passes through");
}

#[tokio::test]
async fn trusted_proxies_extend_the_forwarded_chain() {
    let b = echo().await;
    let s = bellhop(proxy(
        &[b.addr],
        json!({"trusted_proxies": ["127.0.0.0/8"]}),
    ));
    let r = get_with(s.addr, "/", &SPOOF).await;
    assert_eq!(line(&r.body, "x-forwarded-for"), "6.6.6.6, 127.0.0.1");
    assert_eq!(line(&r.body, "x-forwarded-proto"), "https");
    assert_eq!(line(&r.body, "x-forwarded-host"), "evil.test");
    let other = bellhop(proxy(&[b.addr], json!({"trusted_proxies": ["10.0.0.1"]})));
    let r = get_with(other.addr, "/", &SPOOF).await;
    assert_eq!(line(&r.body, "x-forwarded-for"), "127.0.0.1");
}

#[tokio::test]
async fn header_up_and_down_with_placeholders() {
    let b = echo().await;
    let s = bellhop(proxy(
        &[b.addr],
        json!({"headers": {
            "request": {
                "set": {"X-Path": ["{http.request.uri.path}"], "Host": ["backend.internal"]},
                "add": {"X-Tag": ["one", "two"]},
                "delete": ["X-Secret"],
                "replace": {"User-Agent": [{"search_regexp": "^curl", "replace": "client"}]}},
            "response": {
                "set": {"X-Upstream": ["{http.reverse_proxy.upstream.hostport}"]},
                "delete": ["X-Internal"],
                "replace": {"X-Version": [{"search": "v1", "replace": "version-1"}]}}}}),
    ));
    let r = get_with(
        s.addr,
        "/some/path",
        &[("X-Secret", "pw"), ("User-Agent", "curl/8")],
    )
    .await;
    assert_eq!(line(&r.body, "x-path"), "/some/path", "{}", r.body);
    assert_eq!(line(&r.body, "host"), "backend.internal");
    assert_eq!(line(&r.body, "x-secret"), "");
    assert_eq!(line(&r.body, "user-agent"), "client/8");
    assert_eq!(r.body.matches("x-tag: ").count(), 2);
    assert_eq!(r.header("x-upstream"), b.addr.to_string());
    assert_eq!(r.header("x-internal"), "");
    assert_eq!(r.header("x-version"), "version-1.2");
}

#[tokio::test]
async fn via_both_ways_hop_headers_dropped_and_upstream_server_kept() {
    let b = echo().await;
    let s = bellhop(proxy(&[b.addr], json!({})));
    let r = get_with(
        s.addr,
        "/",
        &[("Connection", "keep-alive, X-Hop"), ("X-Hop", "1")],
    )
    .await;
    assert_eq!(line(&r.body, "via"), "1.1 bellhop");
    assert_eq!(
        line(&r.body, "x-hop"),
        "",
        "named by Connection: not forwarded"
    );
    assert_eq!(r.header("via"), "1.1 bellhop");
    assert_eq!(r.header("keep-alive"), "");
    assert_eq!(r.header("server"), "upstream-srv");
    let h2c = start(config_with(json!({"protocols": ["h1", "h2c"],
        "routes": [{"handle": [proxy(&[b.addr], json!({}))]}]})));
    let r = send(Proto::H2c, "GET", h2c.addr, "/", &[], "").await;
    assert_eq!(line(&r.body, "via"), "2.0 bellhop", "{}", r.body);
}

#[tokio::test]
async fn no_server_header_is_added_to_proxied_responses() {
    // The backend sends no `Server`; Caddy adds none to what it proxies.
    let b = crate::proxy_support::named("plain").await;
    let s = bellhop(proxy(&[b.addr], json!({})));
    let r = get(s.addr, "/").await;
    assert_eq!(r.body, "plain");
    assert!(!r.headers.contains_key("server"), "{:?}", r.headers);
    // bellhop's own responses, and the proxy's errors, still name it.
    let own = start_routes(json!([{"handle": [respond("own")]}]));
    assert_eq!(get(own.addr, "/").await.header("server"), "bellhop");
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let failed = bellhop(proxy(&[dead], json!({})));
    let r = get(failed.addr, "/").await;
    assert_eq!((r.status, r.header("server")), (502, "bellhop"));
}

/// A request: protocol, method, header fields, body.
type Case<'a> = (Proto, &'a str, &'a [(&'a str, &'a str)], &'a str);

/// Echoes the request's header fields in the order they came.
async fn echo_in_order() -> Backend {
    backend(|r| async move {
        let lines: Vec<String> = r
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
            .collect();
        ok(lines.join("\n"))
    })
    .await
}

/// Without `header_up`, our exchange writes the upstream request's fields
/// straight from the client's; with one, they are made in a map first.
/// Both give the same fields, in another order: hop-by-hop ones dropped
/// (`TE: trailers` and `Trailer` kept), `X-Forwarded-*` replaced, `Via`
/// appended to the client's, gzip asked for only without `Accept-Encoding`
/// or `Range`, a buffered body's `Content-Length`, and `Host` made from the
/// authority of an HTTP/2 request.
#[tokio::test]
async fn fields_written_from_the_client_match_the_prepared_map() {
    let b = echo_in_order().await;
    let server = |extra: serde_json::Value| {
        let mut h = proxy(&[b.addr], json!({"request_buffers": 65536}));
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        start(config_with(json!({"protocols": ["h1", "h2c"],
            "routes": [{"handle": [h]}]})))
    };
    let direct = server(json!({}));
    let mapped = server(json!({"headers": {"request": {"set": {"X-Mapped": ["1"]}}}}));
    let spoofed: &[(&str, &str)] = &[
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil.test"),
        ("TE", "gzip, trailers"),
        ("Trailer", "x-t"),
        ("Connection", "keep-alive"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Authorization", "Basic eDp5"),
        ("Alt-Svc", "h3=\":443\""),
        ("Via", "1.0 front"),
        ("X-Custom", "1"),
    ];
    let cases: [Case; 5] = [
        (Proto::H1, "GET", spoofed, ""),
        (
            Proto::H1,
            "POST",
            &[("Content-Type", "text/plain")],
            "hello",
        ),
        (Proto::H1, "GET", &[("Range", "bytes=0-1")], ""),
        (Proto::H1, "GET", &[("Accept-Encoding", "br")], ""),
        (Proto::H2c, "GET", &[("X-Custom", "2")], ""),
    ];
    for (proto, method, headers, body) in cases {
        let d = send(proto, method, direct.addr, "/p?q=1", headers, body).await;
        let m = send(proto, method, mapped.addr, "/p?q=1", headers, body).await;
        // Each server's own address is the request's host.
        let d_body = d.body.replace(&direct.addr.to_string(), "<server>");
        let m_body = m.body.replace(&mapped.addr.to_string(), "<server>");
        let order: Vec<&str> = d_body.lines().collect();
        let mut d_lines = order.clone();
        let mut m_lines: Vec<&str> = m_body.lines().filter(|l| *l != "x-mapped: 1").collect();
        assert_ne!(m_lines.len(), m_body.lines().count(), "mapped: {m_body}");
        d_lines.sort_unstable();
        m_lines.sort_unstable();
        assert_eq!(d_lines, m_lines, "{proto:?} {method} {headers:?}");
        for want in [
            "x-forwarded-for: 127.0.0.1",
            "x-forwarded-proto: http",
            "via: ",
        ] {
            assert!(d.body.contains(want), "{want} in {}", d.body);
        }
        // The written fields come after the client's: the direct path ran.
        let at = |p: &str| order.iter().position(|l| l.starts_with(p));
        assert!(at("x-forwarded-for") > at("x-custom"), "{}", d.body);
    }
}
