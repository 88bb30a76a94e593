//! End-to-end tests of the `bellhop` binary: exit codes, adapt/fmt I/O,
//! and `run` serving a real request on a port the kernel picks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bellhop() -> Command {
    // Admin API on a free port and autosave in a scratch directory, so
    // that tests running side by side never collide.
    let mut c = Command::new(env!("CARGO_BIN_EXE_bellhop"));
    c.env("BELLHOP_ADMIN", "127.0.0.1:0").env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("bellhop-cli-xdg"),
    );
    c
}

/// A scratch directory removed when the test ends.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("bellhop-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn adapt_prints_caddy_json_and_pretty_matches_golden() {
    let case =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/http/respond_port_only.caddyfiletest");
    let text = std::fs::read_to_string(case).unwrap();
    let (caddyfile, expected) = text.split_once("----------\n").unwrap();
    let dir = temp_dir("adapt");
    let file = write(&dir, "Caddyfile", caddyfile);
    let out = bellhop()
        .args(["adapt", "--pretty", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);

    let out = bellhop()
        .args(["adapt", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let compact = String::from_utf8(out.stdout).unwrap();
    assert!(
        compact.starts_with("{\"apps\":{\"http\":{\"servers\":{\"srv0\":{\"listen\":[\":8080\"]"),
        "{compact}"
    );
}

#[test]
fn adapt_reads_stdin_and_warns_about_formatting_on_stderr() {
    let mut child = bellhop()
        .args(["adapt", "--config", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b":8080 {\nrespond   hi\n}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"static_response\""));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Caddyfile:2: Caddyfile input is not formatted"),
        "{err}"
    );
}

#[test]
fn config_error_exits_1_with_span_and_help() {
    let dir = temp_dir("err");
    let file = write(
        &dir,
        "Caddyfile",
        "example.com {\n\treverse_proxi localhost:3001\n}\n",
    );
    let out = bellhop()
        .args(["adapt", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unrecognized directive: reverse_proxi"),
        "{err}"
    );
    assert!(
        err.contains("Caddyfile:2:2"),
        "span location missing: {err}"
    );
    assert!(err.contains("did you mean reverse_proxy?"), "{err}");
}

#[test]
fn usage_error_exits_2() {
    let out = bellhop()
        .args(["adapt", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bellhop().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn fmt_overwrite_and_diff() {
    let dir = temp_dir("fmt");
    let file = write(&dir, "Caddyfile", "a.example {\nrespond   hi\n}\n");
    let out = bellhop()
        .args(["fmt", "--diff"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "  a.example {\n- respond   hi\n+ \trespond hi\n  }\n  \n"
    );
    let out = bellhop()
        .args(["fmt", "--overwrite"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "a.example {\n\trespond hi\n}\n"
    );
}

/// Reads `run`'s log until the "serving" line and returns the first
/// listen address in it.
fn wait_for_listen_addr(stderr: impl Read) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("\"listen\":\"[").nth(1) {
            return rest.split([',', ']']).next().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no serving line");
    }
    panic!("bellhop run exited before serving");
}

#[test]
fn run_serves_json_config_and_stops_on_sigterm() {
    let dir = temp_dir("run");
    let config = r#"{"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],
        "routes":[{"handle":[{"handler":"static_response","body":"hello {http.request.uri.path}"}]}]}}}}}"#;
    let file = write(&dir, "config.json", config);
    let mut child = bellhop()
        .args(["run", "--config"])
        .arg(&file)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = wait_for_listen_addr(child.stderr.take().unwrap());
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.write_all(b"GET /there HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    conn.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.ends_with("hello /there"), "{resp}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn run_with_bad_config_exits_1_naming_the_json_path() {
    let dir = temp_dir("runbad");
    let config = r#"{"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],
        "routes":[{"handle":[{"handler":"static_response","statu_code":200}]}]}}}}}"#;
    let file = write(&dir, "config.json", config);
    let out = bellhop()
        .args(["run", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("statu_code"), "{err}");
    assert!(
        err.contains("apps.http.servers.s.routes[0].handle[0]"),
        "{err}"
    );
}

#[test]
fn trust_prints_the_root_path_and_pem_and_keeps_it() {
    let dir = temp_dir("trust");
    let run = || {
        let out = bellhop()
            .args(["trust", "--storage"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    let (path, pem) = first.split_once('\n').unwrap();
    assert!(path.ends_with("pki/authorities/local/root.crt"), "{path}");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert_eq!(std::fs::read_to_string(path).unwrap(), pem);
    assert_eq!(run(), first, "the root is created once, then reused");
}

#[test]
fn run_logs_http_only_servers_and_managed_names() {
    let dir = temp_dir("autohttps-log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        r#"{{"storage":{{"module":"file_system","root":"{}"}},
        "apps":{{"http":{{"http_port":{port},"servers":{{
          "plain":{{"listen":["127.0.0.1:{port}"],"routes":[{{"match":[{{"host":["a.localhost"]}}],"handle":[]}}]}},
          "secure":{{"listen":["127.0.0.1:0"],"routes":[{{"match":[{{"host":["localhost","127.0.0.1"]}}],"handle":[]}}]}}
        }}}}}}}}"#,
        dir.join("storage").display()
    );
    let file = write(&dir, "config.json", &config);
    let mut child = bellhop()
        .args(["run", "--config"])
        .arg(&file)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = String::new();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log.contains("\"listen\":\"[") && Instant::now() < deadline {
        match lines.next() {
            Some(l) => log.push_str(&(l.unwrap() + "\n")),
            None => break,
        }
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    let line = |needle: &str| log.lines().find(|l| l.contains(needle)).map(str::to_string);
    let http_only = line("server is listening only on the HTTP port").expect(&log);
    assert!(http_only.contains("plain"), "{http_only}");
    for name in ["localhost", "127.0.0.1"] {
        let managed = log
            .lines()
            .find(|l| {
                l.contains("managing certificate") && l.contains(&format!("\"name\":\"{name}\""))
            })
            .unwrap_or_else(|| panic!("{name} managed: {log}"));
        assert!(managed.contains("internal"), "{managed}");
    }
    assert!(!log.contains("\"name\":\"a.localhost\""), "{log}");
}

#[test]
fn list_modules_names_every_module_once_in_order() {
    let out = bellhop().arg("list-modules").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // Caddy's layout: the standard modules, their count, then bellhop's
    // own (plugins in Caddy) and theirs.
    let (standard, rest) = text.split_once("\n\n  Standard modules: ").expect(&text);
    let ids: Vec<&str> = standard.lines().collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "sorted and unique");
    assert!(rest.starts_with(&format!("{}\n", ids.len())), "{rest}");
    for id in [
        "caddy.adapters.caddyfile",
        "http.handlers.reverse_proxy",
        "tls.ca_pool.source.file",
        "tls.client_auth.verifier.leaf",
        "tls.leaf_cert_loader.folder",
        "tls.handshake_match.sni",
        "admin.api.load",
    ] {
        assert!(ids.contains(&id), "{id} is listed");
    }
    assert!(
        rest.contains("\ncaddy.storage.redis\n") && rest.ends_with("\n  Non-standard modules: 2\n"),
        "{rest}"
    );
    assert!(!ids.contains(&"caddy.storage.redis"));
    // --json --skip-standard: bellhop's own only, with version and package.
    let out = bellhop()
        .args(["list-modules", "--json", "--skip-standard"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["module_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["caddy.config_loaders.redis", "caddy.storage.redis"]);
    assert_eq!(v[0]["module_type"], "non-standard");
    assert_eq!(v[0]["version"], format!("v{}", env!("CARGO_PKG_VERSION")));
    let out = bellhop()
        .args(["list-modules", "--versions"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "http.handlers.reverse_proxy v{}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
}
