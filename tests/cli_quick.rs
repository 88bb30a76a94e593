//! Caddy's one-line commands and helpers, end to end with the binary:
//! `respond`, `file-server` and `reverse-proxy` serving real requests;
//! `hash-password` output that `basic_auth` accepts; `--envfile`,
//! `environ`, `completion`, `manpage`.

mod common;
use common::free_port;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bellhop() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bellhop"));
    c.env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("bellhop-quick-xdg"),
    )
    .env(
        "XDG_DATA_HOME",
        std::env::temp_dir().join("bellhop-quick-data"),
    );
    c
}

/// A server process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bellhop args…` and waits until `port` answers.
fn serve(args: &[&str], port: u16) -> Server {
    let child = bellhop()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "bellhop {args:?} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    s
}

/// One HTTP/1.1 request: (status line, head, body).
fn request(port: u16, path: &str, extra: &str) -> (String, String, Vec<u8>) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = Vec::new();
    c.read_to_end(&mut r).unwrap();
    let split = r.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&r[..split]).into_owned();
    let status = head.lines().next().unwrap().to_string();
    (status, head, r[split + 4..].to_vec())
}

fn body(port: u16, path: &str) -> String {
    String::from_utf8(request(port, path, "").2).unwrap()
}

#[test]
fn respond_serves_status_body_and_headers_and_prints_its_address() {
    // On a free port of its own choosing: it says which.
    let mut child = bellhop()
        .args([
            "respond",
            "-l",
            "127.0.0.1:0",
            "-H",
            "x-served-by: bellhop",
            "on {{.Port}} as {{.N}}",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let s = Server(child);
    let addr = line
        .trim()
        .strip_prefix("Server address: ")
        .unwrap_or_else(|| panic!("{line:?}"));
    let port: u16 = addr.rsplit_once(':').unwrap().1.parse().unwrap();
    let (status, head, b) = request(port, "/", "");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(
        head.to_ascii_lowercase().contains("x-served-by: bellhop"),
        "{head}"
    );
    // As Caddy's: the port of the flag (0 here), not the one bound.
    assert_eq!(String::from_utf8(b).unwrap(), "on 0 as 0");
    drop(s);
    // A port range: one server per port, each with its own {{.N}}.
    let first = free_port();
    let range = format!("127.0.0.1:{first}-{}", first + 1);
    if std::net::TcpListener::bind(("127.0.0.1", first + 1)).is_ok() {
        let _r = serve(&["respond", "-l", &range, "{{.N}} on {{.Port}}"], first + 1);
        assert_eq!(body(first, "/"), format!("0 on {first}"));
        assert_eq!(body(first + 1, "/"), format!("1 on {}", first + 1));
    }
    // A bare 3-digit argument is the status; with --status it is the body.
    let port = free_port();
    let _s = serve(
        &["respond", "-l", &format!("127.0.0.1:{port}"), "404"],
        port,
    );
    assert!(request(port, "/", "").0.starts_with("HTTP/1.1 404"));
    let port = free_port();
    let _t = serve(
        &[
            "respond",
            "-l",
            &format!("127.0.0.1:{port}"),
            "--status",
            "202",
            "404",
        ],
        port,
    );
    let (status, _, b) = request(port, "/", "");
    assert!(status.starts_with("HTTP/1.1 202"), "{status}");
    assert_eq!(b, b"404");
    // The body from a pipe.
    let port = free_port();
    let mut piped = bellhop()
        .args(["respond", "-l", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    piped
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin")
        .unwrap();
    let _p = Server(piped);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(body(port, "/"), "from stdin");
    // Bad header flags are refused, naming the flag.
    let out = bellhop()
        .args(["respond", "-H", "nocolon"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("header 0: invalid format \"nocolon\""));
}

#[test]
fn file_server_serves_compresses_and_browses() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.txt"), "hello ".repeat(400)).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/a.txt"), "a").unwrap();
    let port = free_port();
    let root = dir.path().to_str().unwrap();
    let _s = serve(
        &[
            "file-server",
            "--root",
            root,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--browse",
        ],
        port,
    );
    assert_eq!(body(port, "/sub/a.txt"), "a");
    let (_, head, gz) = request(port, "/big.txt", "Accept-Encoding: gzip\r\n");
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    assert!(gz.len() < 2400);
    assert!(body(port, "/sub/").contains("a.txt"), "a listing");
}

/// `file-server export-template` prints the browse page's template, and a
/// Caddyfile's `browse <file>` runs it (edited) as the listing's template.
#[test]
fn an_exported_browse_template_serves_as_a_template_file() {
    let out = bellhop()
        .args(["file-server", "export-template"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let tpl = String::from_utf8(out.stdout).unwrap();
    assert!(tpl.starts_with("<!DOCTYPE html>") && tpl.contains("{{- range .Items}}"));
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("a.txt"), "a").unwrap();
    let edited = dir.path().join("listing.html");
    std::fs::write(
        &edited,
        tpl.replace("Served by bellhop", "Served by my template"),
    )
    .unwrap();
    let port = free_port();
    let caddyfile = dir.path().join("Caddyfile");
    std::fs::write(
        &caddyfile,
        format!(
            "{{\n\tadmin off\n}}\nhttp://127.0.0.1:{port} {{\n\troot * {}\n\tfile_server {{\n\t\tbrowse {}\n\t}}\n}}\n",
            site.display(),
            edited.display()
        ),
    )
    .unwrap();
    let _s = serve(&["run", "--config", caddyfile.to_str().unwrap()], port);
    let page = body(port, "/");
    assert!(page.contains("Served by my template"), "{page}");
    assert!(
        page.contains(r#"<span class="label">a.txt</span>"#),
        "{page}"
    );
}

#[test]
fn reverse_proxy_proxies_with_header_flags() {
    let backend = free_port();
    let _b = serve(
        &[
            "respond",
            "-l",
            &format!("127.0.0.1:{backend}"),
            "up={http.request.header.X-Up} host={http.request.host}",
        ],
        backend,
    );
    let port = free_port();
    let _p = serve(
        &[
            "reverse-proxy",
            "--from",
            &format!(":{port}"),
            "--to",
            &format!("127.0.0.1:{backend}"),
            "--header-up",
            "X-Up: 1",
            "--header-down",
            "X-Down: 2",
            "--change-host-header",
        ],
        port,
    );
    let (status, head, b) = request(port, "/", "");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(head.to_ascii_lowercase().contains("x-down: 2"), "{head}");
    assert_eq!(String::from_utf8(b).unwrap(), "up=1 host=127.0.0.1");
    let out = bellhop()
        .args(["reverse-proxy", "--from", ":1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--to is required"));
}

#[test]
fn a_hashed_password_opens_basic_auth() {
    let out = bellhop()
        .args([
            "hash-password",
            "--plaintext",
            "s3cret",
            "--bcrypt-cost",
            "4",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let caddyfile = dir.path().join("Caddyfile");
    std::fs::write(&caddyfile, format!("{{\n\tadmin off\n}}\n:{port} {{\n\tbasic_auth {{\n\t\tbob {hash}\n\t}}\n\trespond ok\n}}\n")).unwrap();
    let _s = serve(&["run", "--config", caddyfile.to_str().unwrap()], port);
    assert!(request(port, "/", "").0.contains("401"));
    // bob:s3cret
    let (status, _, b) = request(port, "/", "Authorization: Basic Ym9iOnMzY3JldA==\r\n");
    assert!(status.contains("200"), "{status}");
    assert_eq!(b, b"ok");
}

#[test]
fn envfile_environ_completion_and_manpages() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("site.env");
    std::fs::write(
        &env,
        "# the port\nexport SITE_PORT=8123\nGREETING=\"hello\"\n",
    )
    .unwrap();
    let caddyfile = dir.path().join("Caddyfile");
    std::fs::write(&caddyfile, ":{$SITE_PORT} {\n\trespond {$GREETING}\n}\n").unwrap();
    let out = bellhop()
        .args([
            "adapt",
            "--envfile",
            env.to_str().unwrap(),
            "--config",
            caddyfile.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.contains(":8123") && json.contains("\"body\":\"hello\""),
        "{json}"
    );
    // A variable already set wins over the file, as in Caddy.
    let out = bellhop()
        .env("SITE_PORT", "9000")
        .args(["environ", "--envfile", env.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\nSITE_PORT=9000\n") && text.contains("\nGREETING=hello\n"),
        "{text}"
    );
    assert!(text.starts_with("bellhop.HomeDir="), "{text}");
    let bad = dir.path().join("bad.env");
    std::fs::write(&bad, "NOEQUALS\n").unwrap();
    let out = bellhop()
        .args(["environ", "--envfile", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("can't parse line 1"));
    let out = bellhop().args(["completion", "bash"]).output().unwrap();
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("_bellhop") && script.contains("reverse-proxy"),
        "completion"
    );
    // The script is bash that bash reads (`bash -n`: parsed, not run).
    let file = dir.path().join("bellhop.bash");
    std::fs::write(&file, script.as_bytes()).unwrap();
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(checked.status.success(), "bash -n: {checked:?}");
    let pages = dir.path().join("man");
    assert!(bellhop()
        .args(["manpage", "--directory", pages.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let page = std::fs::read_to_string(pages.join("bellhop-respond.1")).unwrap();
    assert!(
        page.contains(".TH bellhop-respond") && page.contains("\\-\\-listen"),
        "{page}"
    );
    assert!(pages.join("bellhop.1").exists());
    // One page per command `bellhop --help` lists.
    let help = bellhop().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 15, "{help}");
    for c in commands {
        assert!(
            pages.join(format!("bellhop-{c}.1")).exists(),
            "no page for {c}"
        );
    }
}
