//! encode: gzip and zstd decoded by real decoders, negotiation, limits,
//! validators, and streaming through the proxy.

use crate::support::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use std::io::{Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(b)
        .read_to_string(&mut s)
        .expect("valid gzip");
    s
}

fn unzstd(b: &[u8]) -> String {
    String::from_utf8(zstd::decode_all(b).expect("valid zstd")).unwrap()
}

fn text(n: usize) -> String {
    (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

fn encode(extra: Value) -> Value {
    let mut h = json!({"handler": "encode", "encodings": {"gzip": {}, "zstd": {}}});
    for (k, v) in extra.as_object().unwrap() {
        h[k] = v.clone();
    }
    h
}

#[tokio::test]
async fn gzip_and_zstd_bodies_decode_over_h1_and_h2c() {
    let body = text(5000);
    let s = start(config_with(json!({"protocols": ["h1", "h2c"], "routes": [
        {"handle": [encode(json!({"prefer": ["zstd", "gzip"]})), respond(&body)]}
    ]})));
    for proto in [Proto::H1, Proto::H2c] {
        let r = send(
            proto,
            "GET",
            s.addr,
            "/",
            &[("Accept-Encoding", "gzip")],
            "",
        )
        .await;
        assert_eq!(r.header("content-encoding"), "gzip");
        assert_eq!(r.header("vary"), "Accept-Encoding");
        assert!(r.headers.get("content-length").is_none_or(|v| v != "5000"));
        assert!(r.raw.len() < 1000, "compressed: {}", r.raw.len());
        assert_eq!(gunzip(&r.raw), body);
        let r = send(
            proto,
            "GET",
            s.addr,
            "/",
            &[("Accept-Encoding", "gzip, zstd")],
            "",
        )
        .await;
        assert_eq!(r.header("content-encoding"), "zstd", "prefer breaks ties");
        assert_eq!(unzstd(&r.raw), body);
    }
}

#[tokio::test]
async fn q_values_and_identity() {
    let body = text(2000);
    let s = start_routes(json!([{"handle": [encode(json!({})), respond(&body)]}]));
    let ae = |v: &'static str| [("Accept-Encoding", v)];
    let r = get_with(s.addr, "/", &ae("gzip;q=0.5, zstd")).await;
    assert_eq!(r.header("content-encoding"), "zstd");
    let r = get_with(s.addr, "/", &ae("zstd;q=0.1, GZIP;q=0.9")).await;
    assert_eq!(r.header("content-encoding"), "gzip");
    let r = get_with(s.addr, "/", &ae("gzip;q=0, br")).await;
    assert_eq!(
        (r.header("content-encoding"), r.body.as_str()),
        ("", &*body)
    );
    assert_eq!(
        r.header("vary"),
        "",
        "no encoder chosen: Caddy adds no Vary"
    );
    let r = get(s.addr, "/").await;
    assert_eq!(r.header("content-length"), "2000");
}

#[tokio::test]
async fn minimum_length_match_and_no_double_encoding() {
    let s = start_routes(json!([
        {"match": [{"path": ["/short"]}], "handle": [encode(json!({})), respond(&text(512))]},
        {"match": [{"path": ["/min"]}], "handle": [encode(json!({"minimum_length": 100})), respond(&text(101))]},
        {"match": [{"path": ["/png"]}], "handle": [encode(json!({})),
            {"handler": "static_response", "headers": {"Content-Type": ["image/png"]}, "body": text(4000)}]},
        {"match": [{"path": ["/already"]}], "handle": [encode(json!({})),
            {"handler": "static_response", "headers": {"Content-Encoding": ["br"]}, "body": text(4000)}]},
        {"match": [{"path": ["/status"]}], "handle": [
            encode(json!({"match": {"status_code": [4]}})),
            {"handler": "static_response", "status_code": 404, "body": text(4000)}]},
        {"match": [{"path": ["/nostatus"]}], "handle": [
            encode(json!({"match": {"status_code": [4]}})), respond(&text(4000))]},
        {"match": [{"path": ["/notransform"]}], "handle": [encode(json!({})),
            {"handler": "static_response", "headers": {"Cache-Control": ["no-transform"]}, "body": text(4000)}]}
    ]));
    let ae = [("Accept-Encoding", "gzip")];
    let enc = |r: &Resp| r.header("content-encoding").to_string();
    assert_eq!(enc(&get_with(s.addr, "/short", &ae).await), "");
    let r = get_with(s.addr, "/min", &ae).await;
    assert_eq!((enc(&r), gunzip(&r.raw)), ("gzip".into(), text(101)));
    assert_eq!(enc(&get_with(s.addr, "/png", &ae).await), "");
    let r = get_with(s.addr, "/already", &ae).await;
    assert_eq!((enc(&r), r.body), ("br".into(), text(4000)));
    let r = get_with(s.addr, "/status", &ae).await;
    assert_eq!((r.status, enc(&r)), (404, "gzip".into()));
    assert_eq!(enc(&get_with(s.addr, "/nostatus", &ae).await), "");
    assert_eq!(enc(&get_with(s.addr, "/notransform", &ae).await), "");
}

#[tokio::test]
async fn file_server_etags_304_head_and_streamed_large_files() {
    let dir = tempfile::tempdir().unwrap();
    let big = text(300_000);
    std::fs::write(dir.path().join("big.txt"), &big).unwrap();
    std::fs::write(dir.path().join("page.html"), text(3000)).unwrap();
    let s = start_routes(json!([{"handle": [encode(json!({})),
        {"handler": "file_server", "root": dir.path().display().to_string()}]}]));
    let ae = ("Accept-Encoding", "gzip");
    let plain = get(s.addr, "/page.html").await;
    let r = get_with(s.addr, "/page.html", &[ae]).await;
    let tag = r.header("etag").to_string();
    assert_eq!(
        tag,
        format!("{}-gzip\"", plain.header("etag").trim_end_matches('"'))
    );
    assert_eq!(r.header("accept-ranges"), "");
    assert_eq!(gunzip(&r.raw), text(3000));
    let r = get_with(s.addr, "/page.html", &[ae, ("If-None-Match", &tag)]).await;
    assert_eq!((r.status, r.header("vary")), (304, "Accept-Encoding"));
    let r = send(Proto::H1, "HEAD", s.addr, "/page.html", &[ae], "").await;
    assert_eq!((r.status, r.header("content-encoding")), (200, "gzip"));
    assert!(r.raw.is_empty());
    let r = get_with(s.addr, "/big.txt", &[ae]).await;
    assert_eq!(r.header("content-encoding"), "gzip");
    assert!(r.raw.len() < 20_000, "compressed: {}", r.raw.len());
    assert_eq!(gunzip(&r.raw), big);
    let r = get_with(s.addr, "/big.txt", &[("Accept-Encoding", "zstd")]).await;
    assert_eq!(unzstd(&r.raw), big);
}

/// An upstream that sends one chunk, then waits for `go` before the last.
async fn slow_upstream(go: tokio::sync::oneshot::Receiver<()>) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut c, _) = l.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = c.read(&mut buf).await.unwrap();
        let first = text(600);
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
        let msg = format!("{head}{:x}\r\n{first}\r\n", first.len());
        c.write_all(msg.as_bytes()).await.unwrap();
        let _ = go.await;
        c.write_all(b"4\r\nlast\r\n0\r\n\r\n").await.unwrap();
    });
    addr
}

#[tokio::test]
async fn streams_compress_and_flush_while_the_upstream_waits() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let up = slow_upstream(rx).await;
    let s = start_routes(json!([{"handle": [encode(json!({})),
        {"handler": "reverse_proxy", "upstreams": [{"dial": up.to_string()}]}]}]));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let req = req("GET", s.addr, "/events")
        .header("Accept-Encoding", "gzip")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let mut body = resp.into_body();
    let mut dec = flate2::write::GzDecoder::new(Vec::new());
    while dec.get_ref().len() < 600 {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("first chunk arrives before the upstream finishes")
            .unwrap()
            .unwrap();
        if let Ok(d) = frame.into_data() {
            dec.write_all(&d).unwrap();
            dec.flush().unwrap();
        }
    }
    assert_eq!(String::from_utf8_lossy(dec.get_ref()), text(600));
    tx.send(()).unwrap();
    let rest = body.collect().await.unwrap().to_bytes();
    dec.write_all(&rest).unwrap();
    let all = dec.finish().unwrap();
    assert_eq!(String::from_utf8(all).unwrap(), text(600) + "last");
}

#[tokio::test]
async fn bad_encode_configs_name_their_path() {
    let bad = |h: Value| {
        let cfg = config_with(json!({"routes": [{"handle": [h]}]}));
        bellhop_runtime::validate(cfg.to_string().as_bytes())
            .unwrap_err()
            .to_string()
    };
    let e = bad(json!({"handler": "encode", "encodings": {"br": {}}}));
    assert!(
        e.contains("http.encoders.br") && e.contains("handle[0].encodings.br"),
        "{e}"
    );
    let e = bad(json!({"handler": "encode", "encodings": {"gzip": {}}, "prefer": ["zstd"]}));
    assert!(
        e.contains("handle[0].prefer[0]") && e.contains("not enabled"),
        "{e}"
    );
    let e = bad(json!({"handler": "encode", "encodings": {"gzip": {"level": 12}}}));
    assert!(e.contains("encodings.gzip.level"), "{e}");
    let e = bad(json!({"handler": "encode", "encodings": {"zstd": {"level": "max"}}}));
    assert!(e.contains("encodings.zstd.level"), "{e}");
}

/// An upstream that sends a chunked head of `content_type` at once, then
/// after `wait` one chunk of `first` and the end.
async fn late_upstream(
    content_type: &'static str,
    first: String,
    wait: std::time::Duration,
) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let first = first.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf).await;
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n");
                let _ = c.write_all(head.as_bytes()).await;
                tokio::time::sleep(wait).await;
                let msg = format!("{:x}\r\n{first}\r\n0\r\n\r\n", first.len());
                let _ = c.write_all(msg.as_bytes()).await;
            });
        }
    });
    addr
}

/// The raw answer to a gzip-accepting GET, and how long its head took.
async fn timed_head(addr: std::net::SocketAddr) -> (String, std::time::Duration) {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let began = std::time::Instant::now();
    let mut buf = vec![0u8; 8192];
    let n = c.read(&mut buf).await.unwrap();
    let took = began.elapsed();
    let mut out = buf[..n].to_vec();
    let _ = c.read_to_end(&mut out).await;
    (String::from_utf8_lossy(&out).into_owned(), took)
}

/// A stream of unknown length is decided at its first piece, as Caddy's
/// encode decides at the first write (encode.go responseWriter.Write;
/// sse_test.go): the head waits for it and a piece not above
/// `minimum_length` goes out uncompressed; a longer one is compressed; an
/// event stream's head goes out at once, compressed
/// (TestSSEHeadersFlushedBeforeBody, TestNonSSESmallResponseStillBuffersHeader).
#[tokio::test]
async fn streams_of_unknown_length_are_decided_at_their_first_piece() {
    let wait = std::time::Duration::from_millis(600);
    let proxy = |up: std::net::SocketAddr| {
        start_routes(json!([{"handle": [encode(json!({"minimum_length": 512})),
            {"handler": "reverse_proxy", "upstreams": [{"dial": up.to_string()}]}]}]))
    };
    let s = proxy(late_upstream("text/plain", "data: hello".into(), wait).await);
    let (out, took) = timed_head(s.addr).await;
    assert!(
        took >= wait - std::time::Duration::from_millis(100),
        "head withheld: {took:?}"
    );
    assert!(!out.to_lowercase().contains("content-encoding"), "{out}");
    assert!(out.contains("data: hello"), "{out}");
    let s = proxy(late_upstream("text/plain", text(600), wait).await);
    let (out, _) = timed_head(s.addr).await;
    assert!(
        out.to_lowercase().contains("content-encoding: gzip"),
        "{out}"
    );
    let s = proxy(late_upstream("text/event-stream", "data: hi\n\n".into(), wait).await);
    let (out, took) = timed_head(s.addr).await;
    assert!(took < wait / 2, "event stream head at once: {took:?}");
    assert!(
        out.to_lowercase().contains("content-encoding: gzip"),
        "{out}"
    );
}
