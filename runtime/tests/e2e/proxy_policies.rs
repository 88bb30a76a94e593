//! reverse_proxy selection policies against real backends: each policy's
//! distribution (hash stickiness and spread, weighted ratios, least_conn
//! avoiding a busy host) and `max_requests` answering 503.

use crate::proxy_support::*;
use crate::support::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

async fn pair() -> (Backend, Backend) {
    (named("A").await, named("B").await)
}

fn lb(a: &Backend, b: &Backend, policy: serde_json::Value) -> TestServer {
    bellhop(proxy(
        &[a.addr, b.addr],
        json!({"load_balancing": {"selection_policy": policy}}),
    ))
}

/// Which backend answered each of `n` requests made by `req(i)`.
async fn tally<F>(s: &TestServer, n: usize, headers: F) -> HashMap<String, usize>
where
    F: Fn(usize) -> (String, Vec<(String, String)>),
{
    let mut seen = HashMap::new();
    for i in 0..n {
        let (path, hs) = headers(i);
        let hs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        *seen
            .entry(get_with(s.addr, &path, &hs).await.body)
            .or_insert(0) += 1;
    }
    seen
}

#[tokio::test]
async fn ip_hashes_stick_to_one_upstream() {
    let (a, b) = pair().await;
    for policy in ["ip_hash", "client_ip_hash"] {
        let s = lb(&a, &b, json!({"policy": policy}));
        let seen = tally(&s, 8, |_| ("/".into(), vec![])).await;
        assert_eq!(seen.len(), 1, "{policy}: {seen:?}");
    }
}

#[tokio::test]
async fn uri_hash_sticks_per_uri_and_spreads_uris() {
    let (a, b) = pair().await;
    let s = lb(&a, &b, json!({"policy": "uri_hash"}));
    let same = tally(&s, 5, |_| ("/same?x=1".into(), vec![])).await;
    assert_eq!(same.len(), 1, "{same:?}");
    let spread = tally(&s, 24, |i| (format!("/page/{i}"), vec![])).await;
    assert_eq!(spread.len(), 2, "{spread:?}");
}

#[tokio::test]
async fn header_and_query_hash_their_key_and_fall_back_without_it() {
    let (a, b) = pair().await;
    let s = lb(
        &a,
        &b,
        json!({"policy": "header", "field": "X-User",
        "fallback": {"policy": "first"}}),
    );
    let user = |u: &str| vec![("X-User".to_string(), u.to_string())];
    let bob = tally(&s, 5, |_| ("/".into(), user("bob"))).await;
    assert_eq!(bob.len(), 1, "{bob:?}");
    let many = tally(&s, 24, |i| ("/".into(), user(&format!("user{i}")))).await;
    assert_eq!(many.len(), 2, "{many:?}");
    let none = tally(&s, 4, |_| ("/".into(), vec![])).await;
    assert_eq!(none.get("A"), Some(&4), "fallback `first`: {none:?}");

    let q = lb(
        &a,
        &b,
        json!({"policy": "query", "key": "u", "fallback": {"policy": "first"}}),
    );
    let same = tally(&q, 5, |_| ("/?u=carol".into(), vec![])).await;
    assert_eq!(same.len(), 1, "{same:?}");
    let many = tally(&q, 24, |i| (format!("/?u={i}"), vec![])).await;
    assert_eq!(many.len(), 2, "{many:?}");
}

#[tokio::test]
async fn cookie_policy_sets_a_sticky_cookie() {
    let (a, b) = pair().await;
    let s = lb(
        &a,
        &b,
        json!({"policy": "cookie", "name": "lb", "secret": "s3cret"}),
    );
    let first = get(s.addr, "/").await;
    let cookie = first.header("set-cookie").to_string();
    assert!(cookie.starts_with("lb="), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let sticky = tally(&s, 8, |_| {
        ("/".into(), vec![("Cookie".into(), pair.clone())])
    })
    .await;
    assert_eq!(sticky.get(&first.body), Some(&8), "{sticky:?}");
    // The cookie names the upstream by an HMAC of its address.
    let other = lb(
        &a,
        &b,
        json!({"policy": "cookie", "name": "lb", "secret": "other"}),
    );
    let r = get(other.addr, "/").await;
    assert_ne!(
        r.header("set-cookie").split(';').next(),
        Some(pair.as_str())
    );
}

#[tokio::test]
async fn weighted_round_robin_follows_the_weights() {
    let (a, b) = pair().await;
    let s = lb(
        &a,
        &b,
        json!({"policy": "weighted_round_robin", "weights": [3, 1]}),
    );
    let seen = tally(&s, 12, |_| ("/".into(), vec![])).await;
    assert_eq!(
        (seen.get("A"), seen.get("B")),
        (Some(&9), Some(&3)),
        "{seen:?}"
    );
    let zero = lb(
        &a,
        &b,
        json!({"policy": "weighted_round_robin", "weights": [0, 2]}),
    );
    let seen = tally(&zero, 4, |_| ("/".into(), vec![])).await;
    assert_eq!(seen.get("B"), Some(&4), "{seen:?}");
}

#[tokio::test]
async fn random_policies_use_every_upstream() {
    let (a, b) = pair().await;
    for policy in [
        json!({"policy": "random"}),
        json!({"policy": "random_choose", "choose": 2}),
    ] {
        let s = lb(&a, &b, policy.clone());
        let seen = tally(&s, 40, |_| ("/".into(), vec![])).await;
        assert_eq!(seen.len(), 2, "{policy}: {seen:?}");
    }
}

/// A backend named `name` whose `/slow` waits for `release`.
async fn holding(name: &'static str, release: Arc<Notify>) -> Backend {
    backend(move |r| {
        let release = release.clone();
        async move {
            if r.uri().path() == "/slow" {
                release.notified().await;
            }
            ok(name)
        }
    })
    .await
}

#[tokio::test]
async fn least_conn_avoids_the_busy_upstream() {
    let release = Arc::new(Notify::new());
    let a = holding("A", release.clone()).await;
    let b = holding("B", release.clone()).await;
    let s = lb(&a, &b, json!({"policy": "least_conn"}));
    let addr = s.addr;
    let slow = tokio::spawn(async move { get(addr, "/slow").await.body });
    while a.hits() + b.hits() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let busy = if a.hits() == 1 { "A" } else { "B" };
    let fast = tally(&s, 6, |_| ("/fast".into(), vec![])).await;
    assert_eq!(fast.get(busy), None, "busy {busy}: {fast:?}");
    release.notify_one();
    assert_eq!(slow.await.unwrap(), busy);
}

#[tokio::test]
async fn max_requests_full_upstreams_answer_503() {
    let release = Arc::new(Notify::new());
    let a = holding("A", release.clone()).await;
    let s = bellhop(json!({"handler": "reverse_proxy",
        "upstreams": [{"dial": a.addr.to_string(), "max_requests": 1}]}));
    let addr = s.addr;
    let slow = tokio::spawn(async move { get(addr, "/slow").await.status });
    while a.hits() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(get(s.addr, "/fast").await.status, 503);
    release.notify_one();
    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(get(s.addr, "/fast").await.status, 200, "free again");
}
