//! reverse_proxy load balancing, retries, passive health and
//! handle_response against real upstreams on port 0.

use crate::support::*;
use serde_json::json;

fn named(name: &str) -> TestServer {
    start_routes(json!([{"handle": [respond(name)]}]))
}

#[tokio::test]
async fn round_robin_alternates_and_first_prefers_the_first() {
    let (a, b) = (named("A"), named("B"));
    let ups = json!([{"dial": a.addr.to_string()}, {"dial": b.addr.to_string()}]);
    let rr = start_routes(
        json!([{"handle": [{"handler": "reverse_proxy", "upstreams": ups,
        "load_balancing": {"selection_policy": {"policy": "round_robin"}}}]}]),
    );
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(get(rr.addr, "/").await.body);
    }
    assert_eq!(seen.iter().filter(|b| *b == "A").count(), 2, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
    let first = start_routes(
        json!([{"handle": [{"handler": "reverse_proxy", "upstreams": ups,
        "load_balancing": {"selection_policy": {"policy": "first"}}}]}]),
    );
    for _ in 0..3 {
        assert_eq!(get(first.addr, "/").await.body, "A");
    }
}

#[tokio::test]
async fn retries_move_past_a_dead_upstream_and_passive_health_skips_it() {
    let a = named("A");
    let (_held, dead) = refusing_addr();
    let s = start_routes(json!([{"handle": [{"handler": "reverse_proxy",
        "upstreams": [{"dial": dead.to_string()}, {"dial": a.addr.to_string()}],
        "load_balancing": {"selection_policy": {"policy": "first"}, "retries": 2},
        "health_checks": {"passive": {"fail_duration": "10s", "max_fails": 1}}}]}]));
    let r = get(s.addr, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "A"));
    // The dead host is now remembered as failed: `first` skips it at once.
    let r = get(s.addr, "/").await;
    assert_eq!(r.body, "A");
}

#[tokio::test]
async fn no_retry_without_retries_is_502_and_all_down_is_503() {
    let (_held, dead) = refusing_addr();
    let s = start_routes(json!([{"handle": [{"handler": "reverse_proxy",
        "upstreams": [{"dial": dead.to_string()}],
        "health_checks": {"passive": {"fail_duration": "10s"}}}]}]));
    assert_eq!(get(s.addr, "/").await.status, 502);
    assert_eq!(get(s.addr, "/").await.status, 503);
}

#[tokio::test]
async fn handle_response_copies_and_falls_through() {
    let up = start_routes(json!([{"handle": [{"handler": "static_response",
        "status_code": 401, "headers": {"X-User": ["bob"]}, "body": "denied"}]}]));
    let s = start_routes(json!([{"handle": [
        {"handler": "reverse_proxy", "upstreams": [{"dial": up.addr.to_string()}],
         "handle_response": [
            {"match": {"status_code": [2]}, "routes": []},
            {"match": {"status_code": [401]}, "routes": [{"handle": [
                {"handler": "copy_response_headers", "include": ["X-User"]},
                {"handler": "copy_response", "status_code": 403}]}]}]}
    ]}]));
    let r = get(s.addr, "/").await;
    assert_eq!(
        (r.status, r.body.as_str(), r.header("x-user")),
        (403, "denied", "bob")
    );
    assert!(r.header("via").contains("bellhop"), "{:?}", r.headers);
}

#[tokio::test]
async fn upstream_placeholders_reach_response_headers() {
    let a = named("A");
    let s = start_routes(json!([{"handle": [{"handler": "reverse_proxy",
        "upstreams": [{"dial": a.addr.to_string()}],
        "headers": {"response": {"set": {"X-Up": ["{http.reverse_proxy.upstream.port}"]}}}}]}]));
    let r = get(s.addr, "/").await;
    assert_eq!(r.header("x-up"), a.addr.port().to_string());
    assert!(
        bellhop_runtime::http::handlers::reverse_proxy::upstreams_status()
            .iter()
            .any(|u| u.address == a.addr.to_string())
    );
}
