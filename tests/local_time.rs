//! Local time in logs (`time_local` of an encoder), end to end: the
//! `bellhop` binary run with `TZ` set to a POSIX zone string writes its
//! access log's times with that zone's offset, and in UTC without it.

mod common;
use common::Proc;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `bellhop run` on a config logging to `log` with a local-time
/// console encoder, with `tz` as `TZ`; returns the port it serves.
fn serve(dir: &Path, log: &Path, tz: Option<&str>) -> (Proc, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = serde_json::json!({
        "admin": {"disabled": true},
        "logging": {"logs": {
            "default": {"writer": {"output": "stderr"}},
            "access": {
                "writer": {"output": "file", "filename": log.display().to_string()},
                "encoder": {"format": "console", "time_format": "iso8601", "time_local": true},
                "include": ["http.log.access"]
            }
        }},
        "apps": {"http": {"servers": {"s": {
            "listen": [format!("127.0.0.1:{port}")],
            "logs": {},
            "routes": [{"handle": [{"handler": "static_response", "body": "hi"}]}]
        }}}}
    });
    let path = dir.join(format!("c{port}.json"));
    std::fs::write(&path, config.to_string()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bellhop"));
    cmd.args(["run", "--config"]).arg(&path);
    cmd.env_remove("TZ").env("XDG_DATA_HOME", dir.join("data"));
    if let Some(tz) = tz {
        cmd.env("TZ", tz);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("serving") {
            std::thread::spawn(move || lines.for_each(drop));
            return (Proc(child), port);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("bellhop exited before serving");
}

/// The time field of the first access-log line after one request.
fn logged_time(tz: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let (_p, port) = serve(dir.path(), &log, tz);
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    for _ in 0..100 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            return line.split('\t').next().unwrap().to_string();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no access log line");
}

#[test]
fn time_local_writes_the_zone_offset() {
    let india = logged_time(Some("IST-5:30"));
    assert!(india.ends_with("+0530"), "{india}");
    let utc = logged_time(Some("UTC0"));
    assert!(utc.ends_with('Z'), "{utc}");
    // the same instant, 5 h 30 apart on the clock
    let minutes = |t: &str| {
        let hm = &t[11..16];
        hm[..2].parse::<i64>().unwrap() * 60 + hm[3..].parse::<i64>().unwrap()
    };
    let diff = (minutes(&india) - minutes(&utc)).rem_euclid(24 * 60);
    assert!((329..=331).contains(&diff), "{india} vs {utc}");
}
