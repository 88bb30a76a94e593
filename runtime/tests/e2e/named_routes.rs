//! Named routes and `invoke`: routes may invoke each other in any order and
//! recursively (names are declared before any route is provisioned); the
//! recursion is bounded when serving (500 with a clear error) instead of
//! overflowing the stack.

use crate::support::*;
use serde_json::{json, Value};

/// The servers `invoke_named_routes.caddyfiletest` adapts to: `outer`
/// invokes `inner` for `/api/*`, and `inner` invokes `outer`.
fn named() -> Value {
    json!({
        "headers": {"handle": [respond("from named route")]},
        "outer": {"handle": [{"handler": "subroute", "routes": [
            {"match": [{"path": ["/api/*"]}], "handle": [{"handler": "invoke", "name": "inner"}]},
            {"handle": [respond("outer")]}
        ]}]},
        "inner": {"handle": [{"handler": "invoke", "name": "outer"}, respond("inner")]}
    })
}

#[tokio::test]
async fn named_routes_invoke_each_other() {
    let s = start(config_with(json!({
        "named_routes": named(),
        "routes": [
            {"match": [{"path": ["/h"]}], "handle": [{"handler": "invoke", "name": "headers"}]},
            {"handle": [{"handler": "invoke", "name": "outer"}]}
        ]
    })));
    assert_eq!(get(s.addr, "/h").await.body, "from named route");
    assert_eq!(get(s.addr, "/x").await.body, "outer");
    // /api/* recurses outer → inner → outer → … with nothing that stops
    // it: bounded, and answered with a 500 through the error routes.
    let r = get(s.addr, "/api/v1").await;
    assert_eq!(r.status, 500);
    let s = start(config_with(json!({
        "named_routes": named(),
        "routes": [{"handle": [{"handler": "invoke", "name": "outer"}]}],
        "errors": {"routes": [{"handle": [respond("{http.error.status_code}: {http.error.message}")]}]}
    })));
    let r = get(s.addr, "/api/v1").await;
    assert!(
        r.body
            .starts_with("500: named routes invoke each other more than 64 levels deep"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn recursion_that_ends_is_served() {
    // `countdown` strips one `/x` per level and invokes itself until none
    // is left: recursion that terminates within the bound is fine.
    let s = start(config_with(json!({
        "named_routes": {"countdown": {"handle": [{"handler": "subroute", "routes": [
            {"match": [{"path": ["/x*"]}], "handle": [
                {"handler": "rewrite", "strip_path_prefix": "/x"},
                {"handler": "vars", "depth": "{http.vars.depth}I"},
                {"handler": "invoke", "name": "countdown"}
            ]},
            {"handle": [respond("bottom {http.vars.depth} {http.request.uri.path}")]}
        ]}]}},
        "routes": [{"handle": [{"handler": "invoke", "name": "countdown"}]}]
    })));
    assert_eq!(get(s.addr, "/x/x/x/end").await.body, "bottom III /end");
    let deep = "/x".repeat(70);
    assert_eq!(get(s.addr, &format!("{deep}/end")).await.status, 500);
}

#[tokio::test]
async fn undefined_named_route_is_a_config_error() {
    let rt = bellhop_runtime::Runtime::new();
    let cfg = config_with(json!({
        "named_routes": {"a": {"handle": [{"handler": "invoke", "name": "b"}]}},
        "routes": []
    }));
    let e = rt.load(cfg.to_string().as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("named_routes.a") && e.contains("'b', which is not defined"),
        "{e}"
    );
}
