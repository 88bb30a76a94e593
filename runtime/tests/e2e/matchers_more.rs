//! path_regexp, header_regexp, query, protocol, remote_ip, client_ip,
//! not, vars, vars_regexp, file and expression, end to end.

use crate::support::*;
use serde_json::json;

fn yes_no(matcher: serde_json::Value, yes_body: &str) -> serde_json::Value {
    json!([
        {"match": [matcher], "handle": [respond(yes_body)]},
        {"handle": [respond("no")]}
    ])
}

#[tokio::test]
async fn path_regexp_publishes_captures() {
    let s = start_routes(yes_no(
        json!({"path_regexp": {"name": "ver", "pattern": "^/v(?P<major>\\d+)/(.*)$"}}),
        "{http.regexp.ver.1}|{http.regexp.ver.major}|{http.regexp.ver.2}|{http.regexp.2}",
    ));
    assert_eq!(get(s.addr, "/v12/a/b").await.body, "12|12|a/b|a/b");
    assert_eq!(get(s.addr, "/x/v1/").await.body, "no");
}

#[tokio::test]
async fn header_regexp_matches_any_value() {
    let s = start_routes(yes_no(
        json!({"header_regexp": {"User-Agent": {"name": "ua", "pattern": "^curl/(\\d+)"}}}),
        "curl {http.regexp.ua.1}",
    ));
    assert_eq!(
        get_with(s.addr, "/", &[("User-Agent", "curl/8.1")])
            .await
            .body,
        "curl 8"
    );
    assert_eq!(
        get_with(s.addr, "/", &[("User-Agent", "wget")]).await.body,
        "no"
    );
}

#[tokio::test]
async fn query_matcher() {
    let s = start_routes(yes_no(
        json!({"query": {"a": ["1", "2"], "b": ["*"]}}),
        "yes",
    ));
    assert_eq!(get(s.addr, "/?a=2&b=x").await.body, "yes");
    assert_eq!(get(s.addr, "/?a=3&b=x").await.body, "no");
    assert_eq!(get(s.addr, "/?a=1").await.body, "no");
    assert_eq!(
        get(s.addr, "/?a=1&b=x;c").await.body,
        "no",
        "malformed queries never match"
    );
    let s = start_routes(yes_no(json!({"query": {}}), "empty"));
    assert_eq!(get(s.addr, "/").await.body, "empty");
    assert_eq!(get(s.addr, "/?x=1").await.body, "no");
}

#[tokio::test]
async fn protocol_matcher() {
    let s = start(config_with(json!({
        "protocols": ["h1", "h2c"],
        "routes": [
            {"match": [{"protocol": "http/2+"}], "handle": [respond("h2")]},
            {"match": [{"protocol": "http"}], "handle": [respond("plain")]}
        ]
    })));
    assert_eq!(
        send(Proto::H2c, "GET", s.addr, "/", &[], "").await.body,
        "h2"
    );
    assert_eq!(get(s.addr, "/").await.body, "plain");
}

#[tokio::test]
async fn remote_ip_and_client_ip_with_trusted_proxies() {
    let routes = json!([
        {"match": [{"client_ip": {"ranges": ["203.0.113.0/24"]}}], "handle": [respond("client {http.vars.client_ip}")]},
        {"match": [{"remote_ip": {"ranges": ["127.0.0.1/32"]}}], "handle": [respond("local {http.request.remote.host}")]}
    ]);
    let s = start(config_with(json!({
        "trusted_proxies": {"source": "static", "ranges": ["127.0.0.1/8"]},
        "routes": routes.clone()
    })));
    let xff = [("X-Forwarded-For", "203.0.113.7, 10.0.0.1")];
    assert_eq!(get_with(s.addr, "/", &xff).await.body, "client 203.0.113.7");
    assert_eq!(get(s.addr, "/").await.body, "local 127.0.0.1");
    let untrusting = start_routes(routes);
    assert_eq!(
        get_with(untrusting.addr, "/", &xff).await.body,
        "local 127.0.0.1",
        "untrusted remote: header ignored"
    );
}

#[tokio::test]
async fn not_matcher_negates_sets() {
    let s = start_routes(yes_no(
        json!({"not": [{"path": ["/a"]}, {"method": ["POST"]}]}),
        "yes",
    ));
    assert_eq!(get(s.addr, "/b").await.body, "yes");
    assert_eq!(get(s.addr, "/a").await.body, "no");
    assert_eq!(
        send(Proto::H1, "POST", s.addr, "/b", &[], "").await.body,
        "no"
    );
}

#[tokio::test]
async fn vars_and_vars_regexp_matchers() {
    let s = start_routes(json!([
        {"handle": [{"handler": "vars", "role": "admin-7"}]},
        {"match": [{"vars": {"role": ["user"], "{http.request.uri.query.k}": ["go"]}}], "handle": [respond("vars")]},
        {"match": [{"vars_regexp": {"role": {"name": "r", "pattern": "^admin-(\\d)$"}}}], "handle": [respond("re {http.regexp.r.1}")]}
    ]));
    assert_eq!(get(s.addr, "/?k=go").await.body, "vars");
    assert_eq!(get(s.addr, "/").await.body, "re 7");
}

#[tokio::test]
async fn file_matcher_try_files_and_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "x").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("big.txt"), "xxxxxxxx").unwrap();
    std::fs::write(dir.path().join("small.txt"), "x").unwrap();
    let root = dir.path().display().to_string();
    let s = start_routes(json!([
        {"match": [{"file": {"root": root, "try_files": ["{http.request.uri.path}", "{http.request.uri.path}/", "/index.html"]}}],
         "handle": [respond("{http.matchers.file.relative} {http.matchers.file.type}")]},
        {"handle": [respond("no")]}
    ]));
    assert_eq!(get(s.addr, "/big.txt").await.body, "/big.txt file");
    assert_eq!(get(s.addr, "/sub").await.body, "/sub/ directory");
    assert_eq!(get(s.addr, "/missing").await.body, "/index.html file");
    assert_eq!(
        get(s.addr, "/../../etc/passwd").await.body,
        "/index.html file"
    );
    let s = start_routes(json!([
        {"match": [{"file": {"root": root, "try_files": ["/big.txt", "/small.txt"], "try_policy": "smallest_size"}}],
         "handle": [respond("{http.matchers.file.relative}")]},
    ]));
    assert_eq!(get(s.addr, "/").await.body, "/small.txt");
    let s = start_routes(json!([
        {"match": [{"file": {"root": root, "try_files": ["/nope", "=404"]}}], "handle": [respond("found")]}
    ]));
    assert_eq!(get(s.addr, "/").await.status, 404);
}

#[tokio::test]
async fn expression_matcher_cel_forms() {
    let s = start_routes(json!([
        {"match": [{"expression": "{http.request.uri.query.a} == 'x' && {http.request.method} != 'POST'"}], "handle": [respond("cmp")]},
        {"match": [{"expression": "path('/p/*') || host('example.com')"}], "handle": [respond("fn")]},
        {"match": [{"expression": {"expr": "header({'X-K': 'v'}) && query({'q': ['1', '2']})", "name": "m"}}], "handle": [respond("maps")]},
        {"match": [{"expression": "{http.request.uri.path}.startsWith('/s') && !method('DELETE')"}], "handle": [respond("method")]},
        {"match": [{"expression": "path_regexp('^/re/(\\\\d+)') && int({http.request.uri.query.n}) > 5"}], "handle": [respond("re {http.regexp.1}")]},
        {"match": [{"expression": "remote_ip('127.0.0.0/8') && {http.request.uri.path} == '/ip'"}], "handle": [respond("ip")]},
        {"handle": [respond("none")]}
    ]));
    assert_eq!(get(s.addr, "/?a=x").await.body, "cmp");
    assert_eq!(get(s.addr, "/p/z").await.body, "fn");
    assert_eq!(
        get_with(s.addr, "/", &[("Host", "example.com")]).await.body,
        "fn"
    );
    assert_eq!(
        get_with(s.addr, "/?q=2", &[("X-K", "v")]).await.body,
        "maps"
    );
    assert_eq!(get(s.addr, "/start").await.body, "method");
    assert_eq!(get(s.addr, "/re/42?n=6").await.body, "re 42");
    assert_eq!(get(s.addr, "/re/42?n=4").await.body, "none");
    assert_eq!(get(s.addr, "/ip").await.body, "ip");
}

#[tokio::test]
async fn bad_expressions_are_config_errors() {
    let rt = bellhop_runtime::Runtime::new();
    let cfg = config_with(json!({"routes": [{"match": [{"expression": "nosuch('x')"}]}]}));
    let e = rt.load(cfg.to_string().as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("match[0].expression") && e.contains("unsupported function nosuch"),
        "{e}"
    );
}
