//! TLS renegotiation towards upstreams (the HTTP transport's
//! `tls.renegotiation`, and the same field of a `tls.ca_pool.source.http`
//! endpoint). The upstream is `openssl s_server -tls1_2`, driven through
//! its stdin as an operator would: once the proxied request has arrived,
//! each `r` line makes it ask the client to renegotiate (a HelloRequest),
//! the test waits for that handshake to finish (`-state` prints each
//! step), and then the response is written. `never` (rustls) fails on the
//! first request, `once` follows the first and fails on the second,
//! `freely` follows both.

use crate::support::*;
use crate::tls_support::TestCa;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// An `openssl s_server` with its certificate, and a line reader of its
/// output.
struct SServer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SServer {
    fn start(ca: &TestCa) -> SServer {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = ca.leaf(&["up.test"]);
        std::fs::write(dir.path().join("c.pem"), cert).unwrap();
        std::fs::write(dir.path().join("k.pem"), key).unwrap();
        let mut child = Command::new("openssl")
            .args(["s_server", "-tls1_2", "-accept", "127.0.0.1:0"])
            // -state: each handshake step on stderr
            .args(["-cert", "c.pem", "-key", "k.pem", "-state"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl s_server (tools/test.sh installs openssl)");
        let stdin = child.stdin.take().unwrap();
        let (tx, lines) = channel();
        let out: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for pipe in out {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
        }
        let mut s = SServer {
            child,
            stdin,
            lines,
            port: 0,
            _dir: dir,
        };
        let accept = s.wait_for("ACCEPT ", 10).expect("s_server listens");
        s.port = accept.rsplit(':').next().unwrap().trim().parse().unwrap();
        s
    }

    /// The next output line starting with `prefix`, if one comes within
    /// `secs`.
    fn wait_for(&mut self, prefix: &str, secs: u64) -> Option<String> {
        let until = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            let l = self.lines.recv_timeout(left).ok()?;
            if l.starts_with(prefix) {
                return Some(l);
            }
        }
    }

    /// The first line starting with each of `prefixes`, in any order,
    /// within `secs` in all.
    fn wait_all(&mut self, prefixes: &[&str], secs: u64) -> Vec<Option<String>> {
        let until = std::time::Instant::now() + Duration::from_secs(secs);
        let mut seen: Vec<Option<String>> = vec![None; prefixes.len()];
        while seen.iter().any(Option::is_none) {
            let left = until.saturating_duration_since(std::time::Instant::now());
            let Ok(l) = self.lines.recv_timeout(left) else {
                break;
            };
            for (p, slot) in prefixes.iter().zip(&mut seen) {
                if slot.is_none() && l.starts_with(p) {
                    *slot = Some(l.clone());
                }
            }
        }
        seen
    }

    /// Waits for a request, asks for `times` renegotiations in turn, then
    /// answers `body` if all of them completed; how many did, and the
    /// server, to be stopped once the proxy has answered (stopping it
    /// earlier could cut the answer off on a loaded machine).
    fn serve(mut self, times: usize, body: &str) -> (usize, SServer) {
        // The request (on stdout) and the end of the first handshake (on
        // stderr), in whichever order the two pipes deliver them: a late
        // line of the first handshake must not count as a renegotiation.
        for prefix in self.wait_all(&["GET ", "SSL_accept:SSLv3/TLS write finished"], 10) {
            assert!(prefix.is_some(), "the request and the first handshake");
        }
        for done in 0..times {
            self.stdin.write_all(b"r\n").unwrap();
            // Every handshake ends with the server reading the client's
            // Finished; a client that does not renegotiate leaves
            // s_server waiting for it.
            if self
                .wait_for("SSL_accept:SSLv3/TLS read finished", 3)
                .is_none()
            {
                return (done, self);
            }
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        self.stdin.write_all(answer.as_bytes()).unwrap();
        (times, self)
    }
}

fn proxy_to(port: u16, ca_file: &str, renegotiation: &str) -> Value {
    json!({"handler": "reverse_proxy",
           "upstreams": [{"dial": format!("127.0.0.1:{port}")}],
           "transport": {"protocol": "http", "tls": {
               "root_ca_pem_files": [ca_file],
               "server_name": "up.test",
               "renegotiation": renegotiation}}})
}

/// `renegotiations` requested of a proxy whose transport allows
/// `level`: how many completed, the proxy's status and body, and how
/// long the proxy took to answer.
async fn through_proxy(level: &str, renegotiations: usize) -> (usize, u16, String, Duration) {
    let ca = TestCa::new("Upstream CA");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let up = SServer::start(&ca);
    let s = start_routes(json!([{"handle": [proxy_to(
        up.port,
        ca_file.to_str().unwrap(),
        level
    )]}]));
    let upstream = std::thread::spawn(move || up.serve(renegotiations, "renegotiated"));
    let started = std::time::Instant::now();
    let r = get(s.addr, "/").await;
    let took = started.elapsed();
    let (done, server) = tokio::task::spawn_blocking(move || upstream.join().unwrap())
        .await
        .unwrap();
    drop(server);
    (done, r.status, r.body, took)
}

#[tokio::test(flavor = "multi_thread")]
async fn freely_follows_every_renegotiation() {
    let (done, status, body, _) = through_proxy("freely", 2).await;
    assert_eq!((done, status, body.as_str()), (2, 200, "renegotiated"));
}

#[tokio::test(flavor = "multi_thread")]
async fn once_follows_one_renegotiation_and_fails_the_second() {
    let (done, status, body, _) = through_proxy("once", 1).await;
    assert_eq!((done, status, body.as_str()), (1, 200, "renegotiated"));
    let (done, status, _, _) = through_proxy("once", 2).await;
    assert_eq!((done, status), (1, 502), "the second is refused");
}

/// As Go's `RenegotiateNever`: the request to renegotiate fails the
/// connection at once (rustls alone would ignore it and wait with the
/// server).
#[tokio::test(flavor = "multi_thread")]
async fn never_fails_on_the_first() {
    let (done, status, _, took) = through_proxy("never", 1).await;
    assert_eq!((done, status), (0, 502));
    assert!(took < Duration::from_secs(2), "at once, not after {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_level_is_refused_naming_the_field() {
    let config = config_with(json!({
        "listen": ["127.0.0.1:0"],
        "routes": [{"handle": [proxy_to(1, "/nonexistent.pem", "sometimes")]}]
    }));
    let e = bellhop_runtime::Runtime::new()
        .load(config.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("transport.tls.renegotiation") && e.contains("invalid TLS renegotiation level"),
        "{e}"
    );
}

/// A `tls.ca_pool.source.http` endpoint that renegotiates before it
/// answers: the pool loads with `once`, and not with `never`.
#[tokio::test(flavor = "multi_thread")]
async fn a_ca_pool_endpoint_may_renegotiate() {
    let ca = TestCa::new("Endpoint CA");
    let trusted = TestCa::new("Trusted upstream CA");
    for (level, want_ok) in [("once", true), ("never", false)] {
        let up = SServer::start(&ca);
        let source = json!({"provider": "http",
            "endpoints": [format!("https://127.0.0.1:{}/ca.pem", up.port)],
            "tls": {"insecure_skip_verify": true, "renegotiation": level}});
        let config = json!({"apps": {"http": {"servers": {"s": {
            "listen": ["127.0.0.1:0"],
            "routes": [{"handle": [{"handler": "reverse_proxy",
                "upstreams": [{"dial": "127.0.0.1:1"}],
                "transport": {"protocol": "http", "tls": {"ca": source}}}]}]
        }}}}});
        let pem = trusted.pem.clone();
        // The endpoint's answer ends when the server does: stop it once
        // the answer has had time to go.
        let upstream = std::thread::spawn(move || {
            let (done, server) = up.serve(1, &pem);
            std::thread::sleep(Duration::from_millis(300));
            drop(server);
            done
        });
        let rt = bellhop_runtime::Runtime::new();
        let loaded = tokio::task::spawn_blocking(move || {
            let r = rt
                .load(config.to_string().as_bytes())
                .map_err(|e| e.to_string());
            (r, rt)
        })
        .await
        .unwrap();
        let done = upstream.join().unwrap();
        match (want_ok, &loaded.0) {
            (true, Ok(())) => assert_eq!(done, 1),
            (false, Err(e)) => assert!(e.contains("endpoints[0]"), "{e}"),
            (_, r) => panic!("{level}: {r:?}"),
        }
        let _ = loaded.1.stop().await;
    }
}
