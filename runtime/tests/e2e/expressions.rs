//! CEL expressions beyond the basic forms: `in [..]` lists, numeric
//! comparison of placeholders that hold numbers (`{http.error.status_code}`)
//! as the Caddyfile's `handle_errors <codes>` writes them, CEL's typing
//! (a string is never equal to a number), conversions, and evaluation
//! errors that fail the request.

use crate::support::*;
use serde_json::{json, Value};

fn fail(path: &str, status: u16, msg: &str) -> Value {
    json!({"match": [{"path": [path]}],
           "handle": [{"handler": "error", "error": msg, "status_code": status}]})
}

fn on_error(expr: &str, body: &str) -> Value {
    json!({"match": [{"expression": expr}],
           "handle": [{"handler": "static_response", "body": body,
                       "status_code": "{http.error.status_code}"}],
           "terminal": true})
}

#[tokio::test]
async fn handle_errors_codes_select_error_routes() {
    let s = start(config_with(json!({
        "routes": [
            fail("/private*", 410, "Unauthorized"),
            fail("/hidden*", 404, "Not found"),
            fail("/boom", 503, "boom"),
            fail("/teapot", 418, "short and stout"),
            fail("/redirect", 302, "moved"),
        ],
        "errors": {"routes": [
            on_error("{http.error.status_code} in [404, 410]", "404 or 410 error"),
            on_error(
                "{http.error.status_code} >= 500 && {http.error.status_code} <= 599 || {http.error.status_code} in [404]",
                "5xx: {http.error.message}",
            ),
            on_error(
                "{http.error.status_code} >= 300 && {http.error.status_code} <= 399 || {http.error.status_code} in [500]",
                "3xx",
            ),
            on_error("{http.error.status_code} == '418'", "string equals number"),
            on_error("true", "other {http.error.status_code}"),
        ]}
    })));
    let r = get(s.addr, "/private/x").await;
    assert_eq!((r.status, r.body.as_str()), (410, "404 or 410 error"));
    let r = get(s.addr, "/hidden").await;
    assert_eq!((r.status, r.body.as_str()), (404, "404 or 410 error"));
    let r = get(s.addr, "/boom").await;
    assert_eq!((r.status, r.body.as_str()), (503, "5xx: boom"));
    let r = get(s.addr, "/redirect").await;
    assert_eq!((r.status, r.body.as_str()), (302, "3xx"));
    // CEL: the int 418 is not equal to the string '418'.
    let r = get(s.addr, "/teapot").await;
    assert_eq!((r.status, r.body.as_str()), (418, "other 418"));
}

#[tokio::test]
async fn lists_in_and_typed_placeholders() {
    let s = start_routes(json!([
        {"match": [{"expression": "{http.request.method} in ['PUT', 'PATCH']"}],
         "handle": [respond("write")]},
        {"match": [{"expression": "{http.request.uri.query.tier} in ['gold', 'silver'] && !({http.request.uri.query.tier} in ['silver'])"}],
         "handle": [respond("gold")]},
        {"match": [{"expression": "{http.request.uri.query.n} != '' && int({http.request.uri.query.n}) in [1, 2, 3]"}],
         "handle": [respond("small n")]},
        {"match": [{"expression": "{http.request.uri.query.n} == 7"}],
         "handle": [respond("string equals number")]},
        {"match": [{"expression": "{http.request.uri.query.n} == '7' && size({http.request.uri.query.n}) == 1"}],
         "handle": [respond("seven")]},
        {"match": [{"expression": "{http.vars.unset} == null && {http.error.status_code} == null && {http.request.uri.path} == '/null'"}],
         "handle": [respond("nulls")]},
        {"match": [{"expression": "{http.request.uri.path}.lowerAscii() in ['/mixed'] && {http.request.port} > 0"}],
         "handle": [respond("mixed")]},
        {"match": [{"expression": "{http.request.uri.path} > 'm' && {http.request.uri.path} < 'n'"}],
         "handle": [respond("ordered strings")]},
        {"handle": [respond("none")]}
    ]));
    let put = send(Proto::H1, "PUT", s.addr, "/", &[], "").await;
    assert_eq!(put.body, "write");
    assert_eq!(get(s.addr, "/?tier=gold").await.body, "gold");
    assert_eq!(get(s.addr, "/?tier=silver").await.body, "none");
    assert_eq!(get(s.addr, "/?n=2").await.body, "small n");
    assert_eq!(get(s.addr, "/?n=7").await.body, "seven");
    assert_eq!(get(s.addr, "/null").await.body, "nulls");
    assert_eq!(get(s.addr, "/MiXeD").await.body, "mixed");
    assert_eq!(get(s.addr, "/?n=9").await.body, "none");
}

#[tokio::test]
async fn evaluation_errors_fail_the_request() {
    let s = start_routes(json!([
        // CEL has no `string > int`: an evaluation error, which Caddy
        // turns into a failed request (500 through the error routes).
        {"match": [{"expression": "{http.request.uri.query.n} > 5"}], "handle": [respond("big")]},
        {"handle": [respond("none")]}
    ]));
    let r = get(s.addr, "/?n=9").await;
    assert_eq!(r.status, 500, "{}", r.body);
    // `||` absorbs the error when the other side is true, as in CEL.
    let s = start_routes(json!([
        {"match": [{"expression": "{http.request.uri.query.n} > 5 || {http.request.method} == 'GET'"}],
         "handle": [respond("absorbed")]},
    ]));
    assert_eq!(get(s.addr, "/?n=9").await.body, "absorbed");
}

#[tokio::test]
async fn expression_config_errors_name_the_problem() {
    for (expr, want) in [
        ("{http.request.uri.path} in [", "unexpected end"),
        ("[1, 2]", "must give a bool"),
        ("{http.request.uri.path}.matches('(')", "invalid regexp"),
        (
            "{http.request.uri.path}.nosuch()",
            "unsupported method nosuch",
        ),
    ] {
        let rt = bellhop_runtime::Runtime::new();
        let cfg = config_with(json!({"routes": [{"match": [{"expression": expr}]}]}));
        let e = rt.load(cfg.to_string().as_bytes()).unwrap_err().to_string();
        assert!(
            e.contains("routes[0].match[0].expression") && e.contains(want),
            "{expr}: {e}"
        );
    }
}
