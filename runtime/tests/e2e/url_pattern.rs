//! `url_pattern` matcher end to end, with the shapes the Caddyfile's
//! `@name url_pattern <pattern> { base_url …; ignore_case }` adapts to.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn url_patterns_match_and_expose_groups() {
    let s = start_routes(json!([
        {"match": [{"url_pattern": {"pattern": "/books/:id"}}],
         "handle": [respond("book {http.url_pattern.pathname.id}")]},
        {"match": [{"url_pattern": {"pattern": "/api/:version/*", "base_url": "http://example.com", "ignore_case": true}}],
         "handle": [respond("scoped {http.url_pattern.pathname.version} {http.url_pattern.pathname.0}")]},
        {"match": [{"url_pattern": {"pattern": "http://*.test/users/:name(\\w+)"}}],
         "handle": [respond("user {http.url_pattern.pathname.name} at {http.url_pattern.hostname.0}")]},
        {"match": [{"expression": "url_pattern('/cel/:x') && {http.request.method} == 'GET'"}],
         "handle": [respond("cel {http.url_pattern.pathname.x}")]},
        {"match": [{"url_pattern": {"pattern": "/search?q=:term"}}],
         "handle": [respond("search {http.url_pattern.search.term}")]},
        {"handle": [respond("none")]}
    ]));
    assert_eq!(get(s.addr, "/books/42").await.body, "book 42");
    assert_eq!(get(s.addr, "/books/42/more").await.body, "none");
    // A relative pattern matches on any host; one scoped by base_url only
    // on its host (and default port), case-insensitively here.
    let host = |h: &'static str| [("Host", h)];
    assert_eq!(
        get_with(s.addr, "/API/v2/a/b", &host("example.com"))
            .await
            .body,
        "scoped v2 a/b"
    );
    assert_eq!(
        get_with(s.addr, "/api/v2/a", &host("other.com")).await.body,
        "none"
    );
    assert_eq!(
        get_with(s.addr, "/api/v2/a", &host("example.com:8080"))
            .await
            .body,
        "none"
    );
    assert_eq!(
        get_with(s.addr, "/users/ann", &host("Docs.test"))
            .await
            .body,
        "user ann at docs"
    );
    assert_eq!(
        get_with(s.addr, "/users/ann", &host("docs.example"))
            .await
            .body,
        "none"
    );
    assert_eq!(get(s.addr, "/search?q=rust").await.body, "search rust");
    assert_eq!(get(s.addr, "/cel/y").await.body, "cel y");
}

#[tokio::test]
async fn bad_url_patterns_are_config_errors() {
    let rt = bellhop_runtime::Runtime::new();
    let cfg = config_with(json!({"routes": [{"match": [{"url_pattern": {"pattern": "/x/(a"}}]}]}));
    let e = rt.load(cfg.to_string().as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("match[0].url_pattern.pattern") && e.contains("unclosed"),
        "{e}"
    );
}
