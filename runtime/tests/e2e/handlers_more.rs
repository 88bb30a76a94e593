//! error, rewrite, map and request_body, end to end.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn error_handler_feeds_error_routes() {
    let s = start(config_with(json!({
        "routes": [{"match": [{"path": ["/secret/*"]}], "handle": [
            {"handler": "error", "error": "no entry to {http.request.uri.path}", "status_code": 403}
        ]}],
        "errors": {"routes": [{"handle": [
            {"handler": "static_response", "body": "{http.error.status_code}: {http.error.message}"}
        ]}]}
    })));
    let r = get(s.addr, "/secret/x").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "403: no entry to /secret/x")
    );
}

#[tokio::test]
async fn rewrite_uri_keeps_what_it_leaves_out() {
    let s = start_routes(json!([
        {"match": [{"path": ["/old/*"]}], "handle": [{"handler": "rewrite", "uri": "/new{http.request.uri.path}"}]},
        {"match": [{"path": ["/q"]}], "handle": [{"handler": "rewrite", "uri": "?x=1&{http.request.uri.query}"}]},
        {"handle": [respond("{http.request.uri} orig={http.request.orig_uri}")]}
    ]));
    assert_eq!(
        get(s.addr, "/old/a?k=v").await.body,
        "/new/old/a?k=v orig=/old/a?k=v"
    );
    assert_eq!(get(s.addr, "/q?y=2").await.body, "/q?x=1&y=2 orig=/q?y=2");
}

#[tokio::test]
async fn rewrite_strip_substring_regexp_method_and_query_ops() {
    let s = start_routes(json!([
        {"handle": [{"handler": "rewrite",
            "method": "post",
            "strip_path_prefix": "/API",
            "path_regexp": [{"find": "/v(\\d)/", "replace": "/version-$1/"}],
            "uri_substring": [{"find": "foo", "replace": "bar", "limit": 1}],
            "query": {"rename": [{"key": "a", "val": "b"}], "set": [{"key": "s", "val": "{http.request.method}"}], "delete": ["gone"]}
        }]},
        {"handle": [respond("{http.request.method} {http.request.uri}")]}
    ]));
    let r = get(s.addr, "/api/v2/foo/foo?a=1&gone=x").await;
    assert_eq!(r.body, "POST /version-2/bar/foo?b=1&s=POST");
}

#[tokio::test]
async fn map_sets_destination_placeholders() {
    let s = start_routes(json!([
        {"handle": [{"handler": "map", "source": "{http.request.host}",
            "destinations": ["{site}", "{tier}"],
            "mappings": [
                {"input": "a.test", "outputs": ["alpha", "gold"]},
                {"input_regexp": "^(\\w+)\\.example$", "outputs": ["ex-$1", null]}
            ],
            "defaults": ["unknown", "none"]}]},
        {"handle": [respond("{site}/{tier}")]}
    ]));
    assert_eq!(
        get_with(s.addr, "/", &[("Host", "a.test")]).await.body,
        "alpha/gold"
    );
    assert_eq!(
        get_with(s.addr, "/", &[("Host", "shop.example")])
            .await
            .body,
        "ex-shop/none"
    );
    assert_eq!(
        get_with(s.addr, "/", &[("Host", "zzz")]).await.body,
        "unknown/none"
    );
}

#[tokio::test]
async fn request_body_max_size_bites_with_413() {
    let s = start_routes(json!([{"handle": [
        {"handler": "request_body", "max_size": 10},
        respond("accepted")
    ]}]));
    let ok = send(Proto::H1, "POST", s.addr, "/", &[], "short").await;
    assert_eq!((ok.status, ok.body.as_str()), (200, "accepted"));
    let big = send(Proto::H1, "POST", s.addr, "/", &[], "this body is too long").await;
    assert_eq!(big.status, 413);
}

#[tokio::test]
async fn error_placeholders_as_caddy_fills_them() {
    let s = start(config_with(json!({
        "routes": [
            {"match": [{"path": ["/json"]}], "handle": [
                {"handler": "error", "error": "{\"reason\": \"{http.request.uri.query.r}\"}", "status_code": "{http.request.uri.query.s}"}]},
            {"handle": [{"handler": "error", "status_code": "not-a-number"}]}
        ],
        "errors": {"routes": [{"handle": [{"handler": "static_response",
            "body": "{http.error.status_code} {http.error.status_text}|{http.error.message}|{http.error.id}"}]}]}
    })));
    // Unknown placeholders in the message stay as written.
    let r = get(s.addr, "/json?r=full&s=429").await;
    let parts: Vec<&str> = r.body.split('|').collect();
    assert_eq!(r.status, 429);
    assert_eq!(parts[0], "429 Too Many Requests");
    assert_eq!(parts[1], "{\"reason\": \"full\"}");
    let id = parts[2];
    assert!(
        id.len() == 9
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b.is_ascii_lowercase() && b != b'l' && b != b'o')),
        "{id}"
    );
    // A status that is not a number is itself an error: 500.
    let r = get(s.addr, "/other").await;
    assert_eq!(r.status, 500);
    assert!(
        r.body.starts_with("500 Internal Server Error|"),
        "{}",
        r.body
    );
}
