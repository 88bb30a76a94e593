//! reverse_proxy dynamic upstreams (`a`, `srv`, `multi`) and the HTTP
//! transport's `resolver`, against a real DNS server over UDP on port 0
//! (`dns_support`) and real backends. Every test uses its own names: the
//! answer cache is process-wide, as Caddy's.

use crate::dns_support::{DnsServer, Rec};
use crate::proxy_support::{bellhop, named};
use crate::support::get;
use serde_json::json;
use std::net::Ipv4Addr;
use std::time::Duration;

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn srv(priority: u16, port: u16, target: &str) -> Rec {
    Rec::Srv {
        priority,
        weight: 1,
        port,
        target: target.into(),
    }
}

#[tokio::test]
async fn a_upstreams_use_the_resolver_and_cache_answers_for_refresh() {
    let dns = DnsServer::start().await;
    let b = named("A-backend").await;
    dns.set("app.a-cache.test", vec![Rec::A(LOCAL)]);
    let s = bellhop(json!({"handler": "reverse_proxy", "dynamic_upstreams": {
        "source": "a", "name": "app.a-cache.test", "port": b.addr.port().to_string(),
        "refresh": "700ms", "versions": {"ipv4": true},
        "resolver": {"addresses": [dns.addr.to_string()]}}}));
    let r = get(s.addr, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "A-backend"));
    let asked = dns.asked("app.a-cache.test");
    assert!(asked >= 1);
    // Within `refresh` the answer is cached: no new question, and the
    // name's disappearance goes unnoticed.
    dns.remove("app.a-cache.test");
    for _ in 0..3 {
        assert_eq!(get(s.addr, "/").await.status, 200);
    }
    assert_eq!(dns.asked("app.a-cache.test"), asked);
    // After it, the lookup runs again and fails: 503 (no upstreams
    // available, as Caddy answers), not a panic.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(get(s.addr, "/").await.status, 503);
    assert!(dns.asked("app.a-cache.test") > asked);
    assert_eq!(b.hits(), 4);
}

#[tokio::test]
async fn srv_upstreams_follow_priority_and_dial_targets_through_the_transport_resolver() {
    let dns = DnsServer::start().await;
    let (one, two) = (named("one").await, named("two").await);
    dns.set("one.srv.test", vec![Rec::A(LOCAL)]);
    dns.set("two.srv.test", vec![Rec::A(LOCAL)]);
    let name = "_api._tcp.srv.test";
    dns.set(
        name,
        vec![
            srv(20, two.addr.port(), "two.srv.test."),
            srv(10, one.addr.port(), "one.srv.test."),
        ],
    );
    let resolver = json!({"addresses": [format!("udp/{}", dns.addr)]});
    let s = bellhop(json!({"handler": "reverse_proxy",
        "dynamic_upstreams": {"source": "srv", "service": "api", "proto": "tcp",
            "name": "srv.test", "refresh": "400ms", "resolver": resolver},
        "load_balancing": {"selection_policy": {"policy": "first"}},
        "transport": {"protocol": "http", "resolver": resolver}}));
    for _ in 0..3 {
        assert_eq!(get(s.addr, "/").await.body, "one");
    }
    assert_eq!(dns.asked(name), 1, "one SRV question within refresh");
    assert!(
        dns.asked("one.srv.test") >= 1,
        "the target was resolved by our server"
    );
    // The priorities swap; after `refresh` the new order is used.
    dns.set(
        name,
        vec![
            srv(10, two.addr.port(), "two.srv.test"),
            srv(20, one.addr.port(), "one.srv.test"),
        ],
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(s.addr, "/").await.body, "two");
}

#[tokio::test]
async fn srv_grace_period_serves_the_last_answer_when_lookups_fail() {
    let dns = DnsServer::start().await;
    let b = named("graceful").await;
    dns.set(
        "_web._tcp.grace.test",
        vec![srv(1, b.addr.port(), "localhost")],
    );
    dns.set(
        "_web._tcp.nograce.test",
        vec![srv(1, b.addr.port(), "localhost")],
    );
    let handler = |name: &str, grace: Option<&str>| {
        let mut d = json!({"source": "srv", "name": name, "refresh": "200ms",
            "dial_timeout": "500ms", "resolver": {"addresses": [dns.addr.to_string()]}});
        if let Some(g) = grace {
            d["grace_period"] = json!(g);
        }
        json!({"handler": "reverse_proxy", "dynamic_upstreams": d})
    };
    let with = bellhop(handler("_web._tcp.grace.test", Some("5s")));
    let without = bellhop(handler("_web._tcp.nograce.test", None));
    assert_eq!(get(with.addr, "/").await.body, "graceful");
    assert_eq!(get(without.addr, "/").await.body, "graceful");
    dns.fail(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = get(with.addr, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "graceful"));
    assert_eq!(get(without.addr, "/").await.status, 503);
    // The stale answer is not looked up again during the grace period.
    let asked = dns.asked("_web._tcp.grace.test");
    assert_eq!(get(with.addr, "/").await.status, 200);
    assert_eq!(dns.asked("_web._tcp.grace.test"), asked);
}

#[tokio::test]
async fn multi_skips_a_failing_source_and_concatenates_the_others() {
    let dns = DnsServer::start().await;
    let (x, y) = (named("X").await, named("Y").await);
    dns.set("x.multi.test", vec![Rec::A(LOCAL)]);
    dns.set(
        "_y._tcp.multi.test",
        vec![srv(1, y.addr.port(), "localhost")],
    );
    let resolver = json!({"addresses": [dns.addr.to_string()]});
    let s = bellhop(json!({"handler": "reverse_proxy",
        "dynamic_upstreams": {"source": "multi", "sources": [
            {"source": "a", "name": "missing.multi.test", "port": "1", "resolver": resolver},
            {"source": "a", "name": "x.multi.test", "port": x.addr.port().to_string(),
             "versions": {"ipv4": true}, "resolver": resolver},
            {"source": "srv", "name": "_y._tcp.multi.test", "resolver": resolver}]},
        "load_balancing": {"selection_policy": {"policy": "round_robin"}}}));
    let mut seen = Vec::new();
    for _ in 0..4 {
        let r = get(s.addr, "/").await;
        assert_eq!(r.status, 200);
        seen.push(r.body);
    }
    seen.sort();
    assert_eq!(seen, ["X", "X", "Y", "Y"]);
}

#[tokio::test]
async fn transport_resolver_resolves_static_upstream_names() {
    let dns = DnsServer::start().await;
    let b = named("by-name").await;
    dns.set("web.transport.test", vec![Rec::A(LOCAL)]);
    let s = bellhop(json!({"handler": "reverse_proxy",
        "upstreams": [{"dial": format!("web.transport.test:{}", b.addr.port())}],
        "transport": {"protocol": "http", "dial_timeout": "1s",
            "resolver": {"addresses": [dns.addr.to_string()]}}}));
    assert_eq!(get(s.addr, "/").await.body, "by-name");
    assert!(dns.asked("web.transport.test") >= 1);
    // A name our server does not know: the dial fails, 502.
    let bad = bellhop(json!({"handler": "reverse_proxy",
        "upstreams": [{"dial": format!("gone.transport.test:{}", b.addr.port())}],
        "transport": {"protocol": "http", "dial_timeout": "1s",
            "resolver": {"addresses": [dns.addr.to_string()]}}}));
    assert_eq!(get(bad.addr, "/").await.status, 502);
}

#[tokio::test]
async fn resolver_without_addresses_is_a_config_error_naming_the_path() {
    let rt = bellhop_runtime::Runtime::new();
    let cfg = crate::support::config_with(json!({"routes": [{"handle": [
        {"handler": "reverse_proxy", "dynamic_upstreams":
            {"source": "srv", "name": "x.test", "resolver": {"addresses": []}}}]}]}));
    let err = rt.load(cfg.to_string().as_bytes()).unwrap_err().to_string();
    assert!(
        err.contains("handle[0].dynamic_upstreams.resolver.addresses"),
        "{err}"
    );
}

/// A dynamic upstream's passive health state lasts from one request to the
/// next, as Caddy's `dynamicHosts` (reverseproxy/hosts.go, admin_test.go):
/// a failure marks it down for `fail_duration`, so the next request finds
/// no upstream available (503) instead of dialling it again (502).
#[tokio::test]
async fn a_dynamic_upstreams_failures_count_across_requests() {
    let dns = DnsServer::start().await;
    dns.set("down.passive.test", vec![Rec::A(LOCAL)]);
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = bellhop(json!({"handler": "reverse_proxy", "dynamic_upstreams": {
        "source": "a", "name": "down.passive.test", "port": dead.port().to_string(),
        "versions": {"ipv4": true}, "resolver": {"addresses": [dns.addr.to_string()]}},
        "health_checks": {"passive": {"fail_duration": "1m", "max_fails": 1}}}));
    assert_eq!(get(s.addr, "/").await.status, 502);
    for _ in 0..2 {
        assert_eq!(get(s.addr, "/").await.status, 503);
    }
}

/// The admin API lists dynamic upstreams once used, as Caddy's
/// (admin_test.go TestAdminUpstreamsDynamicOnly): their hosts are kept
/// between requests, not only while one is in flight.
#[tokio::test]
async fn dynamic_upstreams_are_listed_by_the_admin_api_after_use() {
    let dns = DnsServer::start().await;
    let b = named("listed").await;
    dns.set("listed.admin.test", vec![Rec::A(LOCAL)]);
    let s = bellhop(json!({"handler": "reverse_proxy", "dynamic_upstreams": {
        "source": "a", "name": "listed.admin.test", "port": b.addr.port().to_string(),
        "versions": {"ipv4": true}, "resolver": {"addresses": [dns.addr.to_string()]}}}));
    assert_eq!(get(s.addr, "/").await.body, "listed");
    let want = b.addr.to_string();
    let listed: Vec<_> = bellhop_runtime::admin::upstreams_status()
        .into_iter()
        .filter(|u| u.address == want)
        .collect();
    assert_eq!(listed.len(), 1, "{want} listed once");
    assert_eq!((listed[0].num_requests, listed[0].fails), (0, 0));
}
