//! The placeholder parser and replacer: the input is a template of
//! placeholders (a response body and a header value of a static response)
//! provisioned, then rendered for a request with a query, headers,
//! cookies and a path. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = json!({"apps": {"http": {"servers": {"s": {
        "listen": [":8080"],
        "automatic_https": {"disable": true},
        "routes": [{"handle": [
            {"handler": "vars", "v": text},
            {"handler": "static_response", "headers": {"X-T": [text]}, "body": text}
        ]}]
    }}}}});
    let Some(instance) = bellhop_runtime_fuzz::instance(&config) else {
        return;
    };
    let parts = http::Request::get("/a/b%2Fc/d.txt?q=1&q=2&x")
        .header("Cookie", "c=v; d=w")
        .header("Host", "www.example.com:8080")
        .header("X-H", "h")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let _ = bellhop_runtime_fuzz::serve(&instance, parts, bytes::Bytes::from_static(b"body"));
});
