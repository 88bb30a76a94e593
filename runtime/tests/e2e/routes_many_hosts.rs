//! Long runs of host-only routes (a config with many sites) are skipped by
//! a hash lookup; these tests check that the outcome is still that of
//! trying every route in order.

use crate::support::*;
use serde_json::{json, Value};

/// A route for `host` that runs `handle`, terminal or not.
fn site(host: &str, handle: Vec<Value>, terminal: bool) -> Value {
    json!({"match": [{"host": [host]}], "handle": handle, "terminal": terminal})
}

/// Twenty sites `s0.test` … `s19.test`, each answering its number, with
/// `extra` routes spliced in at `at`.
fn sites_with(at: usize, extra: Vec<Value>) -> Vec<Value> {
    let mut routes: Vec<Value> = (0..20)
        .map(|i| {
            site(
                &format!("s{i}.test"),
                vec![respond(&format!("site {i}"))],
                true,
            )
        })
        .collect();
    routes.splice(at..at, extra);
    routes
}

async fn body_for(addr: std::net::SocketAddr, host: &str) -> String {
    get_with(addr, "/", &[("Host", host)]).await.body
}

#[tokio::test]
async fn every_site_answers_case_insensitively_and_unknown_hosts_fall_through() {
    let mut routes = sites_with(0, vec![]);
    routes.push(json!({"handle": [respond("fallback {http.request.host}")]}));
    let s = start_routes(Value::Array(routes));
    for i in [0, 7, 19] {
        assert_eq!(
            body_for(s.addr, &format!("s{i}.test")).await,
            format!("site {i}")
        );
    }
    assert_eq!(body_for(s.addr, "S13.Test:8080").await, "site 13");
    assert_eq!(
        body_for(s.addr, "nosuch.test").await,
        "fallback nosuch.test"
    );
    assert_eq!(body_for(s.addr, "").await, "fallback ");
}

#[tokio::test]
async fn non_terminal_routes_of_one_host_all_run_in_order() {
    let first = site("s5.test", vec![json!({"handler": "vars", "a": "1"})], false);
    let second = site(
        "s5.test",
        vec![json!({"handler": "headers", "response": {"set": {"X-A": ["{http.vars.a}"]}}})],
        false,
    );
    // Placed before the site's own terminal route, among the others.
    let s = start_routes(Value::Array(sites_with(3, vec![first, second])));
    let r = get_with(s.addr, "/", &[("Host", "s5.test")]).await;
    assert_eq!((r.body.as_str(), r.header("x-a")), ("site 5", "1"));
    assert_eq!(body_for(s.addr, "s4.test").await, "site 4");
}

#[tokio::test]
async fn a_host_changed_by_an_earlier_route_is_looked_up_again() {
    // s2's first route rewrites the Host to s17.test and does not end the
    // chain, so the request goes on to s17's route, later in the run.
    let rewrite = site(
        "s2.test",
        vec![json!({"handler": "headers", "request": {"set": {"Host": ["s17.test"]}}})],
        false,
    );
    let s = start_routes(Value::Array(sites_with(0, vec![rewrite])));
    assert_eq!(body_for(s.addr, "s2.test").await, "site 17");
}

#[tokio::test]
async fn groups_and_other_matchers_inside_the_run_keep_their_meaning() {
    let grouped = |v: &str| {
        let mut r = site("s9.test", vec![json!({"handler": "vars", "g": v})], false);
        r["group"] = json!("g");
        r
    };
    let path_only =
        json!({"match": [{"path": ["/p"]}], "handle": [respond("path")], "terminal": true});
    let show = site("s9.test", vec![respond("g={http.vars.g}")], true);
    let s = start_routes(Value::Array(sites_with(
        4,
        vec![grouped("first"), grouped("second"), path_only, show],
    )));
    assert_eq!(body_for(s.addr, "s9.test").await, "g=first");
    // The route without a host matcher splits the run and still applies.
    let r = get_with(s.addr, "/p", &[("Host", "s12.test")]).await;
    assert_eq!(r.body, "path");
    assert_eq!(body_for(s.addr, "s12.test").await, "site 12");
}
