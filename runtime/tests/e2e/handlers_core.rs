//! static_response, vars, headers, subroute and invoke, end to end.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn static_response_status_headers_body_with_placeholders() {
    let s = start_routes(json!([{"handle": [{
        "handler": "static_response",
        "status_code": "{http.request.uri.query.code}",
        "headers": {"X-Method": ["{http.request.method}"], "X-Multi": ["a", "b"]},
        "body": "host={http.request.host} path={http.request.uri.path} unknown={foo.bar}"
    }]}]));
    let r = get(s.addr, "/some/where?code=202").await;
    assert_eq!(r.status, 202);
    assert_eq!(r.header("x-method"), "GET");
    assert_eq!(r.headers.get_all("x-multi").iter().count(), 2);
    assert_eq!(r.header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(r.body, "host=127.0.0.1 path=/some/where unknown={foo.bar}");
}

#[tokio::test]
async fn static_response_json_body_gets_json_content_type() {
    let s = start_routes(json!([{"handle": [respond(r#"{"ok": true}"#)]}]));
    let r = get(s.addr, "/").await;
    assert_eq!(r.header("content-type"), "application/json");
}

/// A body without placeholders is made once at provision: its content
/// type and bytes are the same on every answer, a `Content-Type` the
/// handler sets wins over it, and a body with placeholders is still typed
/// from what it renders to.
#[tokio::test]
async fn static_response_literal_and_rendered_bodies_are_typed_alike() {
    let s = start_routes(json!([
        {"match": [{"path": ["/html"]}], "handle": [{
            "handler": "static_response",
            "headers": {"Content-Type": ["text/html"]},
            "body": "<p>hi</p>"}]},
        {"match": [{"path": ["/rendered"]}], "handle": [{
            "handler": "static_response",
            "body": "{\"path\": \"{http.request.uri.path}\"}"}]},
        {"handle": [respond("[1, 2]")]}
    ]));
    for _ in 0..2 {
        let r = get(s.addr, "/").await;
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(r.body, "[1, 2]");
    }
    let r = get(s.addr, "/html").await;
    assert_eq!(r.header("content-type"), "text/html");
    assert_eq!(r.body, "<p>hi</p>");
    let r = get(s.addr, "/rendered").await;
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.body, r#"{"path": "/rendered"}"#);
}

#[tokio::test]
async fn static_response_bad_status_placeholder_is_500() {
    let s = start_routes(json!([{"handle": [{
        "handler": "static_response", "status_code": "{http.request.uri.query.code}"
    }]}]));
    assert_eq!(get(s.addr, "/?code=abc").await.status, 500);
}

#[tokio::test]
async fn static_response_close_and_abort() {
    let s = start_routes(json!([
        {"match": [{"path": ["/close"]}], "handle": [{"handler": "static_response", "body": "bye", "close": true}]},
        {"match": [{"path": ["/abort"]}], "handle": [{"handler": "static_response", "abort": true}]}
    ]));
    let r = get(s.addr, "/close").await;
    assert_eq!((r.header("connection"), r.body.as_str()), ("close", "bye"));
    let r = req("GET", s.addr, "/abort")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    assert!(
        send_req(Proto::H1, r).await.is_err(),
        "abort drops the connection"
    );
}

#[tokio::test]
async fn vars_set_and_read_back() {
    let s = start_routes(json!([{"handle": [
        {"handler": "vars", "who": "{http.request.uri.query.name}", "n": 5},
        respond("hello {http.vars.who} {http.vars.n} [{http.vars.missing}]")
    ]}]));
    assert_eq!(get(s.addr, "/?name=ann").await.body, "hello ann 5 []");
}

#[tokio::test]
async fn headers_request_and_response_ops() {
    let s = start_routes(json!([{"handle": [
        {"handler": "headers",
         "request": {"set": {"X-In": ["set-{http.request.method}"]}, "delete": ["X-Drop"]},
         "response": {"set": {"X-Out": ["v"]}, "add": {"X-Add": ["1", "2"]}}},
        {"handler": "headers", "response": {"delete": ["Server"], "deferred": true}},
        respond("in={http.request.header.X-In} drop=[{http.request.header.X-Drop}]")
    ]}]));
    let r = get_with(s.addr, "/", &[("X-Drop", "gone")]).await;
    assert_eq!(r.body, "in=set-GET drop=[]");
    assert_eq!(r.header("x-out"), "v");
    assert_eq!(r.headers.get_all("x-add").iter().count(), 2);
    assert_eq!(
        r.header("server"),
        "",
        "deferred delete sees the final headers"
    );
}

#[tokio::test]
async fn headers_replace_and_require() {
    let s = start_routes(json!([{"handle": [
        {"handler": "headers", "response": {
            "replace": {"X-Data": [{"search_regexp": "(\\d+)", "replace": "<$1>"}]},
            "deferred": true}},
        {"handler": "headers", "response": {
            "set": {"X-Not-Found": ["yes"]},
            "require": {"status_code": [4]}}},
        {"handler": "static_response", "status_code": "{http.request.uri.query.s}",
         "headers": {"X-Data": ["a1b22"]}}
    ]}]));
    let r = get(s.addr, "/?s=200").await;
    assert_eq!(r.header("x-data"), "a<1>b<22>");
    assert_eq!(r.header("x-not-found"), "");
    let r = get(s.addr, "/?s=404").await;
    assert_eq!(r.header("x-not-found"), "yes");
}

#[tokio::test]
async fn subroute_runs_nested_routes_then_continues() {
    let s = start_routes(json!([
        {"handle": [{"handler": "subroute", "routes": [
            {"match": [{"path": ["/inner"]}], "handle": [respond("inner")]},
            {"handle": [{"handler": "vars", "seen": "yes"}]}
        ]}]},
        {"handle": [respond("outer seen={http.vars.seen}")]}
    ]));
    assert_eq!(get(s.addr, "/inner").await.body, "inner");
    assert_eq!(get(s.addr, "/other").await.body, "outer seen=yes");
}

#[tokio::test]
async fn subroute_error_routes_handle_its_errors() {
    let s = start_routes(json!([{"handle": [{"handler": "subroute",
        "routes": [{"handle": [{"handler": "static_response", "status_code": "{http.request.uri.query.bad}"}]}],
        "errors": {"routes": [{"handle": [
            {"handler": "static_response", "body": "sub caught {http.error.status_code}"}
        ]}]}
    }]}]));
    let r = get(s.addr, "/?bad=x").await;
    assert_eq!((r.status, r.body.as_str()), (500, "sub caught 500"));
}

#[tokio::test]
async fn named_routes_are_invoked() {
    let s = start(config_with(json!({
        "named_routes": {"greet": {"handle": [{"handler": "vars", "greeting": "hi"}]}},
        "routes": [{"handle": [
            {"handler": "invoke", "name": "greet"},
            respond("{http.vars.greeting} there")
        ]}]
    })));
    assert_eq!(get(s.addr, "/").await.body, "hi there");
}
