//! The endpoints end to end: /load (no-op, forced, failure, adapters),
//! /config/… with Caddy's path semantics, ETag/If-Match, /id/…, /adapt,
//! /stop, /reverse_proxy/upstreams, /pki/ca/…, /metrics.

use crate::support::*;
use serde_json::{json, Value};

fn body_json(r: &bellhop_runtime::admin::client::Reply) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {:?}", r.body))
}

#[tokio::test]
async fn load_swaps_identical_is_noop_unless_forced() {
    let t = start(site("one")).await;
    assert_eq!(get(t.site(), "/").await, (200, "one".into()));
    let port = t.site().port();
    let two = site_on(&format!("127.0.0.1:{port}"), "two");
    assert_eq!(t.load(&two).await.status, 200);
    assert_eq!(get(t.site(), "/").await, (200, "two".into()));
    let reloads = t.metric("bellhop_config_reloads_total").await;
    assert_eq!(t.load(&two).await.status, 200);
    assert_eq!(t.metric("bellhop_config_reloads_total").await, reloads);
    let forced = t
        .req(
            "POST",
            "/load",
            &[
                ("Content-Type", "application/json"),
                ("Cache-Control", "must-revalidate"),
            ],
            &two.to_string(),
        )
        .await;
    assert_eq!(forced.status, 200);
    assert_eq!(
        t.metric("bellhop_config_reloads_total").await,
        reloads + 1.0
    );
}

#[tokio::test]
async fn failed_load_answers_400_and_keeps_serving() {
    let t = start(site("kept")).await;
    let bad = json!({"apps": {"http": {"servers": {"srv0": {"listen": ["127.0.0.1:0"], "routes": [{"handle": [{"handler": "no_such_handler"}]}]}}}}});
    let r = t.load(&bad).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.headers["content-type"], "application/json");
    assert!(
        r.error_message().contains("no_such_handler"),
        "{}",
        r.error_message()
    );
    assert_eq!(get(t.site(), "/").await, (200, "kept".into()));
    let r = t
        .req(
            "POST",
            "/load",
            &[("Content-Type", "application/json")],
            "{not json",
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().starts_with("decoding request body"),
        "{}",
        r.error_message()
    );
    assert_eq!(t.metric("caddy_config_last_reload_successful").await, 0.0);
    assert_eq!(t.metric("bellhop_config_reload_failures_total").await, 1.0);
    let got = t.req("GET", "/config/", &[], "").await;
    assert_eq!(body_json(&got), site("kept"));
}

#[tokio::test]
async fn load_adapts_through_injected_adapter() {
    let t = start(site("json")).await;
    let r = t
        .req(
            "POST",
            "/load",
            &[("Content-Type", "text/x-site")],
            "adapted",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.error_message());
    assert_eq!(body_json(&r), json!(["text adapter: test warning"]));
    assert_eq!(get(t.site(), "/").await, (200, "adapted".into()));
    let r = t
        .req("POST", "/load", &[("Content-Type", "text/x-site")], "")
        .await;
    assert_eq!(r.status, 400);
    assert!(r
        .error_message()
        .contains("adapting config using text/x-site: empty text"));
    let r = t
        .req("POST", "/adapt", &[("Content-Type", "text/x-site")], "hi")
        .await;
    assert_eq!(r.status, 200);
    let v = body_json(&r);
    assert_eq!(v["result"], site("hi"));
    assert_eq!(v["warnings"], json!(["text adapter: test warning"]));
    assert_eq!(
        get(t.site(), "/").await.1,
        "adapted",
        "/adapt loads nothing"
    );
}

#[tokio::test]
async fn config_paths_follow_caddy_semantics() {
    let t = start(site("a")).await;
    let routes = "/config/apps/http/servers/srv0/routes";
    let ct = [("Content-Type", "application/json")];
    let route =
        |b: &str| json!({"handle": [{"handler": "static_response", "body": b}]}).to_string();
    let tr = &t;
    let get_json = |p: &'static str| async move { body_json(&tr.req("GET", p, &[], "").await) };
    assert_eq!(
        get_json("/config/apps/http/servers/srv0/listen/0").await,
        json!("127.0.0.1:0")
    );
    assert_eq!(get_json("/config/apps/nothing").await, Value::Null);
    // POST appends; PUT inserts at an index; PATCH replaces; DELETE removes.
    assert_eq!(t.req("POST", routes, &ct, &route("b")).await.status, 200);
    assert_eq!(
        t.req("PUT", &format!("{routes}/0"), &ct, &route("first"))
            .await
            .status,
        200
    );
    assert_eq!(get(t.site(), "/").await.1, "first");
    assert_eq!(
        t.req("PATCH", &format!("{routes}/0"), &ct, &route("patched"))
            .await
            .status,
        200
    );
    assert_eq!(get(t.site(), "/").await.1, "patched");
    assert_eq!(
        t.req("DELETE", &format!("{routes}/0"), &[], "")
            .await
            .status,
        200
    );
    assert_eq!(get(t.site(), "/").await.1, "a");
    let two = format!("[{},{}]", route("x"), route("y"));
    assert_eq!(
        t.req("POST", &format!("{routes}/..."), &ct, &two)
            .await
            .status,
        200
    );
    let all = body_json(&t.req("GET", routes, &[], "").await);
    assert_eq!(all.as_array().unwrap().len(), 4);
    // PUT on an existing key: 409; PATCH or DELETE of a missing one: 404.
    let r = t
        .req("PUT", "/config/apps/http/servers/srv0/listen", &ct, "[]")
        .await;
    assert_eq!(r.status, 409);
    let r = t
        .req("PATCH", "/config/apps/http/servers/srv9", &ct, "{}")
        .await;
    assert_eq!(r.status, 404);
    assert!(r.error_message().contains("key does not exist: srv9"));
    assert_eq!(
        t.req("DELETE", "/config/apps/http/grace_period", &[], "")
            .await
            .status,
        404
    );
    let r = t
        .req("PATCH", &format!("{routes}/9"), &ct, &route("z"))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error_message().contains("out of bounds"));
    // A change the runtime refuses is not applied.
    let r = t
        .req("PUT", "/config/apps/http/servers/srv0/lisen", &ct, "1")
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.error_message().contains("apps.http.servers.srv0.lisen"),
        "{}",
        r.error_message()
    );
    assert_eq!(
        get_json("/config/apps/http/servers/srv0/lisen").await,
        Value::Null
    );
}

#[tokio::test]
async fn etag_and_if_match() {
    let t = start(site("a")).await;
    let path = "/config/apps/http/servers/srv0/routes/0/handle/0/body";
    let r = t.req("GET", path, &[], "").await;
    let tag = r.headers["etag"].to_str().unwrap().to_string();
    assert!(tag.starts_with(&format!("\"{path} ")), "{tag}");
    let h = [
        ("Content-Type", "application/json"),
        ("If-Match", tag.as_str()),
    ];
    assert_eq!(t.req("PATCH", path, &h, "\"b\"").await.status, 200);
    assert_eq!(get(t.site(), "/").await.1, "b");
    let stale = t.req("PATCH", path, &h, "\"c\"").await;
    assert_eq!(stale.status, 412);
    assert_eq!(get(t.site(), "/").await.1, "b");
    let h = [
        ("Content-Type", "application/json"),
        ("If-Match", "no-quotes"),
    ];
    assert_eq!(t.req("PATCH", path, &h, "\"c\"").await.status, 400);
}

#[tokio::test]
async fn ids_address_objects() {
    let mut cfg = site("a");
    cfg["apps"]["http"]["servers"]["srv0"]["routes"][0]["@id"] = json!("main");
    let t = start(cfg).await;
    assert_eq!(
        get(t.site(), "/").await.1,
        "a",
        "@id is accepted by the strict model"
    );
    let r = t.req("GET", "/id/main/handle/0/body", &[], "").await;
    assert_eq!(body_json(&r), json!("a"));
    let ct = [("Content-Type", "application/json")];
    assert_eq!(
        t.req("PATCH", "/id/main/handle/0/body", &ct, "\"by id\"")
            .await
            .status,
        200
    );
    assert_eq!(get(t.site(), "/").await.1, "by id");
    assert_eq!(t.req("GET", "/id/missing", &[], "").await.status, 404);
    assert_eq!(t.req("GET", "/id/", &[], "").await.status, 400);
    let saved = t.saved().await;
    assert_eq!(
        saved["apps"]["http"]["servers"]["srv0"]["routes"][0]["@id"],
        "main"
    );
}

#[tokio::test]
async fn other_endpoints() {
    let t = start(site("a")).await;
    let r = t.req("GET", "/reverse_proxy/upstreams", &[], "").await;
    assert_eq!(r.status, 200);
    assert!(body_json(&r).is_array());
    assert_eq!(r.headers["content-type"], "application/json");
    // Only GET (Caddy's admin_test.go TestAdminUpstreamsMethodNotAllowed).
    for m in ["POST", "PUT", "DELETE"] {
        let r = t.req(m, "/reverse_proxy/upstreams", &[], "").await;
        assert_eq!(r.status, 405, "{m}");
    }
    // A config whose reverse proxy names an upstream: the pool the proxy
    // keeps (across reloads) is what the endpoint lists.
    let mut proxied = site("a");
    proxied["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"] =
        json!([{"handler": "reverse_proxy", "upstreams": [{"dial": "backend.test:9000"}]}]);
    assert_eq!(t.load(&proxied).await.status, 200);
    let listed = body_json(&t.req("GET", "/reverse_proxy/upstreams", &[], "").await);
    assert!(
        listed
            .as_array()
            .unwrap()
            .contains(&json!({"address": "backend.test:9000", "num_requests": 0, "fails": 0})),
        "{listed}"
    );
    let r = t.req("GET", "/pki/ca/local", &[], "").await;
    assert_eq!(r.status, 404);
    assert!(r
        .error_message()
        .contains("no certificate authority configured with id: local"));
    assert_eq!(
        t.req("GET", "/pki/ca/local/certificates", &[], "")
            .await
            .status,
        404
    );
    let m = String::from_utf8(t.req("GET", "/metrics", &[], "").await.body).unwrap();
    for name in ["process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds", "bellhop_config_reloads_total 2", "caddy_admin_http_requests_total{code=\"404\",handler=\"admin\",method=\"GET\",path=\"/pki/\"} 2"] {
        assert!(m.contains(name), "{name} missing:\n{m}");
    }
    assert_eq!(t.req("GET", "/nope", &[], "").await.status, 404);
    assert_eq!(t.req("GET", "/load", &[], "").await.status, 405);
    assert_eq!(t.req("GET", "/stop", &[], "").await.status, 405);
    let stopped = t.admin.clone();
    let waiter = tokio::spawn(async move { stopped.stop_requested().await });
    assert_eq!(t.req("POST", "/stop", &[], "").await.status, 200);
    tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn pki_ca_endpoints_show_the_configured_authority() {
    let storage = std::env::temp_dir().join(format!("bellhop-admin-pki-{}", std::process::id()));
    let mut config = site("a");
    config["storage"] = json!({"module": "file_system", "root": storage.to_str().unwrap()});
    config["apps"]["pki"] = json!({"certificate_authorities": {"corp": {
        "name": "Corp CA", "install_trust": false
    }}});
    let t = start(config).await;
    let r = t.req("GET", "/pki/ca/corp", &[], "").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let ca = body_json(&r);
    assert_eq!(ca["id"], "corp");
    assert_eq!(ca["name"], "Corp CA");
    assert!(ca["root_common_name"]
        .as_str()
        .unwrap()
        .starts_with("Corp CA"));
    assert!(ca["root_certificate"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        t.req("GET", "/pki/ca/corp/certificates", &[], "")
            .await
            .status,
        200
    );
    assert_eq!(t.req("GET", "/pki/ca/other", &[], "").await.status, 404);
    let _ = std::fs::remove_dir_all(storage);
}
