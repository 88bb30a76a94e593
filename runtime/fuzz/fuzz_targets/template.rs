//! The Go template engine: the request body becomes the response body
//! (`{http.request.body}`) that the templates handler executes, with the
//! context functions a template reaches (include, import, listFiles,
//! splitFrontMatter, markdown, stripHTML, humanize, the sprig-like
//! functions, httpError). No template may panic or hang the server.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use std::sync::OnceLock;

fn instance() -> &'static bellhop_runtime::instance::Instance {
    static I: OnceLock<bellhop_runtime::instance::Instance> = OnceLock::new();
    I.get_or_init(|| {
        let root = std::env::temp_dir().join("bellhop-fuzz-template");
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join("inc.html"), "{{.Args}}{{include \"d/x.md\"}}").unwrap();
        std::fs::write(root.join("d/x.md"), "---\ntitle: t\n---\n# x").unwrap();
        let config = json!({"apps": {"http": {"servers": {"s": {
            "listen": [":8080"],
            "automatic_https": {"disable": true},
            "routes": [{"handle": [
                {"handler": "templates", "file_root": root.display().to_string()},
                {"handler": "static_response", "headers": {"Content-Type": ["text/html"]}, "body": "{http.request.body}"}
            ]}]
        }}}}});
        bellhop_runtime_fuzz::instance(&config).expect("the fuzz config loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let parts = http::Request::post("/t").body(()).unwrap().into_parts().0;
    let _ = bellhop_runtime_fuzz::serve(instance(), parts, bytes::Bytes::copy_from_slice(data));
});
