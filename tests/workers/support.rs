//! Helpers of the `--workers` tests: scratch directories, starting a
//! supervisor on a free port, plain HTTP/1.1 GETs on new connections,
//! finding the workers in /proc, and load-generating clients.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A scratch directory for one test: config files, admin socket, log.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("bellhop-workers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn admin(&self) -> String {
        format!("unix/{}", self.0.join("admin.sock").display())
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn log(&self) -> String {
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
pub fn config(port: u16, body: &str, status: &str) -> String {
    format!(
        r#"{{"apps":{{"http":{{"grace_period":"2s","servers":{{"s":{{"listen":["127.0.0.1:{port}"],"routes":[{{"handle":[{{"handler":"static_response","status_code":"{status}","headers":{{"X-Worker":["{{env.BELLHOP_WORKER_ID}}"]}},"body":"{body}"}}]}}]}}}}}}}}}}"#
    )
}

/// A running `bellhop run --workers N` (its supervisor), killed if a test
/// fails before stopping it; its workers follow it (end of file).
pub struct Supervisor {
    pub child: Child,
    pub port: u16,
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
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a `kill` option like `-TERM`) to the supervisor.
    pub fn signal(&self, signal: &str) {
        kill(signal, self.pid());
    }

    /// Waits (up to `limit`) for the supervisor to exit.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
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

pub fn kill(signal: &str, pid: u32) {
    let ok = Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success(), "kill {signal} {pid}");
}

pub use crate::common::free_port;

/// Starts `workers` workers on a free port with `body` and waits until
/// every worker answers; `env` goes to the supervisor. Tries another port
/// when the one picked was taken meanwhile.
pub fn start(s: &Scratch, workers: usize, body: &str, env: &[(&str, &str)]) -> Supervisor {
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
                    log.contains("address already in use by"),
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
pub struct Answer {
    pub status: u16,
    pub worker: String,
    pub body: String,
}

/// GETs `/` on a new connection.
pub fn get(port: u16) -> std::io::Result<Answer> {
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
pub fn slots(sup: &Supervisor) -> Vec<(u32, String)> {
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
pub struct Tally {
    pub ok: usize,
    pub failed: Vec<String>,
    pub by_worker: std::collections::BTreeMap<String, usize>,
}

/// `threads` clients, each GETting on a new connection every `pause`,
/// until `stop` is set; `done` counts the requests.
pub fn load(
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
