//! The server: protocols, limits and timeouts biting, reloads sharing
//! sockets, panics, unix sockets and graceful stop.

use crate::support::*;
use bellhop_runtime::error::Error;
use bellhop_runtime::http::{Cx, Handler, Step};
use bellhop_runtime::registry::{Module, Provision, Registry};
use bellhop_runtime::Runtime;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn h2c_only_when_protocols_allow_it() {
    let s = start_routes(json!([{"handle": [respond("{http.request.proto}")]}]));
    assert_eq!(get(s.addr, "/").await.body, "HTTP/1.1");
    let r = req("GET", s.addr, "/").body(Default::default()).unwrap();
    let r = send_req(Proto::H2c, r).await;
    assert!(r.is_err(), "h2c is off by default: {r:?}");

    let s = start(config_with(
        json!({"protocols": ["h1", "h2", "h2c"], "routes": [{"handle": [respond("{http.request.proto}")]}]}),
    ));
    assert_eq!(
        send(Proto::H2c, "GET", s.addr, "/", &[], "").await.body,
        "HTTP/2.0"
    );
    assert_eq!(get(s.addr, "/").await.body, "HTTP/1.1");
}

async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn max_header_bytes_bites_with_431() {
    let s = start(config_with(
        json!({"max_header_bytes": 1024, "routes": [{"handle": [respond("ok")]}]}),
    ));
    let small = get_with(s.addr, "/", &[("X-Pad", &"a".repeat(500))]).await;
    assert_eq!(small.status, 200);
    let big = get_with(s.addr, "/", &[("X-Pad", &"a".repeat(2000))]).await;
    assert_eq!(big.status, 431);
}

#[tokio::test]
async fn default_max_header_bytes_is_16k() {
    let s = start_routes(json!([{"handle": [respond("ok")]}]));
    assert_eq!(
        get_with(s.addr, "/", &[("X-Pad", &"a".repeat(15_000))])
            .await
            .status,
        200
    );
    let req = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(40_000)
    );
    let out = raw_exchange(s.addr, req.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 431"), "{out}");
}

/// One keep-alive `GET /` on `c`, answered 200.
async fn get_ok(c: &mut TcpStream) {
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

/// How long the server took to close `c` (within 5 s).
async fn closed_after(c: &mut TcpStream) -> Duration {
    let t = Instant::now();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap();
    assert_eq!(n, 0, "the server closed the connection");
    t.elapsed()
}

fn idle_300ms() -> serde_json::Value {
    config_with(json!({"idle_timeout": "300ms", "routes": [{"handle": [respond("ok")]}]}))
}

#[tokio::test]
async fn idle_timeout_closes_keepalive_connections() {
    let s = start(idle_300ms());
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    get_ok(&mut c).await;
    let idle = closed_after(&mut c).await;
    assert!(idle >= Duration::from_millis(250), "{idle:?}");
}

/// The idle timer is polled only when it wakes the connection's task: a
/// connection kept busy past `idle_timeout` (requests closer together
/// than it) stays open, and is still closed once it goes idle.
#[tokio::test]
async fn a_busy_connection_stays_open_and_still_times_out_once_idle() {
    let s = start(idle_300ms());
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let t = Instant::now();
    for _ in 0..12 {
        get_ok(&mut c).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        t.elapsed() > Duration::from_millis(600),
        "busy past the timeout"
    );
    let idle = closed_after(&mut c).await;
    assert!(idle >= Duration::from_millis(200), "{idle:?}");
}

/// Stopping closes an open keep-alive connection within the grace period.
#[tokio::test]
async fn stop_closes_an_idle_keep_alive_connection() {
    let s = start_routes(json!([{"handle": [respond("x")]}]));
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    get_ok(&mut c).await;
    assert_eq!(s.rt.open_connections(), 1);
    let t = Instant::now();
    s.rt.stop_with_grace(Some(Duration::from_millis(200))).await;
    closed_after(&mut c).await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(s.rt.open_connections(), 0);
}

#[tokio::test]
async fn read_header_timeout_closes_slow_clients() {
    let s = start(config_with(
        json!({"read_header_timeout": "300ms", "routes": [{"handle": [respond("ok")]}]}),
    ));
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "connection closed");
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
}

#[tokio::test]
async fn reload_shares_the_listening_socket() {
    let s = start_routes(json!([{"handle": [respond("one")]}]));
    let port = s.addr.port();
    let second = config_with(json!({
        "listen": [format!("127.0.0.1:{port}")],
        "routes": [{"handle": [respond("two")]}]
    }));
    s.rt.load(second.to_string().as_bytes())
        .expect("reload on the same port");
    assert_eq!(get(s.addr, "/").await.body, "two");
    assert_eq!(s.rt.listen_addrs(), vec![s.addr]);
}

#[tokio::test]
async fn keepalive_connection_moves_to_the_new_config() {
    let s = start_routes(json!([{"handle": [respond("one")]}]));
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let mut buf = [0u8; 1024];
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = c.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).ends_with("one"));
    let port = s.addr.port();
    let cfg = config_with(
        json!({"listen": [format!("127.0.0.1:{port}")], "routes": [{"handle": [respond("two")]}]}),
    );
    s.rt.load(cfg.to_string().as_bytes()).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let n = c.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).ends_with("two"));
}

struct Boom;

impl Handler for Boom {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        if cx.path() == "/boom" {
            panic!("boom");
        }
        Step::Next
    }
}

fn boom(
    _: &serde_json::value::RawValue,
    _: &mut Provision<'_>,
    _: &str,
) -> Result<Box<dyn Handler>, Error> {
    Ok(Box::new(Boom))
}

#[tokio::test]
async fn handler_panic_answers_500_and_serving_goes_on() {
    let mut reg = Registry::standard();
    reg.register("http.handlers.boom", Module::Handler(boom));
    let rt = Runtime::with_registry(reg);
    let cfg = config_with(json!({"routes": [{"handle": [{"handler": "boom"}, respond("fine")]}]}));
    rt.load(cfg.to_string().as_bytes()).unwrap();
    let addr = rt.listen_addrs()[0];
    assert_eq!(get(addr, "/boom").await.status, 500);
    assert_eq!(get(addr, "/ok").await.body, "fine");
}

#[tokio::test]
async fn unix_socket_listener() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.sock");
    let rt = Runtime::new();
    let cfg = config_with(json!({
        "listen": [format!("unix/{}", path.display())],
        "routes": [{"handle": [respond("over unix {http.request.remote}")]}]
    }));
    rt.load(cfg.to_string().as_bytes()).unwrap();
    let mut c = tokio::net::UnixStream::connect(&path).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    assert!(out.ends_with("over unix @"), "{out}");
}

#[tokio::test]
async fn stop_closes_listeners_and_drains() {
    let s = start_routes(json!([{"handle": [respond("x")]}]));
    assert_eq!(get(s.addr, "/").await.body, "x");
    s.rt.stop_with_grace(Some(Duration::from_millis(200))).await;
    assert!(TcpStream::connect(s.addr).await.is_err(), "listener closed");
    assert_eq!(s.rt.open_connections(), 0);
}

#[tokio::test]
async fn read_timeout_bites_on_a_stalled_body() {
    // An upstream that waits for the whole body before answering.
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_addr = up.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = up.accept().await.unwrap();
        let mut sink = Vec::new();
        let _ = sock.read_to_end(&mut sink).await;
    });
    let s = start(config_with(
        json!({"read_timeout": "300ms", "routes": [{"handle": [
            {"handler": "reverse_proxy", "upstreams": [{"dial": up_addr.to_string()}]}
        ]}]}),
    ));
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhello")
        .await
        .unwrap();
    let t = Instant::now();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn write_timeout_cuts_a_client_that_does_not_read() {
    let got = bytes_of_a_stalled_download(json!({"write_timeout": "300ms"})).await;
    assert!(
        got < 16 << 20,
        "the stalled response was cut short ({got} bytes)"
    );
}

/// `(name, scheduling policy, nice)` of this process's threads.
fn threads() -> Vec<(String, u32, i32)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the `(comm)`: state is field 3; nice 19, policy 41.
        let rest: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |r| r.1)
            .split_whitespace()
            .collect();
        let field = |n: usize| rest.get(n - 3).and_then(|v| v.parse().ok());
        if let (Some(nice), Some(policy)) = (field(19), field(41)) {
            out.push((comm.trim().to_string(), policy as u32, nice));
        }
    }
    out
}

#[tokio::test]
async fn serving_threads_run_batch_scheduled_with_the_nice_value_kept() {
    let s = start_routes(json!([{"handle": [respond("ok")]}]));
    assert_eq!(get(s.addr, "/").await.body, "ok");
    let all = threads();
    let serving: Vec<_> = all
        .iter()
        .filter(|t| t.0.starts_with("bellhop-serve"))
        .collect();
    assert!(!serving.is_empty(), "no serving thread among {all:?}");
    let nice = all
        .iter()
        .find(|t| !t.0.starts_with("bellhop-serve"))
        .map(|t| t.2);
    for t in serving {
        assert_eq!(t.1, 3, "SCHED_BATCH is 3: {t:?}");
        assert_eq!(Some(t.2), nice, "nice value kept: {t:?}");
    }
}

/// `trusted_proxies_unix`: a proxy in front on a unix socket is trusted
/// for the client IP headers (Caddy's determineTrustedProxy tables).
#[tokio::test]
async fn a_unix_socket_proxy_is_trusted_with_trusted_proxies_unix() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, want) in [
        (json!({"trusted_proxies_unix": true}), "2.2.2.2"),
        (
            json!({"trusted_proxies_unix": true, "trusted_proxies_strict": 1}),
            "3.3.3.3",
        ),
        (json!({}), "0.0.0.0"),
    ] {
        let path = dir
            .path()
            .join(format!("t{}.sock", want.len() + extra.to_string().len()));
        let rt = Runtime::new();
        let mut server = json!({
            "listen": [format!("unix/{}", path.display())],
            "routes": [{"handle": [respond("{http.vars.client_ip}")]}]
        });
        for (k, v) in extra.as_object().unwrap() {
            server[k] = v.clone();
        }
        rt.load(config_with(server).to_string().as_bytes()).unwrap();
        let mut c = tokio::net::UnixStream::connect(&path).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 2.2.2.2, 3.3.3.3\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).await.unwrap();
        assert!(out.ends_with(want), "{extra}: {out}");
    }
}
