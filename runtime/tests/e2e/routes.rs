//! Caddy's route semantics: OR of ANDs, lazy matching, groups, terminal,
//! error routes, unmatched requests.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn unmatched_request_gets_empty_200() {
    let s = start_routes(json!([{"match": [{"path": ["/x"]}], "handle": [respond("x")]}]));
    let r = get(s.addr, "/nothing").await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
}

#[tokio::test]
async fn matcher_sets_are_or_of_ands() {
    let s = start_routes(json!([
        {"match": [
            {"path": ["/a"], "method": ["POST"]},
            {"path": ["/b"]}
        ], "handle": [respond("hit")]},
        {"handle": [respond("miss")]}
    ]));
    assert_eq!(
        send(Proto::H1, "POST", s.addr, "/a", &[], "").await.body,
        "hit"
    );
    assert_eq!(get(s.addr, "/a").await.body, "miss");
    assert_eq!(get(s.addr, "/b").await.body, "hit");
}

#[tokio::test]
async fn matchers_see_changes_made_by_earlier_handlers() {
    let s = start_routes(json!([
        {"handle": [{"handler": "vars", "flag": "on"}]},
        {"match": [{"header": {"X-Never": null}}], "handle": [respond("flag={http.vars.flag}")]}
    ]));
    assert_eq!(get(s.addr, "/").await.body, "flag=on");
}

#[tokio::test]
async fn groups_run_only_their_first_matching_route() {
    let s = start_routes(json!([
        {"group": "g", "match": [{"path": ["/one/*"]}], "handle": [{"handler": "vars", "v": "first"}]},
        {"group": "g", "handle": [{"handler": "vars", "v": "second"}]},
        {"handle": [respond("v={http.vars.v}")]}
    ]));
    assert_eq!(get(s.addr, "/one/x").await.body, "v=first");
    assert_eq!(get(s.addr, "/two").await.body, "v=second");
}

#[tokio::test]
async fn terminal_route_ends_the_chain_even_from_a_subroute() {
    let s = start_routes(json!([
        {"handle": [{"handler": "subroute", "routes": [
            {"match": [{"path": ["/stop"]}], "handle": [{"handler": "vars", "x": "1"}], "terminal": true}
        ]}]},
        {"handle": [respond("continued")]}
    ]));
    let r = get(s.addr, "/stop").await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(get(s.addr, "/go").await.body, "continued");
}

#[tokio::test]
async fn error_routes_see_http_error_placeholders() {
    let s = start(config_with(json!({
        "routes": [{"handle": [{"handler": "static_response", "status_code": "{http.request.uri.query.s}"}]}],
        "errors": {"routes": [
            {"match": [{"path": ["/silent"]}], "handle": [{"handler": "vars", "x": "1"}], "terminal": true},
            {"handle": [{"handler": "static_response",
              "body": "{http.error.status_code} {http.error.status_text} uri={http.request.uri}"}]}
        ]}
    })));
    let r = get(s.addr, "/page?s=oops").await;
    assert_eq!(
        r.status, 500,
        "static_response defaults to the error's status"
    );
    assert_eq!(r.body, "500 Internal Server Error uri=/page?s=oops");
    let r = get(s.addr, "/silent?s=oops").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, ""),
        "unhandled error route answers the status"
    );
}

#[tokio::test]
async fn errors_without_error_routes_answer_their_status() {
    let s =
        start_routes(json!([{"handle": [{"handler": "static_response", "status_code": "{x}"}]}]));
    let r = get(s.addr, "/").await;
    assert_eq!((r.status, r.body.as_str()), (500, ""));
}
