//! User regexps are Go's (RE2) syntax everywhere: literal braces that are
//! not repetitions, ASCII-only `\d`/`\w`, `\Q…\E`; and header replacements
//! whose search regexp holds placeholders expand them per request (Caddy
//! 2.11's `header_placeholder_search`).

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn header_replace_search_regexp_with_placeholders() {
    // As the adapter writes `header Test-Dynamic ":{http.request.local.port}"
    // "DYNAMIC-WORKS"`: the search is expanded, then compiled.
    // The fields exist before the replacements run (as `Alt-Svc` does in
    // Caddy): immediate header operations see only what is there.
    let replace = |field: &str, search: &str, with: &str| {
        json!({"handler": "headers", "response": {"replace": {
            field: [{"search_regexp": search, "replace": with}]}}})
    };
    let s = start_routes(json!([
        {"handle": [
            {"handler": "headers", "response": {"set": {
                "Test-Static": ["h3=\":443\""],
                "Test-Dynamic": ["h3=\":{http.request.local.port}\"; ma=1"],
                "Test-Complex": ["port-{http.request.local.port}-end"],
                "Test-Brace": ["<aax{>"]
            }}},
            replace("Test-Static", ":443", "STATIC-WORKS"),
            replace("Test-Dynamic", ":{http.request.local.port}", "DYNAMIC-WORKS"),
            replace("Test-Complex", "port-{http.request.local.port}-end", "COMPLEX-{http.request.method}"),
            replace("Test-Brace", "a{2}x{", "BRACE"),
            respond("ok")
        ]}
    ]));
    let r = get(s.addr, "/").await;
    assert_eq!(r.header("test-static"), "h3=\"STATIC-WORKS\"");
    assert_eq!(r.header("test-dynamic"), "h3=\"DYNAMIC-WORKS\"; ma=1");
    assert_eq!(r.header("test-complex"), "COMPLEX-GET");
    assert_eq!(r.header("test-brace"), "<BRACE>");
    // The cached pattern is reused, and still right, on the next request.
    let r = get(s.addr, "/").await;
    assert_eq!(r.header("test-complex"), "COMPLEX-GET");
}

#[tokio::test]
async fn path_regexp_matcher_takes_go_syntax() {
    let s = start_routes(json!([
        {"match": [{"path_regexp": {"name": "lit", "pattern": "^/{id}/(\\d+)$"}}],
         "handle": [respond("literal braces {http.regexp.lit.1}")]},
        {"match": [{"path_regexp": {"name": "ascii", "pattern": "^/n/(\\d+)$"}}],
         "handle": [respond("ascii digits {http.regexp.ascii.1}")]},
        {"match": [{"path_regexp": {"name": "q", "pattern": "^/\\Q1+1\\E/(?P<rest>.*)$"}}],
         "handle": [respond("quoted {http.regexp.q.rest}")]},
        {"handle": [respond("none")]}
    ]));
    assert_eq!(get(s.addr, "/%7Bid%7D/42").await.body, "literal braces 42");
    assert_eq!(get(s.addr, "/n/123").await.body, "ascii digits 123");
    // Arabic-Indic digits are \d in Rust's Unicode mode, not in Go's.
    assert_eq!(get(s.addr, "/n/%D9%A3").await.body, "none");
    assert_eq!(get(s.addr, "/1+1/x/y").await.body, "quoted x/y");
}

#[tokio::test]
async fn header_and_vars_regexp_and_rewrite_take_go_syntax() {
    let s = start_routes(json!([
        {"handle": [{"handler": "vars", "tag": "\\{v1\\}"}]},
        {"match": [{"header_regexp": {"X-Tpl": {"name": "t", "pattern": "^{(\\w+)}$"}}}],
         "handle": [respond("template {http.regexp.t.1}")]},
        {"match": [{"vars_regexp": {"tag": {"name": "v", "pattern": "^{v(\\d)}$"}}},
                   {"path": ["/never"]}],
         "handle": [
            {"handler": "rewrite", "path_regexp": [{"find": "^/{x}", "replace": "/y"}]},
            respond("var {http.regexp.v.1} {http.request.uri.path}")]}
    ]));
    assert_eq!(
        get_with(s.addr, "/", &[("X-Tpl", "{name}")]).await.body,
        "template name"
    );
    // path_regexp works on the escaped path (`/%7Bx%7D/z`), as Caddy's, so
    // the literal `{x}` does not occur there; `{x}` still compiled.
    assert_eq!(get(s.addr, "/%7Bx%7D/z").await.body, "var 1 /{x}/z");
}

#[tokio::test]
async fn map_input_regexp_takes_go_syntax() {
    let s = start_routes(json!([
        {"handle": [{"handler": "map", "source": "{http.request.uri.path}",
            "destinations": ["{out}"],
            "mappings": [{"input_regexp": "^/{(\\w+)}$", "outputs": ["braced-$1"]}],
            "defaults": ["plain"]}]},
        {"handle": [respond("{out}")]}
    ]));
    assert_eq!(get(s.addr, "/%7Bk%7D").await.body, "braced-k");
    assert_eq!(get(s.addr, "/k").await.body, "plain");
}

#[tokio::test]
async fn invalid_go_regexps_are_config_errors() {
    for (routes, at) in [
        (
            json!([{"match": [{"path_regexp": {"pattern": "(a"}}]}]),
            "routes[0].match[0].path_regexp.pattern",
        ),
        (
            json!([{"handle": [{"handler": "rewrite", "path_regexp": [{"find": "\\1", "replace": ""}]}]}]),
            "routes[0].handle[0].path_regexp[0].find",
        ),
    ] {
        let rt = bellhop_runtime::Runtime::new();
        let cfg = config_with(json!({ "routes": routes }));
        let e = rt.load(cfg.to_string().as_bytes()).unwrap_err().to_string();
        assert!(e.contains(at) && e.contains("invalid"), "{e}");
    }
}
