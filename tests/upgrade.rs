//! End-to-end tests of the zero-downtime binary upgrade: real `bellhop run`
//! processes upgraded by SIGUSR2, `bellhop upgrade` (admin API) and
//! `bellhop upgrade --pidfile`, under continuous load from keep-alive and
//! new-connection clients that retry nothing; and with HTTP/3, whose UDP
//! socket the new process takes over while the old one lets go of it.

mod common;

#[path = "h3/client.rs"]
mod h3c;
#[path = "upgrade/load.rs"]
mod load;
#[path = "upgrade/support.rs"]
mod support;

use load::Load;
use std::time::{Duration, Instant};
use support::{alive, get, holds_socket, listen_inode, script, signal, wait_gone, Server};

/// Waits until the clients have `n` more successful requests than `from`.
fn wait_traffic(load: &Load, from: usize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while load.tally.get(&load.tally.ok) < from + n {
        assert!(Instant::now() < deadline, "the load stalled");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn twenty_upgrades_under_load_drop_nothing() {
    let server = Server::start("up");
    let inode = listen_inode(server.port);
    let mut pids = vec![server.pid().unwrap()];
    assert!(holds_socket(pids[0], inode));
    let load = Load::start(server.port, "up", 4, 4);
    wait_traffic(&load, 0, 50);
    for i in 0..20 {
        let old = *pids.last().unwrap();
        let before = load.tally.get(&load.tally.ok);
        match i % 3 {
            0 => signal(old, rustix::process::Signal::USR2),
            1 => {
                let out = server.bellhop(&["upgrade"]);
                assert!(out.status.success(), "{out:?}\n{}", server.log());
            }
            _ => {
                let out = server.bellhop(&["upgrade", "--pidfile", "pid"]);
                assert!(out.status.success(), "{out:?}\n{}", server.log());
            }
        }
        let new = server.wait_pid(Some(old), Duration::from_secs(20));
        assert!(!pids.contains(&new), "pid {new} came back");
        // The new process serves the very socket the first one bound
        // (`/proc/net/tcp`, long with TIME_WAIT entries by now, is read
        // at the end only).
        assert!(
            holds_socket(new, inode),
            "upgrade {i}: pid {new} lacks the socket"
        );
        pids.push(new);
        wait_traffic(&load, before, 100);
    }
    let tally = load.finish();
    assert_eq!(
        listen_inode(server.port),
        inode,
        "the listening socket changed"
    );
    let t = &tally;
    let errors = t.errors.lock().unwrap().join("\n");
    println!(
        "ok {} refused {} reset {} failed {} closes {}",
        t.get(&t.ok),
        t.get(&t.refused),
        t.get(&t.reset),
        t.get(&t.failed),
        t.get(&t.closes)
    );
    assert_eq!(t.get(&t.refused), 0, "connections refused:\n{errors}");
    assert_eq!(t.get(&t.reset), 0, "connections reset:\n{errors}");
    assert_eq!(t.get(&t.failed), 0, "requests failed:\n{errors}");
    // The old processes drained and left; the first one (ours) with 0.
    for pid in &pids[..pids.len() - 1] {
        assert!(
            wait_gone(*pid, Duration::from_secs(10)),
            "pid {pid} still runs"
        );
    }
    let mut server = server;
    let status = server.first.wait().unwrap();
    assert!(status.success(), "first process: {status}");
    assert!(alive(*pids.last().unwrap()));
    server.stop();
}

#[test]
fn failed_upgrades_leave_the_old_process_serving() {
    let server = Server::start("still");
    let pid = server.pid().unwrap();
    let dir = server.dir.path();
    let crash = script(dir, "crash.sh", "echo 'boom: cannot start' >&2; exit 3");
    let silent = script(dir, "silent.sh", "exec sleep 30");
    let cases = [
        (vec!["upgrade", "--binary", "/bin/false"], "exit status: 1"),
        (
            vec!["upgrade", "--binary", crash.to_str().unwrap()],
            "exit status: 3",
        ),
        (
            vec![
                "upgrade",
                "--binary",
                silent.to_str().unwrap(),
                "--timeout",
                "1",
            ],
            "did not report ready within",
        ),
        (
            vec!["upgrade", "--binary", "/nonexistent/bellhop"],
            "starting /nonexistent/bellhop",
        ),
    ];
    for (args, why) in cases {
        let started = Instant::now();
        let out = server.bellhop(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{args:?} took long"
        );
        assert_eq!(server.pid(), Some(pid), "{args:?}: the pidfile changed");
        assert!(alive(pid));
        assert_eq!(get(server.port).as_deref(), Some("still"), "{args:?}");
        assert!(server
            .log()
            .contains("upgrade failed; this process keeps serving"));
    }
    // The crashed binary's own stderr goes to the log, next to the reason.
    assert!(
        server.log().contains("boom: cannot start"),
        "{}",
        server.log()
    );
    // And the process still upgrades afterwards.
    let out = server.bellhop(&["upgrade"]);
    assert!(out.status.success(), "{out:?}");
    server.wait_pid(Some(pid), Duration::from_secs(20));
    server.stop();
}

#[test]
fn upgrade_carries_the_running_config_not_the_file() {
    let server = Server::start("from-file");
    let pid = server.pid().unwrap();
    // Change the running config through the admin API (not the file).
    let changed = server.dir.path().join("changed.json");
    std::fs::write(&changed, support::site(server.port, "from-admin")).unwrap();
    let out = server.bellhop(&["reload", "--config", changed.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(get(server.port).as_deref(), Some("from-admin"));
    let out = server.bellhop(&["upgrade"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let new = server.wait_pid(Some(pid), Duration::from_secs(20));
    assert!(stdout.contains(&format!("to pid {new}")), "{stdout}");
    assert_eq!(get(server.port).as_deref(), Some("from-admin"));
    // The new process still reloads from its config file on SIGUSR1.
    signal(new, rustix::process::Signal::USR1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(server.port).as_deref() != Some("from-file") {
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    server.stop();
}

/// A plain site on `port` ("up") and a TLS site on `h3port` answering
/// "h3", whose `/slow` waits on `backend` for ever; grace period 30 s.
fn h3_sites(ca: &h3c::TestCa, port: u16, h3port: u16, backend: &str) -> String {
    serde_json::json!({"apps": {
        "http": {"grace_period": "30s", "servers": {
            "plain": {
                "listen": [format!("127.0.0.1:{port}")],
                "automatic_https": {"disable": true},
                "routes": [{"handle": [{"handler": "static_response", "body": "up"}]}],
            },
            "secure": {
                "listen": [format!("127.0.0.1:{h3port}")],
                "tls_connection_policies": [{}],
                "routes": [
                    {"match": [{"path": ["/slow"]}], "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": backend}]}]},
                    {"handle": [{"handler": "static_response", "body": "h3"}]},
                ],
            },
        }},
        "tls": ca.tls_app(),
    }})
    .to_string()
}

/// Accepts one connection on `l` within 5 s.
fn accept_within(l: &std::net::TcpListener) -> std::net::TcpStream {
    l.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match l.accept() {
            Ok((s, _)) => return s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("no proxied request: {e}"),
        }
    }
}

#[test]
fn upgrade_hands_over_the_udp_socket_and_closes_the_old_quic_endpoint() {
    let ca = h3c::TestCa::new();
    let h3port = h3c::free_port_pair();
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dial = backend.local_addr().unwrap().to_string();
    let server = Server::start_config(|port| h3_sites(&ca, port, h3port, &dial));
    let old = server.pid().unwrap();
    let udp = h3c::udp_inodes(Some(h3port));
    assert_eq!(udp.len(), 1, "UDP sockets on {h3port}: {udp:?}");
    assert!(holds_socket(old, udp[0]));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], h3port));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut before = rt.block_on(h3c::h3_connect(addr, &ca)).unwrap();
    let (status, _, body) = rt.block_on(before.get()).unwrap();
    assert_eq!((status, body.as_str()), (200, "h3"), "before the upgrade");
    // A request in flight on the old process (its backend never answers).
    let mut slow = rt.block_on(before.start("GET", "/slow")).unwrap();
    let pending = rt.spawn(async move {
        slow.finish().await.map_err(|e| e.to_string())?;
        h3c::read(&mut slow).await
    });
    let _upstream = accept_within(&backend);

    let out = server.bellhop(&["upgrade"]);
    assert!(out.status.success(), "{out:?}\n{}", server.log());
    let new = server.wait_pid(Some(old), Duration::from_secs(20));
    let handed = Instant::now();
    // The old process closes its QUIC connections with H3_NO_ERROR within
    // about a second, not the 30 s grace period, and lets go of the socket.
    let closed = rt
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(5), before.conn.closed()).await
        })
        .expect("the old connection was not closed within 5 s");
    let waited = handed.elapsed();
    eprintln!("old QUIC connection closed {waited:?} after the upgrade");
    match &closed {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code, quinn::VarInt::from_u32(0x100), "{closed}")
        }
        other => panic!("closed by {other}"),
    }
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");
    assert!(
        rt.block_on(pending).unwrap().is_err(),
        "the slow request answered"
    );
    assert!(
        wait_gone(old, Duration::from_secs(5)),
        "pid {old} still runs\n{}",
        server.log()
    );
    // A new connection reaches the new process, on the very same socket.
    let mut after = rt.block_on(h3c::h3_connect(addr, &ca)).unwrap();
    let (status, _, body) = rt.block_on(after.get()).unwrap();
    assert_eq!((status, body.as_str()), (200, "h3"), "after the upgrade");
    assert_eq!(h3c::udp_inodes(Some(h3port)), udp, "the UDP socket changed");
    assert!(holds_socket(new, udp[0]), "pid {new} lacks the UDP socket");
    drop((before, after));
    server.stop();
}
