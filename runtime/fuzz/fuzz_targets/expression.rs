//! The CEL expression parser, type checks and evaluator: the input is an
//! expression matcher; when it provisions, a request is matched with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    let config = json!({"apps": {"http": {"servers": {"s": {
        "listen": [":8080"],
        "automatic_https": {"disable": true},
        "routes": [{"match": [{"expression": expr}], "handle": [{"handler": "static_response", "body": "y"}]}]
    }}}}});
    let Some(instance) = bellhop_runtime_fuzz::instance(&config) else {
        return;
    };
    let parts = http::Request::get("/foo/bar.txt?x=1")
        .header("Host", "example.com")
        .header("X-A", "a, b")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let _ = bellhop_runtime_fuzz::serve(&instance, parts, bytes::Bytes::new());
});
