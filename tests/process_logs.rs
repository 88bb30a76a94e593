//! bellhop's own log entries as Caddy's: zap-style JSON on standard error
//! (`level`, `ts`, `logger`, `msg`, then the fields), and the `logging`
//! app's `logs.default` deciding their writer, encoder, level and logger
//! names, as Caddy's default logger does; checked with the binary.

mod common;
use common::{free_port, Proc};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bellhop(dir: &Path, config: &serde_json::Value) -> Command {
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bellhop"));
    cmd.args(["run", "--config"])
        .arg(&path)
        .env_remove("BELLHOP_LOG")
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdin(Stdio::null());
    cmd
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// POSTs `body` to the admin endpoint's `/load`; the status line.
fn load(admin: u16, body: &str) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", admin)).unwrap();
    write!(
        c,
        "POST /load HTTP/1.1\r\nHost: 127.0.0.1:{admin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    out.lines().next().unwrap_or_default().to_string()
}

fn server(port: u16) -> serde_json::Value {
    serde_json::json!({"http": {"servers": {"s": {
        "listen": [format!("127.0.0.1:{port}")],
        "routes": [{"handle": [{"handler": "static_response", "body": "hi"}]}]
    }}}})
}

#[test]
fn process_logs_are_zap_entries_on_stderr_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = serde_json::json!({"admin": {"disabled": true}, "apps": server(port)});
    let mut child = Proc(
        bellhop(dir.path(), &config)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines {
        let line = line.unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON entry ({e}): {line}"));
        seen.push(line.clone());
        if entry["msg"] == "serving initial configuration" {
            // zap's key order and types: level, ts (Unix seconds), logger, msg.
            assert!(line.starts_with(r#"{"level":"info","ts":"#), "{line}");
            assert!(entry["ts"].as_f64().unwrap() > 1.7e9, "{line}");
            assert!(entry.get("logger").is_none(), "the root logger: {line}");
            assert_eq!(entry["admin"], "off", "{line}");
            assert!(entry["listen"]
                .as_str()
                .unwrap()
                .contains(&port.to_string()));
            return;
        }
    }
    panic!("no serving entry: {seen:#?}");
}

#[test]
fn logs_default_sets_writer_encoder_level_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let (port, admin) = (free_port(), free_port());
    let file = dir.path().join("bellhop.log");
    let config = serde_json::json!({
        "admin": {"listen": format!("127.0.0.1:{admin}")},
        "logging": {"logs": {"default": {
            "writer": {"output": "file", "filename": file.display().to_string()},
            "encoder": {"format": "console"},
            "level": "ERROR",
            "exclude": ["admin.server"]
        }}},
        "apps": server(port)
    });
    let stderr = dir.path().join("stderr");
    let _child = Proc(
        bellhop(dir.path(), &config)
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_listening(port);
    wait_listening(admin);
    // A config that fails logs an error (admin.change), which the file
    // gets in the console format under Caddy's logger name; the info entries
    // went nowhere.
    let status = load(
        admin,
        r#"{"apps": {"http": {"servers": {"s": {"listen": ["nope:x"]}}}}}"#,
    );
    assert!(status.contains(" 400 "), "{status}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let t = std::fs::read_to_string(&file).unwrap_or_default();
        if t.contains("config change failed") || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let line = text
        .lines()
        .find(|l| l.contains("config change failed"))
        .unwrap_or_else(|| panic!("no error entry in the file: {text:?}"));
    let cols: Vec<&str> = line.split('\t').collect();
    assert_eq!(cols.len(), 5, "{line}");
    assert!(
        cols[0].len() == 23 && cols[0].as_bytes()[4] == b'/',
        "{line}"
    );
    assert_eq!(&cols[1..3], ["ERROR", "admin.api"]);
    assert!(cols[3].starts_with("config change failed"), "{line}");
    assert!(
        cols[4].starts_with('{') && cols[4].contains("\"error\":"),
        "{line}"
    );
    assert!(!text.contains("INFO"), "below the level: {text}");
    // After the config went live, standard error got nothing.
    let err = std::fs::read_to_string(&stderr).unwrap();
    assert!(!err.contains("config change failed"), "{err}");
    assert!(!err.contains("\"msg\":\"serving\""), "{err}");

    // A new config with the default logger at DEBUG and admin.server
    // included again: its entries come to the new writer (stderr).
    let config = serde_json::json!({
        "admin": {"listen": format!("127.0.0.1:{admin}")},
        "logging": {"logs": {"default": {"level": "DEBUG", "include": ["admin"]}}},
        "apps": server(port)
    });
    let before = std::fs::read_to_string(&stderr).unwrap().len();
    let status = load(admin, &config.to_string());
    assert!(status.contains(" 200 "), "{status}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let err = std::fs::read_to_string(&stderr).unwrap()[before..].to_string();
        let entries: Vec<serde_json::Value> = err
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let admin_logs = entries
            .iter()
            .filter(|e| e["logger"].as_str().is_some_and(|l| l.starts_with("admin")))
            .count();
        let others = entries
            .iter()
            .filter(|e| {
                e["logger"]
                    .as_str()
                    .is_some_and(|l| !l.starts_with("admin"))
            })
            .count();
        if admin_logs > 0 {
            assert_eq!(others, 0, "only admin.* is included: {err}");
            break;
        }
        assert!(Instant::now() < deadline, "no admin entry on stderr: {err}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
