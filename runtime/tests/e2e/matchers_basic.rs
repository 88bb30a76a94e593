//! host, path, method and header matchers, end to end.

use crate::support::*;
use serde_json::json;

fn routes_for(matcher: serde_json::Value) -> serde_json::Value {
    json!([
        {"match": [matcher], "handle": [respond("yes")]},
        {"handle": [respond("no")]}
    ])
}

#[tokio::test]
async fn host_matcher_wildcards_and_case() {
    let s = start_routes(routes_for(
        json!({"host": ["Example.com", "*.example.org"]}),
    ));
    let h = |host: &'static str| [("Host", host)];
    assert_eq!(get_with(s.addr, "/", &h("example.COM")).await.body, "yes");
    assert_eq!(
        get_with(s.addr, "/", &h("example.com:8080")).await.body,
        "yes"
    );
    assert_eq!(get_with(s.addr, "/", &h("a.example.org")).await.body, "yes");
    assert_eq!(
        get_with(s.addr, "/", &h("a.b.example.org")).await.body,
        "no"
    );
    assert_eq!(get_with(s.addr, "/", &h("other.com")).await.body, "no");
}

#[tokio::test]
async fn path_matcher_rules() {
    let s = start_routes(routes_for(
        json!({"path": ["/exact", "/pre/*", "*.php", "/g/*/x"]}),
    ));
    for (p, want) in [
        ("/exact", "yes"),
        ("/EXACT", "yes"),
        ("/exact/", "no"),
        ("/pre/a/b", "yes"),
        ("/a/b.PHP", "yes"),
        ("/g/one/x", "yes"),
        ("/g/one/two/x", "no"),
        ("/x/../exact", "yes"),
        ("/%65xact", "yes"),
        ("//pre//a", "yes"),
        ("/other", "no"),
    ] {
        assert_eq!(get(s.addr, p).await.body, want, "path {p}");
    }
}

#[tokio::test]
async fn path_matcher_over_h2c() {
    let s = start(config_with(json!({
        "protocols": ["h1", "h2c"],
        "routes": routes_for(json!({"path": ["/pre/*"]}))
    })));
    let r = send(Proto::H2c, "GET", s.addr, "/pre/x", &[], "").await;
    assert_eq!((r.version, r.body.as_str()), (http::Version::HTTP_2, "yes"));
}

#[tokio::test]
async fn method_matcher() {
    let s = start_routes(routes_for(json!({"method": ["PUT", "DELETE"]})));
    assert_eq!(
        send(Proto::H1, "PUT", s.addr, "/", &[], "").await.body,
        "yes"
    );
    assert_eq!(get(s.addr, "/").await.body, "no");
}

#[tokio::test]
async fn header_matcher_presence_absence_and_wildcards() {
    let s = start_routes(routes_for(json!({"header": {
        "X-Need": [], "X-Absent": null, "Accept": ["*json*"]
    }})));
    let ok = [("X-Need", "1"), ("Accept", "application/json")];
    assert_eq!(get_with(s.addr, "/", &ok).await.body, "yes");
    assert_eq!(get_with(s.addr, "/", &ok[1..]).await.body, "no");
    let absent = [
        ("X-Need", "1"),
        ("Accept", "application/json"),
        ("X-Absent", "here"),
    ];
    assert_eq!(get_with(s.addr, "/", &absent).await.body, "no");
    assert_eq!(
        get_with(s.addr, "/", &[("X-Need", "1"), ("Accept", "text/html")])
            .await
            .body,
        "no"
    );
}
