//! Spans exported over OTLP (`http/protobuf`) by the `tracing` handler,
//! configured by the `OTEL_*` environment as the OpenTelemetry SDKs (and
//! Caddy 2.11) are: `bellhop run` with a real collector stand-in of the
//! test's (an HTTP server on loopback that records what it is sent), whose
//! protobuf the test decodes itself.

mod common;
use common::{free_port, Proc};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One export the collector received: path, headers (lower-case), body.
struct Export {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn collector() -> (u16, Arc<Mutex<Vec<Export>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s);
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.trim().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            keep.lock().unwrap().push(Export {
                path,
                headers,
                body,
            });
            let _ = r
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (port, got)
}

/// A protobuf field's value.
#[derive(Debug, Clone)]
enum Pb {
    Int(u64),
    Bytes(Vec<u8>),
}

fn varint(b: &[u8], i: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[*i];
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// The fields of a message, in order.
fn fields(b: &[u8]) -> Vec<(u64, Pb)> {
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        let key = varint(b, &mut i);
        let v = match key & 7 {
            0 => Pb::Int(varint(b, &mut i)),
            1 => {
                let v = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
                i += 8;
                Pb::Int(v)
            }
            2 => {
                let n = varint(b, &mut i) as usize;
                i += n;
                Pb::Bytes(b[i - n..i].to_vec())
            }
            w => panic!("wire type {w}"),
        };
        out.push((key >> 3, v));
    }
    out
}

fn all(b: &[u8], field: u64) -> Vec<Vec<u8>> {
    fields(b)
        .into_iter()
        .filter_map(|(f, v)| match (f == field, v) {
            (true, Pb::Bytes(b)) => Some(b),
            _ => None,
        })
        .collect()
}

fn one(b: &[u8], field: u64) -> Option<Pb> {
    fields(b)
        .into_iter()
        .find(|(f, _)| *f == field)
        .map(|(_, v)| v)
}

fn text(b: &[u8], field: u64) -> String {
    match one(b, field) {
        Some(Pb::Bytes(v)) => String::from_utf8(v).unwrap(),
        other => panic!("field {field}: {other:?}"),
    }
}

/// Attributes (`KeyValue` = field `field`) as text: strings as they are,
/// ints in decimal.
fn attributes(b: &[u8], field: u64) -> Vec<(String, String)> {
    all(b, field)
        .iter()
        .map(|kv| {
            let v = match one(kv, 2) {
                Some(Pb::Bytes(any)) => match one(&any, 1).or_else(|| one(&any, 3)) {
                    Some(Pb::Bytes(s)) => String::from_utf8(s).unwrap(),
                    Some(Pb::Int(i)) => i.to_string(),
                    None => String::new(),
                },
                _ => String::new(),
            };
            (text(kv, 1), v)
        })
        .collect()
}

/// A decoded span: name, trace ID, span ID, parent, attributes, status code.
#[derive(Debug)]
struct Span {
    name: String,
    trace: Vec<u8>,
    parent: Option<Vec<u8>>,
    attrs: Vec<(String, String)>,
    status: u64,
    resource: Vec<(String, String)>,
}

fn spans(exports: &[Export]) -> Vec<Span> {
    let mut out = Vec::new();
    for e in exports {
        for rs in all(&e.body, 1) {
            let resource = all(&rs, 1)
                .first()
                .map(|r| attributes(r, 1))
                .unwrap_or_default();
            for ss in all(&rs, 2) {
                for s in all(&ss, 2) {
                    let status = all(&s, 15)
                        .first()
                        .and_then(|st| match one(st, 3) {
                            Some(Pb::Int(c)) => Some(c),
                            _ => None,
                        })
                        .unwrap_or(0);
                    out.push(Span {
                        name: text(&s, 5),
                        trace: all(&s, 1).remove(0),
                        parent: all(&s, 4).pop(),
                        attrs: attributes(&s, 9),
                        status,
                        resource: resource.clone(),
                    });
                }
            }
        }
    }
    out
}

/// `bellhop run` with `config`, exporting to the collector on
/// `collector_port` with the `extra` environment (and no inherited
/// `OTEL_*` that would turn export off or send it elsewhere), once it
/// listens on `port`.
fn run(
    dir: &std::path::Path,
    config: &serde_json::Value,
    port: u16,
    collector_port: u16,
    extra: &[(&str, &str)],
) -> Proc {
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bellhop"));
    cmd.args(["run", "--config"])
        .arg(&path)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{collector_port}"),
        );
    for var in [
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(extra.iter().copied());
    let p = Proc(
        cmd.stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "bellhop does not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

fn get(port: u16, path: &str, headers: &str) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: shop.test\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    out
}

fn attr<'a>(s: &'a Span, k: &str) -> Option<&'a str> {
    s.attrs
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}

#[test]
fn sampled_requests_are_exported_as_server_spans() {
    let dir = tempfile::tempdir().unwrap();
    let (collector_port, got) = collector();
    let port = free_port();
    let config = serde_json::json!({
        "admin": {"disabled": true},
        "apps": {"http": {"servers": {"s": {
            "listen": [format!("127.0.0.1:{port}")],
            "routes": [{"handle": [
                {"handler": "tracing", "span": "req {http.request.method}",
                 "span_attributes": {"tenant": "{http.request.header.X-Tenant}"}},
                {"handler": "subroute", "routes": [
                    {"match": [{"path": ["/fail"]}], "handle": [{"handler": "static_response", "status_code": 503}]},
                    {"match": [{"path": ["/boom"]}], "handle": [{"handler": "error", "status_code": 500}]},
                    {"handle": [{"handler": "static_response", "body": "ok"}]}
                ]}
            ]}]
        }}}}
    });
    let _p = run(
        dir.path(),
        &config,
        port,
        collector_port,
        &[
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cret"),
            ("OTEL_SERVICE_NAME", "shop"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    );
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = get(
        port,
        "/a",
        &format!("traceparent: {parent}\r\nX-Tenant: acme\r\nUser-Agent: t/1\r\n"),
    );
    assert!(r.ends_with("ok"), "{r}");
    assert!(get(port, "/fail", "").starts_with("HTTP/1.1 503"));
    assert!(get(port, "/boom", "").starts_with("HTTP/1.1 500"));
    let unsampled = "00-11111111111111111111111111111111-2222222222222222-00";
    get(port, "/quiet", &format!("traceparent: {unsampled}\r\n"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while spans(&got.lock().unwrap()).len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Several batch delays more: the unsampled request must not show up.
    std::thread::sleep(Duration::from_millis(300));
    let found = spans(&got.lock().unwrap());
    assert_eq!(
        found.len(),
        3,
        "three sampled requests, three spans: {found:?}"
    );
    {
        let exports = got.lock().unwrap();
        let e = &exports[0];
        assert_eq!(e.path, "/v1/traces");
        let h = |k: &str| {
            e.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(h("content-type").as_deref(), Some("application/x-protobuf"));
        assert_eq!(h("x-api-key").as_deref(), Some("s3cret"));
    }
    let a = found
        .iter()
        .find(|s| attr(s, "url.path") == Some("/a"))
        .expect("the span of /a");
    assert_eq!(a.name, "req GET");
    assert_eq!(
        hex(&a.trace),
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "the incoming trace continues"
    );
    assert_eq!(
        a.parent.as_deref().map(hex),
        Some("00f067aa0ba902b7".to_string())
    );
    assert_eq!(attr(a, "tenant"), Some("acme"));
    assert_eq!(attr(a, "http.request.method"), Some("GET"));
    assert_eq!(attr(a, "http.response.status_code"), Some("200"));
    assert_eq!(attr(a, "server.address"), Some("shop.test"));
    assert_eq!(attr(a, "user_agent.original"), Some("t/1"));
    assert_eq!(a.status, 0);
    assert!(
        a.resource.contains(&("service.name".into(), "shop".into())),
        "{:?}",
        a.resource
    );
    let f = found
        .iter()
        .find(|s| attr(s, "url.path") == Some("/fail"))
        .expect("the span of /fail");
    assert_eq!(
        (f.status, f.parent.is_none()),
        (2, true),
        "a 5xx is an ERROR; a new trace has no parent"
    );
    assert_eq!(attr(f, "http.response.status_code"), Some("503"));
    // A handler error: the span ends with the response the server sends.
    let b = found
        .iter()
        .find(|s| attr(s, "url.path") == Some("/boom"))
        .expect("the span of /boom");
    assert_eq!(
        (attr(b, "http.response.status_code"), b.status),
        (Some("500"), 2)
    );
}

/// The first data point's double value (field 4 of a NumberDataPoint).
fn point_value(point: &[u8]) -> f64 {
    match one(point, 4) {
        Some(Pb::Int(bits)) => f64::from_bits(bits),
        other => panic!("no as_double: {other:?}"),
    }
}

#[test]
fn metrics_are_pushed_over_otlp_with_metrics_otlp() {
    let dir = tempfile::tempdir().unwrap();
    let (collector_port, got) = collector();
    let port = free_port();
    let config = serde_json::json!({
        "admin": {"disabled": true},
        "apps": {"http": {"metrics": {"otlp": true}, "servers": {"s": {
            "listen": [format!("127.0.0.1:{port}")],
            "routes": [{"handle": [{"handler": "static_response", "body": "ok"}]}]
        }}}}
    });
    let _p = run(
        dir.path(),
        &config,
        port,
        collector_port,
        &[("OTEL_METRIC_EXPORT_INTERVAL", "100")],
    );
    for _ in 0..3 {
        assert!(get(port, "/", "").ends_with("ok"));
    }
    // Metrics named as the Prometheus endpoint names them, by their values.
    let metrics_of = |e: &Export| -> Vec<(String, Vec<u8>)> {
        all(&e.body, 1)
            .iter()
            .flat_map(|rm| all(rm, 2))
            .flat_map(|sm| all(&sm, 2))
            .map(|m| (text(&m, 1), m))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let (requests, histogram) = loop {
        let exports = got.lock().unwrap();
        let latest = exports
            .iter()
            .rev()
            .find(|e| e.path == "/v1/metrics")
            .map(metrics_of);
        let find = |name: &str| {
            latest
                .as_ref()?
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, m)| m.clone())
        };
        let requests = find("caddy_http_requests_total")
            .and_then(|m| all(&m, 7).pop())
            .map(|sum| all(&sum, 1).iter().map(|p| point_value(p)).sum::<f64>());
        let histogram = find("caddy_http_request_duration_seconds").and_then(|m| all(&m, 9).pop());
        if let (Some(r), Some(h)) = (requests, histogram.clone()) {
            if r >= 3.0 {
                break (r, h);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no OTLP metrics with the 3 requests"
        );
        drop(exports);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(requests, 3.0);
    // Cumulative (2), with one data point whose count is the 3 requests and
    // whose buckets (one more than the bounds) add up to it.
    assert!(matches!(one(&histogram, 2), Some(Pb::Int(2))));
    let point = all(&histogram, 1).remove(0);
    assert!(matches!(one(&point, 4), Some(Pb::Int(3))), "count");
    let counts = match one(&point, 6) {
        Some(Pb::Bytes(b)) => b
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect::<Vec<_>>(),
        other => panic!("bucket_counts: {other:?}"),
    };
    let bounds = match one(&point, 7) {
        Some(Pb::Bytes(b)) => b.len() / 8,
        other => panic!("explicit_bounds: {other:?}"),
    };
    assert_eq!((counts.len(), counts.iter().sum::<u64>()), (bounds + 1, 3));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
