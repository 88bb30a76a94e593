//! Access logs through the `logging` app: file writers, JSON and console
//! encoders, logger names, include/exclude, levels, skips and log_append.

use crate::support::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// Waits until `path` holds at least `n` lines, and returns them.
async fn lines(path: &Path, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let got: Vec<String> = text.lines().map(str::to_string).collect();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never got {n} lines", path.display());
}

fn file_log(path: &Path, extra: Value) -> Value {
    let mut l = json!({"writer": {"output": "file", "filename": path.display().to_string()}});
    for (k, v) in extra.as_object().unwrap() {
        l[k] = v.clone();
    }
    l
}

fn start_logged(logs: Value, server_logs: Value, routes: Value) -> TestServer {
    let mut cfg = config_with(json!({"logs": server_logs, "routes": routes}));
    cfg["logging"] = json!({"logs": logs});
    start(cfg)
}

#[tokio::test]
async fn file_writer_gets_caddys_access_log_fields() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("logs/main.log");
    let s = start_logged(
        json!({
            "main": file_log(&main, json!({"include": ["http.log.access.main"]})),
            "default": {"writer": {"output": "discard"}}
        }),
        json!({"logger_names": {"a.test": ["main"]}}),
        json!([{"handle": [
            {"handler": "log_append", "key": "tenant", "value": "{http.request.header.X-Tenant}"},
            {"handler": "static_response", "status_code": 201, "body": "hello",
             "headers": {"X-Resp": ["r1"], "Set-Cookie": ["k=v"]}}
        ]}]),
    );
    let r = send(
        Proto::H1,
        "POST",
        s.addr,
        "/p?q=1",
        &[
            ("Host", "a.test"),
            ("Authorization", "Basic eDp4"),
            ("Cookie", "c=1"),
            ("X-Tenant", "acme"),
        ],
        "body!",
    )
    .await;
    assert_eq!(r.status, 201);
    let got = lines(&main, 1).await;
    let e: Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(e["level"], "info");
    assert_eq!(e["logger"], "http.log.access.main");
    assert_eq!(e["msg"], "handled request");
    assert!(e["ts"].as_f64().unwrap() > 1.6e9);
    let rq = &e["request"];
    assert_eq!(rq["remote_ip"], "127.0.0.1");
    assert!(rq["remote_port"].as_str().unwrap().parse::<u16>().is_ok());
    assert_eq!(rq["client_ip"], "127.0.0.1");
    assert_eq!(
        (rq["proto"].as_str(), rq["method"].as_str()),
        (Some("HTTP/1.1"), Some("POST"))
    );
    assert_eq!(
        (rq["host"].as_str(), rq["uri"].as_str()),
        (Some("a.test"), Some("/p?q=1"))
    );
    assert_eq!(rq["headers"]["Authorization"], json!(["REDACTED"]));
    assert_eq!(rq["headers"]["Cookie"], json!(["REDACTED"]));
    assert_eq!(rq["headers"]["X-Tenant"], json!(["acme"]));
    assert!(rq["headers"].get("Host").is_none());
    assert_eq!(e["user_id"], "");
    assert!(e["duration"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        (e["size"].as_u64(), e["status"].as_u64()),
        (Some(5), Some(201))
    );
    assert_eq!(e["resp_headers"]["X-Resp"], json!(["r1"]));
    assert_eq!(e["resp_headers"]["Set-Cookie"], json!(["REDACTED"]));
    assert_eq!(e["tenant"], "acme");
}

#[tokio::test]
async fn include_exclude_levels_and_default_names() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, errs, rest) = (
        dir.path().join("a.log"),
        dir.path().join("b.log"),
        dir.path().join("errors.log"),
        dir.path().join("rest.log"),
    );
    let s = start_logged(
        json!({
            "a": file_log(&a, json!({"include": ["http.log.access.a"]})),
            "b": file_log(&b, json!({"include": ["http.log.access"], "exclude": ["http.log.access.a"]})),
            "errs": file_log(&errs, json!({"level": "ERROR", "include": ["http.log.access"]})),
            "default": file_log(&rest, json!({"exclude": ["http.log.access"]}))
        }),
        json!({"logger_names": {"*.a.test": ["a"]}, "default_logger_name": "other"}),
        json!([
            {"match": [{"path": ["/missing"]}], "handle": [{"handler": "static_response", "status_code": 404}]},
            {"handle": [respond("ok")]}
        ]),
    );
    get_with(s.addr, "/1", &[("Host", "x.a.test")]).await;
    get_with(s.addr, "/2", &[("Host", "elsewhere.test")]).await;
    get_with(s.addr, "/missing", &[("Host", "elsewhere.test")]).await;
    let b_lines = lines(&b, 2).await;
    let a_lines = lines(&a, 1).await;
    let err_lines = lines(&errs, 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let field = |l: &str, f: &str| serde_json::from_str::<Value>(l).unwrap()[f].clone();
    assert_eq!(std::fs::read_to_string(&a).unwrap().lines().count(), 1);
    assert_eq!(field(&a_lines[0], "logger"), "http.log.access.a");
    assert_eq!(
        std::fs::read_to_string(&b).unwrap().lines().count(),
        2,
        "a is excluded from b"
    );
    assert_eq!(field(&b_lines[0], "logger"), "http.log.access.other");
    assert_eq!(std::fs::read_to_string(&errs).unwrap().lines().count(), 1);
    assert_eq!(
        (
            field(&err_lines[0], "level"),
            field(&err_lines[0], "status")
        ),
        (json!("error"), json!(404))
    );
    assert_eq!(std::fs::read_to_string(&rest).unwrap_or_default(), "");
}

#[tokio::test]
async fn skips_credentials_and_console_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let s = start_logged(
        json!({"c": file_log(&path, json!({"encoder": {"format": "console"}})),
               "default": {"writer": {"output": "discard"}}}),
        json!({"skip_hosts": ["quiet.test"], "should_log_credentials": true}),
        json!([
            {"match": [{"path": ["/health"]}], "handle": [{"handler": "vars", "log_skip": true}]},
            {"handle": [respond("ok")]}
        ]),
    );
    get_with(s.addr, "/x", &[("Host", "quiet.test")]).await;
    get_with(s.addr, "/health", &[]).await;
    get_with(s.addr, "/logged", &[("Authorization", "Bearer t")]).await;
    let got = lines(&path, 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    let cols: Vec<&str> = got[0].split('\t').collect();
    assert_eq!(&cols[1..4], ["INFO", "http.log.access", "handled request"]);
    assert_eq!(cols[0].len(), "2006/01/02 15:04:05.000".len());
    let fields: Value = serde_json::from_str(cols[4]).unwrap();
    assert_eq!(fields["request"]["uri"], "/logged");
    assert_eq!(
        fields["request"]["headers"]["Authorization"],
        json!(["Bearer t"])
    );
}

/// `format: filter` redacts access-log fields before the wrapped encoder
/// writes them (console here, nested filter encoders compose).
#[tokio::test]
async fn filter_encoder_redacts_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.log");
    let encoder = json!({"format": "filter",
    "wrap": {"format": "filter", "wrap": {"format": "console"},
             "fields": {"request>uri": {"filter": "query", "actions": [
                 {"type": "hash", "parameter": "token"}, {"type": "delete", "parameter": "drop"}]}}},
    "fields": {
        "request>headers>Authorization": {"filter": "regexp", "regexp": "Bearer\\s+\\S+", "value": "Bearer [REDACTED]"},
        "request>headers>Cookie": {"filter": "cookie", "actions": [{"type": "replace", "name": "sid", "value": "X"}]},
        "request>remote_ip": {"filter": "ip_mask", "ipv4_cidr": 8},
        "request>client_ip": {"filter": "delete"},
        "resp_headers>Set-Cookie": {"filter": "set_cookie", "actions": [{"type": "hash", "name": "k"}]},
        "status": {"filter": "rename", "name": "code"}
    }});
    let s = start_logged(
        json!({"f": file_log(&path, json!({"encoder": encoder})),
               "default": {"writer": {"output": "discard"}}}),
        json!({"should_log_credentials": true}),
        json!([{"handle": [{"handler": "static_response", "body": "ok",
                            "headers": {"Set-Cookie": ["k=secret; Path=/"]}}]}]),
    );
    get_with(
        s.addr,
        "/p?token=abc&drop=1&keep=2",
        &[
            ("Authorization", "Bearer abc.def"),
            ("Cookie", "sid=s3cr3t; theme=dark"),
        ],
    )
    .await;
    let got = lines(&path, 1).await;
    let cols: Vec<&str> = got[0].split('\t').collect();
    assert_eq!(&cols[1..4], ["INFO", "http.log.access", "handled request"]);
    let f: Value = serde_json::from_str(cols[4]).unwrap();
    let rq = &f["request"];
    assert_eq!(rq["uri"], "/p?keep=2&token=ba7816bf");
    assert_eq!(rq["headers"]["Authorization"], json!(["Bearer [REDACTED]"]));
    assert_eq!(rq["headers"]["Cookie"], json!(["sid=X; theme=dark"]));
    assert_eq!(rq["remote_ip"], "127.0.0.0");
    assert!(rq.get("client_ip").is_none(), "{f}");
    assert_eq!(
        f["resp_headers"]["Set-Cookie"],
        json!(["k=2bb80d53; Path=/"])
    );
    assert_eq!((f["code"].as_u64(), f.get("status")), (Some(200), None));
}

/// `format: append` adds fields to every entry; wrapping a filter, the
/// filter sees them too (as Caddy's encoders nest).
#[tokio::test]
async fn append_encoder_adds_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let encoder = json!({"format": "append",
        "wrap": {"format": "filter", "wrap": {"format": "json"},
                 "fields": {"site": {"filter": "replace", "value": "S"}}},
        "fields": {"site": "{system.hostname}", "n": 1, "at": "{time.now.unix}", "uri": "{http.request.uri}"}});
    // (`core: mock`, Caddy's test core, changes nothing.)
    let s = start_logged(
        json!({"a": file_log(&path, json!({"encoder": encoder, "core": {"module": "mock"}})),
               "default": {"writer": {"output": "discard"}}}),
        json!({}),
        json!([{"handle": [respond("ok")]}]),
    );
    get_with(s.addr, "/x", &[]).await;
    let got = lines(&path, 1).await;
    let e: Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(e["msg"], "handled request");
    assert_eq!(e["request"]["uri"], "/x");
    assert_eq!((e["site"].as_str(), e["n"].as_u64()), (Some("S"), Some(1)));
    assert!(e["at"].as_u64().unwrap() > 1_700_000_000, "{e}");
    assert!(e["uri"].is_null(), "no request in the global replacer: {e}");
}

/// `writers.net`: access-log lines over TCP and UDP to a collector; with
/// `soft_start` a collector that is not up yet does not fail the load.
#[tokio::test]
async fn net_writer_sends_lines_over_tcp_and_udp() {
    use tokio::io::AsyncBufReadExt;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (t, u) = (tcp.local_addr().unwrap(), udp.local_addr().unwrap());
    let net = |addr: String| json!({"writer": {"output": "net", "address": addr, "dial_timeout": "2s"}, "include": ["http.log.access"]});
    let s = start_logged(
        json!({"t": net(format!("tcp/{t}")), "u": net(format!("udp/{u}")),
               "default": {"writer": {"output": "discard"}}}),
        json!({}),
        json!([{"handle": [respond("ok")]}]),
    );
    get_with(s.addr, "/over-the-wire", &[]).await;
    let (conn, _) = tokio::time::timeout(Duration::from_secs(5), tcp.accept())
        .await
        .unwrap()
        .unwrap();
    let mut line = String::new();
    let mut r = tokio::io::BufReader::new(conn);
    tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    let e: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(e["request"]["uri"], "/over-the-wire");
    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(Duration::from_secs(5), udp.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let e: Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(e["request"]["uri"], "/over-the-wire");
    // soft_start: nothing listens yet, the config loads anyway
    let mut cfg = config_with(json!({"routes": []}));
    cfg["logging"] = json!({"logs": {"x": {"writer": {"output": "net", "address": "127.0.0.1:1", "soft_start": true}}}});
    bellhop_runtime::validate(cfg.to_string().as_bytes()).unwrap();
}

/// `format: journald`: each line starts with its syslog priority; a
/// wrapped console encoder drops the time (the journal stamps lines), a
/// JSON one keeps `ts`.
#[tokio::test]
async fn journald_encoder_prefixes_the_priority() {
    let dir = tempfile::tempdir().unwrap();
    let (c, j) = (dir.path().join("c.log"), dir.path().join("j.log"));
    let s = start_logged(
        json!({"c": file_log(&c, json!({"encoder": {"format": "journald", "wrap": {"format": "console"}}})),
               "j": file_log(&j, json!({"encoder": {"format": "journald"}})),
               "default": {"writer": {"output": "discard"}}}),
        json!({}),
        json!([{"handle": [respond("ok")]}]),
    );
    get_with(s.addr, "/j", &[]).await;
    let console = lines(&c, 1).await;
    assert!(
        console[0].starts_with("<6>INFO\thttp.log.access\thandled request\t{"),
        "{}",
        console[0]
    );
    let json_line = lines(&j, 1).await;
    let rest = json_line[0].strip_prefix("<6>").unwrap();
    let e: Value = serde_json::from_str(rest).unwrap();
    assert!(
        e["ts"].as_f64().is_some() && e["request"]["uri"] == "/j",
        "{rest}"
    );
}

#[tokio::test]
async fn bad_logging_configs_name_their_path() {
    let bad = |logging: Value| {
        let mut cfg = config_with(json!({"routes": []}));
        cfg["logging"] = logging;
        bellhop_runtime::validate(cfg.to_string().as_bytes())
            .unwrap_err()
            .to_string()
    };
    // nothing listens on port 1: the dial fails the load, naming it
    let e = bad(json!({"logs": {"x": {"writer": {"output": "net", "address": "127.0.0.1:1"}}}}));
    assert!(
        e.contains("logging.logs.x.writer.address") && e.contains("dialing 127.0.0.1:1"),
        "{e}"
    );
    let e =
        bad(json!({"logs": {"x": {"encoder": {"format": "filter", "wrap": {"format": "xml"}}}}}));
    assert!(
        e.contains("caddy.logging.encoders.xml")
            && e.contains("logging.logs.x.encoder.wrap.format"),
        "{e}"
    );
    let e = bad(
        json!({"logs": {"x": {"encoder": {"format": "filter", "fields": {"a": {"filter": "wipe"}}}}}}),
    );
    assert!(
        e.contains("caddy.logging.encoders.filter.wipe")
            && e.contains("logging.logs.x.encoder.fields.a.filter"),
        "{e}"
    );
    let e = bad(json!({"logs": {"x": {"core": {"module": "mock", "level": 1}}}}));
    assert!(
        e.contains("logging.logs.x.core.level: unknown field"),
        "{e}"
    );
    let e = bad(json!({"logs": {"x": {"core": {"module": "tee"}}}}));
    assert!(e.contains("caddy.logging.cores.tee"), "{e}");
    let e = bad(json!({"logs": {"x": {"level": "LOUD"}}}));
    assert!(e.contains("logging.logs.x.level"), "{e}");
    let e = bad(
        json!({"logs": {"x": {"writer": {"output": "file", "filename": "/tmp/x.log", "roll_sise_mb": 1}}}}),
    );
    assert!(e.contains("logging.logs.x.writer.roll_sise_mb"), "{e}");
}

/// A client that goes away before the upstream answers is logged with
/// status 499 (Caddy's client_disconnect_test.go
/// TestClientDisconnectRecordsStatus), not left out of the access log.
#[tokio::test]
async fn a_client_gone_before_the_upstream_answered_is_logged_499() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    // an upstream that reads the request and never answers
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            held.push(c);
        }
    });
    let s = start_logged(
        json!({"main": file_log(&log, json!({"include": ["http.log.access"]})),
               "default": {"writer": {"output": "discard"}}}),
        json!({}),
        json!([{"handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": up.to_string()}]}]}]),
    );
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(c);
    let got = lines(&log, 1).await;
    let e: Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(e["status"], 499, "{e}");
    assert_eq!(e["request"]["uri"], "/slow");
}

/// `logs.trace`: each handler a request enters writes a DEBUG entry to
/// `http.log.trace` named by its module ID, its config as `module`; a
/// logger at INFO writes none of them.
#[tokio::test]
async fn trace_logs_each_handler_entered_at_debug() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("logs/trace.log");
    let info = dir.path().join("logs/info.log");
    let s = start_logged(
        json!({
            "trace": file_log(&trace, json!({"level": "DEBUG", "include": ["http.log.trace"]})),
            "info": file_log(&info, json!({"include": ["http.log.trace", "http.log.access"]})),
            "default": {"writer": {"output": "discard"}}
        }),
        json!({"trace": true}),
        json!([{"handle": [
            {"handler": "vars", "who": "x"},
            {"handler": "static_response", "body": "traced"}
        ]}]),
    );
    let r = get(s.addr, "/").await;
    assert_eq!(r.body, "traced");
    let got = lines(&trace, 2).await;
    let e: Vec<Value> = got
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        (e[0]["level"].as_str(), e[0]["logger"].as_str()),
        (Some("debug"), Some("http.log.trace"))
    );
    assert_eq!(e[0]["msg"], "http.handlers.vars");
    assert_eq!(e[0]["module"], json!({"who": "x"}));
    assert_eq!(e[1]["msg"], "http.handlers.static_response");
    assert_eq!(e[1]["module"], json!({"body": "traced"}));
    let access = lines(&info, 1).await;
    assert!(
        access.iter().all(|l| !l.contains("http.log.trace")),
        "{access:?}"
    );
}

/// An encoder's `duration_format`: the same request's `duration`, logged
/// by loggers that differ only in it, in seconds, milliseconds,
/// nanoseconds and Go's text.
#[tokio::test]
async fn duration_format_changes_how_the_access_log_duration_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(format!("logs/{n}.log"));
    let log = |n: &str, fmt: Option<&str>| {
        let mut encoder = json!({"format": "json"});
        if let Some(f) = fmt {
            encoder["duration_format"] = json!(f);
        }
        file_log(
            &path(n),
            json!({"include": ["http.log.access"], "encoder": encoder}),
        )
    };
    let s = start_logged(
        json!({
            "s": log("s", None), "ms": log("ms", Some("ms")), "ns": log("ns", Some("nanos")),
            "text": log("text", Some("string")),
            "default": {"writer": {"output": "discard"}}
        }),
        json!({}),
        json!([{"handle": [{"handler": "static_response", "body": "timed"}]}]),
    );
    assert_eq!(get(s.addr, "/").await.body, "timed");
    let entry = |n: &str| {
        let p = path(n);
        async move { serde_json::from_str::<Value>(&lines(&p, 1).await[0]).unwrap() }
    };
    let secs = entry("s").await["duration"].as_f64().unwrap();
    let ms = entry("ms").await["duration"].as_f64().unwrap();
    let ns = entry("ns").await["duration"].clone();
    let text = entry("text").await["duration"].clone();
    assert!((ms - secs * 1e3).abs() < 1e-6, "{ms} ms for {secs} s");
    assert_eq!(ns.as_i64(), Some((secs * 1e9).round() as i64), "{ns}");
    let text = text.as_str().unwrap().to_string();
    assert!(
        text.ends_with('s') && text.chars().next().unwrap().is_ascii_digit(),
        "{text}"
    );
}
