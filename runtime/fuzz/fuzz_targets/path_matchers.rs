//! Path and host matcher patterns from the input (path, path_regexp-free
//! patterns, host, url_pattern), each matched against requests whose
//! paths come from the same input: provisioning refuses or accepts,
//! matching never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, path) = text.split_once('\n').unwrap_or((text, "/"));
    let config = json!({"apps": {"http": {"servers": {"s": {
        "listen": [":8080"],
        "automatic_https": {"disable": true},
        "routes": [
            {"match": [{"path": [pattern]}], "handle": [{"handler": "static_response", "body": "p"}]},
            {"match": [{"host": [pattern]}], "handle": [{"handler": "static_response", "body": "h"}]},
            {"match": [{"url_pattern": {"pattern": pattern}}], "handle": [{"handler": "static_response", "body": "u"}]}
        ]
    }}}}});
    // each route alone, since one bad pattern refuses the whole config
    for i in 0..3 {
        let mut c = config.clone();
        let routes = c["apps"]["http"]["servers"]["s"]["routes"].as_array_mut().unwrap();
        let keep = routes[i].clone();
        *routes = vec![keep];
        let Some(instance) = bellhop_runtime_fuzz::instance(&c) else {
            continue;
        };
        let Ok(uri) = http::Uri::try_from(path) else {
            return;
        };
        let parts = http::Request::get(uri)
            .header("Host", path.trim_start_matches('/'))
            .body(())
            .map(|r| r.into_parts().0);
        if let Ok(parts) = parts {
            let _ = bellhop_runtime_fuzz::serve(&instance, parts, bytes::Bytes::new());
        }
    }
});
