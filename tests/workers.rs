//! `bellhop run --workers N`, end to end with real processes: four
//! workers sharing one port through SO_REUSEPORT under load while one is
//! killed (few failures, back within a second, connections spread), and
//! reloads through the admin API that switch every worker or none.
//!
//! A SO_REUSEPORT group cannot be formed on port 0 across processes, so
//! each test picks a free port (bind 127.0.0.1:0, close) and starts again
//! on another if that port was taken meanwhile.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A scratch directory for one test: config files, admin socket, log.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("bellhop-workers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn admin(&self) -> String {
        format!("unix/{}", self.0.join("admin.sock").display())
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.0.join("bellhop.log")).unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A config answering `body`, with the worker's slot in `X-Worker`;
/// `status` is the static response's status code.
fn config(port: u16, body: &str, status: &str) -> String {
    format!(
        r#"{{"apps":{{"http":{{"grace_period":"2s","servers":{{"s":{{"listen":["127.0.0.1:{port}"],"routes":[{{"handle":[{{"handler":"static_response","status_code":"{status}","headers":{{"X-Worker":["{{env.BELLHOP_WORKER_ID}}"]}},"body":"{body}"}}]}}]}}}}}}}}}}"#
    )
}

/// A running `bellhop run --workers N` (its supervisor), killed if a test
/// fails before stopping it; its workers follow it (end of file).
struct Supervisor {
    child: Child,
    port: u16,
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Supervisor {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a `kill` option like `-TERM`) to the supervisor.
    fn signal(&self, signal: &str) {
        kill(signal, self.pid());
    }

    /// Waits (up to `limit`) for the supervisor to exit.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "bellhop did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn kill(signal: &str, pid: u32) {
    let ok = Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success(), "kill {signal} {pid}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `workers` workers on a free port with `body` and waits until
/// every worker answers; `env` goes to the supervisor. Tries another port
/// when the one picked was taken meanwhile.
fn start(s: &Scratch, workers: usize, body: &str, env: &[(&str, &str)]) -> Supervisor {
    for _ in 0..5 {
        let port = free_port();
        let cfg = s.write("v1.json", &config(port, body, "200"));
        let log = std::fs::File::create(s.0.join("bellhop.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_bellhop"))
            .args(["run", "--config"])
            .arg(&cfg)
            .args(["--workers", &workers.to_string()])
            .env("BELLHOP_ADMIN", s.admin())
            .env("XDG_CONFIG_HOME", s.0.join("xdg"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut sup = Supervisor { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if sup.child.try_wait().unwrap().is_some() {
                let log = s.log();
                assert!(
                    log.contains("another process owns it"),
                    "bellhop exited:\n{log}"
                );
                break;
            }
            if slots(&sup).len() == workers {
                let mut seen = std::collections::HashSet::new();
                for _ in 0..200 {
                    if let Ok(r) = get(port) {
                        seen.insert(r.worker);
                    }
                    if seen.len() == workers {
                        return sup;
                    }
                }
            }
            assert!(Instant::now() < deadline, "workers not up:\n{}", s.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("no free port after 5 tries");
}

/// One answer: status, `X-Worker`, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    worker: String,
    body: String,
}

/// GETs `/` on a new connection.
fn get(port: u16) -> std::io::Result<Answer> {
    let mut c = TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut resp = String::new();
    c.read_to_string(&mut resp)?;
    let bad = || std::io::Error::other(format!("bad response {resp:?}"));
    let (head, body) = resp.split_once("\r\n\r\n").ok_or_else(bad)?;
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let worker = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("X-Worker: ")
                .or_else(|| l.strip_prefix("x-worker: "))
        })
        .unwrap_or("")
        .to_string();
    Ok(Answer {
        status,
        worker,
        body: body.to_string(),
    })
}

/// The supervisor's live workers: (pid, `BELLHOP_WORKER_ID`), from /proc.
fn slots(sup: &Supervisor) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …: comm may hold spaces, so split after ')'.
        let mut rest = stat
            .rsplit_once(')')
            .map_or("", |(_, r)| r)
            .split_whitespace();
        let (state, ppid) = (rest.next(), rest.next().and_then(|p| p.parse::<u32>().ok()));
        if ppid != Some(sup.pid()) || state == Some("Z") {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let id = env
            .split(|b| *b == 0)
            .find_map(|v| v.strip_prefix(b"BELLHOP_WORKER_ID="))
            .map(|v| String::from_utf8_lossy(v).into_owned());
        if let Some(id) = id {
            out.push((pid, id));
        }
    }
    out
}

/// What the load threads saw.
#[derive(Default)]
struct Tally {
    ok: usize,
    failed: Vec<String>,
    by_worker: std::collections::BTreeMap<String, usize>,
}

/// `threads` clients, each GETting on a new connection every `pause`,
/// until `stop` is set; `done` counts the requests.
fn load(
    port: u16,
    threads: usize,
    pause: Duration,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
) -> Vec<std::thread::JoinHandle<Tally>> {
    (0..threads)
        .map(|_| {
            let (stop, done) = (stop.clone(), done.clone());
            std::thread::spawn(move || {
                let mut t = Tally::default();
                while !stop.load(Ordering::Relaxed) {
                    done.fetch_add(1, Ordering::Relaxed);
                    match get(port) {
                        Ok(a) if a.status == 200 => {
                            t.ok += 1;
                            *t.by_worker.entry(a.worker).or_default() += 1;
                        }
                        Ok(a) => t.failed.push(format!("{a:?}")),
                        Err(e) => t.failed.push(e.to_string()),
                    }
                    std::thread::sleep(pause);
                }
                t
            })
        })
        .collect()
}

/// How many requests the kill test makes at least: each client has one
/// connection open at a time, so a kill can fail at most one request per
/// client (the dead worker's in-flight and queued connections); judging
/// "fewer than 0.1%" needs well over 1000 requests per client.
const LOAD_REQUESTS: usize = 6000;
const LOAD_CLIENTS: usize = 4;

#[test]
fn four_workers_survive_kill_9_under_load_and_share_connections() {
    let s = Scratch::new("kill");
    let mut sup = start(&s, 4, "hello", &[]);
    let port = sup.port;
    let (stop, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let began = Instant::now();
    let clients = load(
        port,
        LOAD_CLIENTS,
        Duration::from_millis(1),
        stop.clone(),
        done.clone(),
    );
    std::thread::sleep(Duration::from_millis(1200));
    let (victim, slot) = slots(&sup)
        .into_iter()
        .find(|(_, id)| id == "1")
        .expect("worker 1");
    let killed = Instant::now();
    kill("-KILL", victim);
    // Back: a new process holds slot 1 and answers as worker 1.
    let back = loop {
        let new = slots(&sup)
            .into_iter()
            .any(|(pid, id)| id == slot && pid != victim);
        if new && get(port).is_ok_and(|a| a.worker == slot) {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "worker 1 not back:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    while done.load(Ordering::Relaxed) < LOAD_REQUESTS && began.elapsed() < Duration::from_secs(12)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for c in clients {
        let t = c.join().unwrap();
        total.ok += t.ok;
        total.failed.extend(t.failed);
        for (w, n) in t.by_worker {
            *total.by_worker.entry(w).or_default() += n;
        }
    }
    let all = total.ok + total.failed.len();
    eprintln!(
        "{all} requests in {:?}, {} failed {:?}, back after {back:?}, by worker {:?}",
        began.elapsed(),
        total.failed.len(),
        total.failed,
        total.by_worker
    );
    assert!(
        all >= LOAD_REQUESTS / 2,
        "too little load to judge: {all} requests"
    );
    assert!(
        total.failed.len() * 1000 < all,
        "failures: {:?}",
        total.failed
    );
    assert!(back < Duration::from_secs(1), "worker back after {back:?}");
    assert_eq!(total.by_worker.len(), 4, "{:?}", total.by_worker);
    for (w, n) in &total.by_worker {
        assert!(
            n * 100 >= total.ok * 15,
            "worker {w} got {n} of {}",
            total.ok
        );
    }
    let log = s.log();
    assert!(
        log.contains("worker exited unexpectedly") && log.contains("SIGKILL"),
        "{log}"
    );
    // A graceful stop takes every worker down with the supervisor.
    let workers = slots(&sup);
    sup.signal("-TERM");
    assert!(sup.wait(Duration::from_secs(10)).success(), "{}", s.log());
    for (pid, _) in workers {
        let gone = !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists();
        assert!(gone, "worker {pid} left running");
    }
}

/// Runs `bellhop reload` against the supervisor's admin API: success,
/// and the command's error output.
fn reload(s: &Scratch, file: &str, text: &str) -> (bool, String) {
    let cfg = s.write(file, text);
    let out = Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(["reload", "--address", &s.admin(), "--config"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asks until every one of `workers` workers answered (at most 400
/// requests); panics on a body other than `want` or a non-200.
fn all_answer(port: u16, workers: usize, want: &str) {
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..400 {
        let a = get(port).unwrap();
        assert_eq!(
            (a.status, a.body.as_str()),
            (200, want),
            "worker {}",
            a.worker
        );
        seen.insert(a.worker);
        if seen.len() == workers {
            return;
        }
    }
    panic!("only workers {seen:?} answered");
}

#[test]
fn reloads_switch_every_worker_or_none() {
    let s = Scratch::new("reload");
    // The supervisor's own BELLHOP_WORKER_ID (each worker gets its slot):
    // used below to make a config that only worker 0 rejects.
    let mut sup = start(&s, 4, "one", &[("BELLHOP_WORKER_ID", "5")]);
    let port = sup.port;
    all_answer(port, 4, "one");

    let (ok, err) = reload(&s, "v2.json", &config(port, "two", "200"));
    assert!(ok, "{err}\n{}", s.log());
    all_answer(port, 4, "two");

    // Rejected by the supervisor's own check: nothing reaches the workers.
    let bad = config(port, "three", "200").replace("static_response", "no_such_handler");
    let (ok, err) = reload(&s, "bad.json", &bad);
    assert!(
        !ok && err.contains("HTTP 400") && err.contains("no_such_handler"),
        "{err}"
    );
    all_answer(port, 4, "two");

    // Status "{env.BELLHOP_WORKER_ID}00": 500 in the supervisor, 100..300
    // in workers 1..3, and "000" (invalid) in worker 0 alone. Workers 1..3
    // provision it fine, yet none may switch.
    let (ok, err) = reload(
        &s,
        "v3.json",
        &config(port, "three", "{env.BELLHOP_WORKER_ID}00"),
    );
    assert!(!ok && err.contains("HTTP 400"), "{err}");
    assert!(
        err.contains("invalid status code") && err.contains("worker 0"),
        "{err}"
    );
    all_answer(port, 4, "two");

    // Workers never outlive their supervisor, however it dies.
    let workers = slots(&sup);
    assert_eq!(workers.len(), 4);
    sup.signal("-KILL");
    sup.wait(Duration::from_secs(5));
    let deadline = Instant::now() + Duration::from_secs(5);
    for (pid, _) in workers {
        while std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists() {
            assert!(
                Instant::now() < deadline,
                "worker {pid} outlived its supervisor"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
