//! End-to-end tests of the admin commands of the `bellhop` binary:
//! `start`, `reload`, `stop`, `run --watch`, SIGUSR1, `run --resume`,
//! and Caddyfile text posted to the admin API of a running bellhop.
//! Each test has its own admin socket and autosave directory.

mod common;
use common::free_port;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory with an admin socket and a config directory.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("bellhop-cliadm-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    fn admin(&self) -> String {
        format!("unix/{}", self.dir.join("admin.sock").display())
    }

    fn bellhop(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bellhop"));
        c.env("BELLHOP_ADMIN", self.admin())
            .env("XDG_CONFIG_HOME", self.dir.join("xdg"))
            .stdin(Stdio::null());
        c
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::File::create(self.dir.join(name)).unwrap()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn site(port: u16, body: &str) -> String {
    format!(
        r#"{{"apps":{{"http":{{"servers":{{"s":{{"listen":["127.0.0.1:{port}"],"routes":[{{"handle":[{{"handler":"static_response","body":"{body}"}}]}}]}}}}}}}}}}"#
    )
}

/// GETs `/` on `port`: the body, or `None` when nothing answers.
fn get(port: u16) -> Option<String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut resp = String::new();
    c.read_to_string(&mut resp).ok()?;
    resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// Waits until `/` on `port` answers `want` (panics after 10 s).
fn wait_for(port: u16, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = get(port);
        if got.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited for {want:?}, got {got:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `bellhop run` child, killed if a test fails before stopping it.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Kills a background bellhop (by its pid) if a test fails early.
struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if Path::new(&format!("/proc/{}/cmdline", self.0)).exists() {
            let _ = Command::new("kill").arg(&self.0).status();
        }
    }
}

/// Spawns `bellhop run` and waits until it serves.
fn run(s: &Scratch, args: &[&str], config: &Path) -> Served {
    let mut child = s
        .bellhop()
        .arg("run")
        .args(args)
        .arg("--config")
        .arg(config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("serving") {
            break;
        }
    }
    // Keep draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Served(child)
}

/// Runs a bellhop command and asserts it succeeded, showing its stderr.
fn succeed(cmd: &mut std::process::Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stop(s: &Scratch, child: &mut Served) {
    succeed(s.bellhop().arg("stop"));
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
}

#[test]
fn start_reload_stop_through_the_admin_socket() {
    let s = Scratch::new("start");
    let port = free_port();
    let cfg = s.write("config.json", &site(port, "one"));
    let status = s
        .bellhop()
        .args(["start", "--config"])
        .arg(&cfg)
        .stdout(s.log("start.out"))
        .stderr(s.log("start.err"))
        .status()
        .unwrap();
    assert!(status.success(), "{}", s.read("start.err"));
    let out = s.read("start.out");
    assert!(out.contains("Successfully started bellhop"), "{out}");
    let pid = out
        .split("pid=")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap()
        .to_string();
    let _reaper = KillOnDrop(pid);
    assert_eq!(
        get(port).as_deref(),
        Some("one"),
        "loaded when start returns"
    );
    s.write("config.json", &site(port, "two"));
    succeed(s.bellhop().args(["reload", "--config"]).arg(&cfg));
    assert_eq!(get(port).as_deref(), Some("two"));
    let forced = s
        .bellhop()
        .args(["reload", "--force", "--address", &s.admin(), "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(forced.status.success());
    let bad = s.write(
        "bad.json",
        r#"{"apps":{"http":{"servers":{"s":{"listen":[":1"],"lisen":1}}}}}"#,
    );
    let out = s
        .bellhop()
        .args(["reload", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HTTP 400") && err.contains("apps.http.servers.s.lisen"),
        "{err}"
    );
    assert_eq!(get(port).as_deref(), Some("two"));
    succeed(s.bellhop().arg("stop"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(port).is_some() {
        assert!(Instant::now() < deadline, "still serving after stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn start_fails_with_the_config_error() {
    let s = Scratch::new("startbad");
    let cfg = s.write("config.json", r#"{"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[{"handler":"nope"}]}]}}}}}"#);
    let out = s
        .bellhop()
        .args(["start", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bellhop start: loading") && err.contains("nope"),
        "{err}"
    );
}

#[test]
fn watch_and_sigusr1_reload_the_file() {
    let s = Scratch::new("watch");
    let port = free_port();
    let cfg = s.write("config.json", &site(port, "v1"));
    let mut child = run(&s, &["--watch"], &cfg);
    assert_eq!(get(port).as_deref(), Some("v1"));
    s.write("config.json", &site(port, "v2"));
    wait_for(port, "v2");
    stop(&s, &mut child);

    let mut child = run(&s, &[], &cfg);
    s.write("config.json", &site(port, "v3"));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(get(port).as_deref(), Some("v2"), "no --watch: no reload");
    Command::new("kill")
        .args(["-USR1", &child.0.id().to_string()])
        .status()
        .unwrap();
    wait_for(port, "v3");
    stop(&s, &mut child);
}

#[test]
fn resume_starts_from_the_autosaved_config() {
    let s = Scratch::new("resume");
    let port = free_port();
    let cfg = s.write("config.json", &site(port, "from file"));
    let mut child = run(&s, &[], &cfg);
    let changed = s.write("changed.json", &site(port, "changed live"));
    succeed(s.bellhop().args(["reload", "--config"]).arg(&changed));
    stop(&s, &mut child);
    let saved = std::fs::read_to_string(s.dir.join("xdg/bellhop/autosave.json")).unwrap();
    assert!(saved.contains("changed live"), "{saved}");
    let mut child = run(&s, &["--resume"], &cfg);
    assert_eq!(get(port).as_deref(), Some("changed live"));
    stop(&s, &mut child);
}

#[test]
fn caddyfile_text_through_the_admin_api() {
    let s = Scratch::new("caddyfile");
    let port = free_port();
    // The Caddyfile's site listens on every interface (`:port`), as the
    // first config must too: a wildcard cannot be bound next to a
    // specific address on the same port.
    let json = site(port, "json").replace("127.0.0.1:", ":");
    let cfg = s.write("config.json", &json);
    let mut child = run(&s, &[], &cfg);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let post = |text: String| {
        let body = text.into_bytes();
        rt.block_on(bellhop_runtime::admin::client::request(
            &s.admin(),
            "POST",
            "/load",
            &[("Content-Type", "text/caddyfile")],
            body,
        ))
        .unwrap()
    };
    let r = post(format!(
        "http://127.0.0.1:{port} {{\n\trespond \"from caddyfile\"\n}}\n"
    ));
    assert_eq!(r.status, 200, "{}", r.error_message());
    assert_eq!(get(port).as_deref(), Some("from caddyfile"));
    let r = post(format!("http://127.0.0.1:{port} {{\n\trespnd \"x\"\n}}\n"));
    assert_eq!(r.status, 400);
    assert!(
        r.error_message()
            .contains("Caddyfile:2: unrecognized directive: respnd"),
        "{}",
        r.error_message()
    );
    assert_eq!(get(port).as_deref(), Some("from caddyfile"));
    stop(&s, &mut child);
}
