//! End-to-end tests of the zero-downtime binary upgrade: real `bellhop run`
//! processes upgraded by SIGUSR2, `bellhop upgrade` (admin API) and
//! `bellhop upgrade --pidfile`, under continuous load from keep-alive and
//! new-connection clients that retry nothing.

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
