//! `GET /metrics` on the admin API: the serving config's HTTP metrics per
//! server and handler (counts, durations and sizes per code and method,
//! in flight), kept across reloads, and upstream health.

use crate::support::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The value of the sample line `name{labels}`, if present.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

async fn scrape(t: &TestAdmin) -> String {
    let r = t.req("GET", "/metrics", &[], "").await;
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap()
}

/// A config whose `/a` runs `headers` then `static_response` (200, `a`)
/// and whose `/b` runs `static_response` (201, `bb`), on `listen`.
fn two_handlers(listen: &str, a_body: &str) -> Value {
    json!({"apps": {"http": {"metrics": {}, "servers": {"srv0": {
        "listen": [listen],
        "routes": [
            {"match": [{"path": ["/a"]}], "handle": [
                {"handler": "headers", "response": {"set": {"X-A": ["1"]}}},
                {"handler": "static_response", "body": a_body}
            ]},
            {"match": [{"path": ["/b"]}], "handle": [
                {"handler": "static_response", "status_code": 201, "body": "bb"}
            ]}
        ]
    }}}}})
}

async fn post(addr: SocketAddr, path: &str) -> u16 {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let req = http::Request::post(format!("http://{addr}{path}"))
        .body(http_body_util::Empty::new())
        .unwrap();
    client.request(req).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn metrics_count_each_handler_exactly_and_survive_reloads() {
    let t = start(two_handlers("127.0.0.1:0", "a")).await;
    let site = t.site();
    for _ in 0..5 {
        assert_eq!(get(site, "/a").await, (200, "a".into()));
    }
    for _ in 0..3 {
        assert_eq!(post(site, "/b").await, 201);
    }
    let m = scrape(&t).await;
    let count = |m: &str, h: &str| {
        sample(
            m,
            "caddy_http_requests_total",
            &format!("handler=\"{h}\",server=\"srv0\""),
        )
    };
    assert_eq!(count(&m, "headers"), Some(5.0), "{m}");
    assert_eq!(count(&m, "static_response"), Some(8.0), "{m}");
    let hist = |m: &str, family: &str, code: u16, h: &str, method: &str| {
        let labels = format!("code=\"{code}\",handler=\"{h}\",method=\"{method}\",server=\"srv0\"");
        sample(m, &format!("{family}_count"), &labels).zip(sample(
            m,
            &format!("{family}_sum"),
            &labels,
        ))
    };
    let d = "caddy_http_request_duration_seconds";
    assert_eq!(hist(&m, d, 200, "headers", "GET").map(|x| x.0), Some(5.0));
    assert_eq!(
        hist(&m, d, 200, "static_response", "GET").map(|x| x.0),
        Some(5.0)
    );
    assert_eq!(
        hist(&m, d, 201, "static_response", "POST").map(|x| x.0),
        Some(3.0)
    );
    assert_eq!(hist(&m, d, 200, "static_response", "POST"), None);
    // Every observation falls in the +Inf bucket; durations are positive.
    let inf =
        "code=\"201\",handler=\"static_response\",method=\"POST\",server=\"srv0\",le=\"+Inf\"";
    assert_eq!(sample(&m, &format!("{d}_bucket"), inf), Some(3.0));
    let (_, secs) = hist(&m, d, 201, "static_response", "POST").unwrap();
    assert!(secs > 0.0 && secs < 3.0, "{secs}");
    // Response bodies: 5 × "a" and 3 × "bb".
    let rs = "caddy_http_response_size_bytes";
    assert_eq!(
        hist(&m, rs, 200, "static_response", "GET"),
        Some((5.0, 5.0))
    );
    assert_eq!(
        hist(&m, rs, 201, "static_response", "POST"),
        Some((3.0, 6.0))
    );
    let idle = "handler=\"headers\",server=\"srv0\"";
    assert_eq!(sample(&m, "caddy_http_requests_in_flight", idle), Some(0.0));
    assert_eq!(
        sample(&m, "caddy_http_request_errors_total", idle),
        Some(0.0)
    );

    // A reload keeps the counters (Caddy's registry outlives configs).
    let port = site.port();
    let next = two_handlers(&format!("127.0.0.1:{port}"), "a2");
    assert_eq!(t.load(&next).await.status, 200);
    assert_eq!(get(site, "/a").await, (200, "a2".into()));
    let m = scrape(&t).await;
    assert_eq!(count(&m, "headers"), Some(6.0), "{m}");
    assert_eq!(count(&m, "static_response"), Some(9.0), "{m}");
    assert!(m.contains("caddy_config_last_reload_successful 1"), "{m}");
}

#[tokio::test]
async fn metrics_are_absent_when_the_config_does_not_collect_them() {
    let t = start(site("plain")).await;
    assert_eq!(get(t.site(), "/").await, (200, "plain".into()));
    let m = scrape(&t).await;
    assert!(!m.contains("caddy_http_requests_total"), "{m}");
    assert!(m.contains("process_open_fds"), "{m}");
}

/// A backend answering 200 `ok` to every request, one per connection.
async fn backend() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn metrics_report_upstream_health() {
    let live = backend().await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = json!({"apps": {"http": {"servers": {"srv0": {
        "listen": ["127.0.0.1:0"],
        "routes": [{"handle": [{"handler": "reverse_proxy",
            "upstreams": [{"dial": live.to_string()}, {"dial": dead.to_string()}],
            "health_checks": {"active": {"uri": "/", "interval": "50ms",
                "timeout": "1s", "fails": 1, "passes": 1}}}]}]
    }}}}});
    let t = start(cfg).await;
    let up = |a: SocketAddr| format!("upstream=\"{a}\"");
    let name = "caddy_reverse_proxy_upstreams_healthy";
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let m = scrape(&t).await;
        let (l, d) = (sample(&m, name, &up(live)), sample(&m, name, &up(dead)));
        if (l, d) == (Some(1.0), Some(0.0)) {
            break;
        }
        assert!(Instant::now() < deadline, "live {l:?}, dead {d:?}:\n{m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a GET for `/` with `Host: host`; the status.
async fn get_host(addr: SocketAddr, host: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    out[9..12].parse().unwrap()
}

/// `per_host` (Caddy's metrics_test.go TestMetricsInstrumentedHandlerPerHost,
/// TestMetricsCardinalityProtection): a `host` label on every series, the
/// hosts the routes name on their own, any other (wildcard-matched, with a
/// port, unknown) under `_other`; `observe_catchall_hosts` gives each its
/// own.
#[tokio::test]
async fn per_host_metrics_label_named_hosts_and_fold_the_rest() {
    let config = |catchall: bool| {
        json!({"apps": {"http": {"metrics": {"per_host": true, "observe_catchall_hosts": catchall},
        "servers": {"srv0": {"listen": ["127.0.0.1:0"], "automatic_https": {"disable": true}, "routes": [
            {"match": [{"host": ["allowed.com", "*.wild.com"]}],
             "handle": [{"handler": "static_response", "body": "a"}]},
            {"handle": [{"handler": "static_response", "body": "b"}]}
        ]}}}}})
    };
    let t = start(config(false)).await;
    for host in [
        "allowed.com",
        "ALLOWED.COM",
        "attacker.com",
        "evil.com",
        "x.wild.com",
        "allowed.com:8080",
    ] {
        assert_eq!(get_host(t.site(), host).await, 200, "{host}");
    }
    let m = scrape(&t).await;
    let count = |m: &str, host: &str| {
        sample(
            m,
            "caddy_http_requests_total",
            &format!("handler=\"static_response\",host=\"{host}\",server=\"srv0\""),
        )
    };
    assert_eq!(count(&m, "allowed.com"), Some(2.0), "{m}");
    assert_eq!(count(&m, "_other"), Some(4.0), "{m}");
    assert_eq!(count(&m, "attacker.com"), None, "{m}");
    let d = "code=\"200\",handler=\"static_response\",host=\"allowed.com\",method=\"GET\",server=\"srv0\"";
    assert_eq!(
        sample(&m, "caddy_http_request_duration_seconds_count", d),
        Some(2.0),
        "{m}"
    );
    assert!(
        !m.contains("caddy_http_requests_total{handler=\"static_response\",server"),
        "{m}"
    );
    let t = start(config(true)).await;
    assert_eq!(get_host(t.site(), "attacker.com").await, 200);
    let m = scrape(&t).await;
    assert_eq!(count(&m, "attacker.com"), Some(1.0), "{m}");
}
