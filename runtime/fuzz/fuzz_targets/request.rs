//! Requests of every shape through a config that exercises what a request
//! reaches: the HTTP/1 framing checks, host and path matchers (exact,
//! prefix, suffix, escaped, regexp), path cleaning, rewrite and
//! strip_prefix, header operations, placeholders of the request (query,
//! headers, cookies, path segments, labels), `map`, `file_server` over a
//! small tree (hide, index, browse, precompressed), and error routes. No
//! request may panic the server.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use std::sync::OnceLock;

fn instance() -> &'static bellhop_runtime::instance::Instance {
    static I: OnceLock<bellhop_runtime::instance::Instance> = OnceLock::new();
    I.get_or_init(|| {
        let root = std::env::temp_dir().join("bellhop-fuzz-request");
        for (p, body) in [
            ("index.html", "i"),
            ("a/b.txt", "b"),
            ("a/c.txt.gz", "gz"),
            ("a/c.txt", "c"),
            (".secret", "s"),
            ("dir/x y.html", "x"),
        ] {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        let root = root.display().to_string();
        let config = json!({"apps": {"http": {"servers": {"s": {
            "listen": [":8080"],
            "automatic_https": {"disable": true},
            "routes": [
                {"match": [{"host": ["a.example", "*.example.com", "{http.request.header.x-h}"]}],
                 "handle": [{"handler": "static_response",
                    "body": "{http.request.host.labels.1}|{http.request.uri.path.0}|{query.q}|{http.request.cookie.c}|{http.request.header.*}|{labels.0}|{http.request.uri.query}|{http.request.orig_uri.path.dir}|{http.request.uri.path.file.ext}"}]},
                {"match": [{"path": ["/s/*", "*.txt", "/exact", "/%2F*", "/a*b"]}],
                 "handle": [{"handler": "rewrite", "strip_path_prefix": "/s", "uri": "{path}?{query}&x={http.request.uri.path.1}"},
                            {"handler": "headers", "request": {"set": {"X-P": ["{path}"]}}, "response": {"replace": {"X-R": [{"search_regexp": "a(.*)b", "replace": "$1"}]}}},
                            {"handler": "file_server", "root": root, "hide": [".secret", "*/c.txt"], "browse": {}, "precompressed": {"gzip": {}}}]},
                {"match": [{"path_regexp": {"name": "r", "pattern": "^/re/([^/]+)/(?P<n>\\d+)$"}}],
                 "handle": [{"handler": "map", "source": "{http.regexp.r.1}", "destinations": ["{m}"],
                             "mappings": [{"input": "a", "outputs": ["A"]}, {"input_regexp": "^(x+)$", "outputs": ["${1}y"]}], "defaults": ["d"]},
                            {"handler": "static_response", "body": "{m}{http.regexp.r.n}"}]},
                {"match": [{"query": {"q": ["*"]}, "header": {"Accept": ["*json*"]}}],
                 "handle": [{"handler": "static_response", "status_code": "{http.request.uri.query.code}", "body": "q"}]},
                {"handle": [{"handler": "rewrite", "uri": "/{http.request.uri.path}/"},
                            {"handler": "file_server", "root": root, "index_names": ["index.{http.request.host}.html", "index.html"]}]}
            ],
            "errors": {"routes": [{"handle": [{"handler": "static_response", "body": "{err.status_code} {err.message}"}]}]}
        }}}}});
        bellhop_runtime_fuzz::instance(&config).expect("the fuzz config loads")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Some((parts, body)) = bellhop_runtime_fuzz::request(data) {
        let _ = bellhop_runtime_fuzz::serve(instance(), parts, body);
    }
});
