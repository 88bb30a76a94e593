//! `tracing` (W3C Trace Context propagation, `{http.vars.trace_id}` and
//! `{http.vars.span_id}`) and `metrics` (per-server, per-handler request
//! and error counters in Prometheus' text format), end to end.

use crate::support::*;
use serde_json::json;

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[tokio::test]
async fn tracing_starts_or_continues_a_trace() {
    let upstream =
        start_routes(json!([{"handle": [respond("up {http.request.header.traceparent}")]}]));
    let s = start_routes(json!([
        {"handle": [{"handler": "tracing", "span": "api {http.request.method}"}]},
        {"match": [{"path": ["/proxy"]}], "handle": [{"handler": "reverse_proxy",
            "upstreams": [{"dial": upstream.addr.to_string()}]}]},
        {"handle": [respond("{http.vars.trace_id} {http.vars.span_id} {http.request.header.traceparent}")]}
    ]));
    // No incoming context: a new, sampled trace.
    let r = get(s.addr, "/").await;
    let parts: Vec<&str> = r.body.split(' ').collect();
    let (trace, span, header) = (parts[0], parts[1], parts[2]);
    assert!(is_hex(trace, 32) && is_hex(span, 16), "{}", r.body);
    assert_eq!(header, format!("00-{trace}-{span}-01"));
    let again = get(s.addr, "/").await;
    assert_ne!(
        again.body.split(' ').next(),
        Some(trace),
        "a new trace each time"
    );
    // An incoming traceparent is continued: same trace, new span, flags kept.
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let r = get_with(s.addr, "/", &[("traceparent", parent)]).await;
    let parts: Vec<&str> = r.body.split(' ').collect();
    assert_eq!(parts[0], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(is_hex(parts[1], 16) && parts[1] != "00f067aa0ba902b7");
    assert_eq!(
        parts[2],
        format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-00", parts[1])
    );
    // An invalid one is replaced by a new trace.
    let r = get_with(s.addr, "/", &[("traceparent", "00-zz-00f067aa0ba902b7-01")]).await;
    assert!(
        !r.body.contains("zz") && r.body.ends_with("-01"),
        "{}",
        r.body
    );
    // Upstreams receive the context naming this hop's span as parent.
    let r = get_with(s.addr, "/proxy", &[("traceparent", parent)]).await;
    let (_, hop) = r.body.split_once(' ').unwrap();
    assert!(
        hop.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
            && !hop.contains("00f067aa0ba902b7"),
        "{hop}"
    );
}

fn metric(text: &str, name: &str, handler: &str, server: &str) -> Option<u64> {
    let prefix = format!("{name}{{handler=\"{handler}\",server=\"{server}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

#[tokio::test]
async fn metrics_count_requests_and_errors_per_handler() {
    let s = start(config_with(json!({"routes": [
        {"match": [{"path": ["/metrics"]}], "handle": [{"handler": "metrics"}]},
        {"match": [{"path": ["/om"]}], "handle": [{"handler": "metrics", "disable_openmetrics": true}]},
        {"match": [{"path": ["/fail"]}], "handle": [{"handler": "error", "status_code": 503}]},
        {"handle": [{"handler": "subroute", "routes": [{"handle": [respond("hi")]}]}]}
    ]})));
    for _ in 0..3 {
        assert_eq!(get(s.addr, "/").await.body, "hi");
    }
    assert_eq!(get(s.addr, "/fail").await.status, 503);
    let r = get(s.addr, "/metrics").await;
    assert_eq!(
        r.header("content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let t = &r.body;
    assert!(
        t.contains("# TYPE caddy_http_requests_total counter"),
        "{t}"
    );
    let count = |h| metric(t, "caddy_http_requests_total", h, "srv0");
    assert_eq!(count("static_response"), Some(3));
    assert_eq!(count("subroute"), Some(3));
    assert_eq!(count("error"), Some(1));
    // As Caddy's, a request counts once its handlers are done: this
    // scrape is in flight, not counted yet.
    assert_eq!(count("metrics"), Some(0));
    assert_eq!(
        metric(t, "caddy_http_requests_in_flight", "metrics", "srv0"),
        Some(1)
    );
    let errors = |h| metric(t, "caddy_http_request_errors_total", h, "srv0");
    assert_eq!(
        (errors("error"), errors("static_response")),
        (Some(1), Some(0))
    );
    // OpenMetrics when asked for, unless disabled.
    let om = get_with(
        s.addr,
        "/metrics",
        &[("Accept", "application/openmetrics-text")],
    )
    .await;
    assert!(om
        .header("content-type")
        .starts_with("application/openmetrics-text"));
    assert!(om.body.contains("# TYPE caddy_http_requests counter") && om.body.ends_with("# EOF\n"));
    let plain = get_with(s.addr, "/om", &[("Accept", "application/openmetrics-text")]).await;
    assert!(
        plain.header("content-type").starts_with("text/plain") && !plain.body.contains("# EOF")
    );
}

#[tokio::test]
async fn metrics_are_labelled_by_server() {
    let cfg = json!({"apps": {"http": {"metrics": {}, "servers": {
        "app": {"listen": ["127.0.0.1:0"], "routes": [{"handle": [respond("app")]}]},
        "ops": {"listen": ["127.0.0.1:0"], "routes": [{"handle": [{"handler": "metrics"}]}]},
    }}}});
    let s = start(cfg);
    let addrs = s.rt.listen_addrs();
    let mut app = None;
    let mut ops = None;
    for a in addrs {
        let r = get(a, "/").await;
        if r.body == "app" {
            app = Some(a);
        } else {
            ops = Some(a);
        }
    }
    let (app, ops) = (app.unwrap(), ops.unwrap());
    get(app, "/x").await;
    let t = get(ops, "/").await.body;
    assert_eq!(
        metric(&t, "caddy_http_requests_total", "static_response", "app"),
        Some(2),
        "{t}"
    );
    assert_eq!(
        metric(&t, "caddy_http_requests_total", "metrics", "ops"),
        Some(1),
        "{t}"
    );
}
