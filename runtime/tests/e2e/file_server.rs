//! file_server against a real directory.

use crate::support::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("docs/sub")).unwrap();
    std::fs::write(p.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(p.join("docs/a.txt"), "0123456789").unwrap();
    std::fs::write(p.join("docs/a.txt.gz"), "gzipped-bytes").unwrap();
    std::fs::write(p.join("secret.key"), "hidden").unwrap();
    std::fs::write(p.join("big.bin"), vec![7u8; 200_000]).unwrap();
    dir
}

fn server(dir: &tempfile::TempDir, extra: serde_json::Value) -> TestServer {
    let mut h = json!({"handler": "file_server", "root": dir.path().display().to_string(),
        "hide": ["*.key"], "precompressed": {"gzip": {}}});
    for (k, v) in extra.as_object().unwrap() {
        h[k] = v.clone();
    }
    start_routes(json!([{"handle": [h]}]))
}

#[tokio::test]
async fn serves_files_indexes_and_types() {
    let dir = site();
    let s = server(&dir, json!({}));
    let r = get(s.addr, "/").await;
    assert_eq!((r.status, r.body.as_str()), (200, "<h1>home</h1>"));
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    let r = get(s.addr, "/docs/a.txt").await;
    assert_eq!(
        (r.body.as_str(), r.header("content-type")),
        ("0123456789", "text/plain; charset=utf-8")
    );
    assert_eq!(r.header("vary"), "Accept-Encoding");
    let big = get(s.addr, "/big.bin").await;
    assert_eq!(big.body.len(), 200_000, "large files stream whole");
    assert_eq!(get(s.addr, "/nope").await.status, 404);
    assert_eq!(get(s.addr, "/secret.key").await.status, 404, "hidden");
}

#[tokio::test]
async fn precompressed_sibling_when_accepted() {
    let dir = site();
    let s = server(&dir, json!({}));
    let r = get_with(s.addr, "/docs/a.txt", &[("Accept-Encoding", "br, gzip")]).await;
    assert_eq!(
        (r.header("content-encoding"), r.body.as_str()),
        ("gzip", "gzipped-bytes")
    );
}

#[tokio::test]
async fn canonical_redirects() {
    let dir = site();
    std::fs::write(dir.path().join("docs/sub/index.html"), "sub").unwrap();
    let s = server(&dir, json!({}));
    let r = get(s.addr, "/docs/sub?x=1").await;
    assert_eq!((r.status, r.header("location")), (308, "/docs/sub/?x=1"));
    // A directory without an index file is not found, as Caddy's.
    assert_eq!(get(s.addr, "/docs").await.status, 404);
    let r = get(s.addr, "/docs/a.txt/").await;
    assert_eq!((r.status, r.header("location")), (308, "/docs/a.txt"));
}

#[tokio::test]
async fn validators_and_304() {
    let dir = site();
    let s = server(&dir, json!({}));
    let r = get(s.addr, "/docs/a.txt").await;
    let etag = r.header("etag").to_string();
    assert!(etag.starts_with('"') && !r.header("last-modified").is_empty());
    let r = get_with(s.addr, "/docs/a.txt", &[("If-None-Match", &etag)]).await;
    assert_eq!((r.status, r.body.as_str()), (304, ""));
    let lm = get(s.addr, "/docs/a.txt")
        .await
        .header("last-modified")
        .to_string();
    assert_eq!(
        get_with(s.addr, "/docs/a.txt", &[("If-Modified-Since", &lm)])
            .await
            .status,
        304
    );
}

#[tokio::test]
async fn ranges() {
    let dir = site();
    let s = server(&dir, json!({}));
    let r = get_with(s.addr, "/docs/a.txt", &[("Range", "bytes=2-4")]).await;
    assert_eq!(
        (r.status, r.body.as_str(), r.header("content-range")),
        (206, "234", "bytes 2-4/10")
    );
    let r = get_with(s.addr, "/docs/a.txt", &[("Range", "bytes=-3")]).await;
    assert_eq!(r.body, "789");
    assert_eq!(
        get_with(s.addr, "/docs/a.txt", &[("Range", "bytes=50-")])
            .await
            .status,
        416
    );
}

#[tokio::test]
async fn edited_files_are_served_fresh_whatever_was_served_before() {
    let dir = site();
    let s = server(&dir, json!({}));
    let file = dir.path().join("docs/a.txt");
    assert_eq!(get(s.addr, "/docs/a.txt").await.body, "0123456789");
    // The second request may come from memory; a range slices it.
    let r = get_with(s.addr, "/docs/a.txt", &[("Range", "bytes=2-4")]).await;
    assert_eq!((r.status, r.body.as_str()), (206, "234"));
    // Rewritten in place with the same size, then replaced by a new file.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&file, "abcdefghij").unwrap();
    assert_eq!(get(s.addr, "/docs/a.txt").await.body, "abcdefghij");
    let tmp = dir.path().join("docs/next.txt");
    std::fs::write(&tmp, "replaced!").unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let r = get(s.addr, "/docs/a.txt").await;
    assert_eq!(
        (r.body.as_str(), r.header("content-length")),
        ("replaced!", "9")
    );
    // Large files are streamed, and stay whole.
    let r = get(s.addr, "/big.bin").await;
    assert_eq!(r.body.len(), 200_000);
}

#[tokio::test]
async fn never_serves_outside_root() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("outside.txt"), "leak").unwrap();
    let root = outer.path().join("www");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("in.txt"), "in").unwrap();
    let s = start_routes(
        json!([{"handle": [{"handler": "file_server", "root": root.display().to_string()}]}]),
    );
    for path in [
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/..%2foutside.txt",
        "/%2e%2e%2foutside.txt",
        "/x/..%2F..%2Foutside.txt",
    ] {
        let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        c.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).await.unwrap();
        assert!(!out.contains("leak"), "{path} escaped the root: {out}");
    }
}

#[tokio::test]
async fn browse_html_and_json() {
    let dir = site();
    let s = server(&dir, json!({"browse": {}}));
    let r = get(s.addr, "/docs/").await;
    assert!(
        r.body.contains("href=\"./a.txt\"") && r.body.contains("href=\"./sub/\""),
        "{}",
        r.body
    );
    let r = get_with(s.addr, "/docs/", &[("Accept", "application/json")]).await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    // Caddy's order and names: directories first, with a slash.
    assert_eq!(names, ["sub/", "a.txt", "a.txt.gz"]);
}

#[tokio::test]
async fn pass_thru_and_status() {
    let dir = site();
    let root = dir.path().display().to_string();
    let s = start_routes(json!([
        {"handle": [{"handler": "file_server", "root": root, "pass_thru": true, "status_code": 203}]},
        {"handle": [respond("fell through")]}
    ]));
    assert_eq!(get(s.addr, "/missing").await.body, "fell through");
    assert_eq!(get(s.addr, "/docs/a.txt").await.status, 203);
}

#[tokio::test]
async fn etags_from_sidecar_files() {
    let dir = site();
    let p = dir.path();
    std::fs::write(p.join("docs/a.txt.sha256"), "\"abc123\"\n").unwrap();
    std::fs::write(p.join("docs/a.txt.gz.b3sum"), "\"gz-tag\"\n").unwrap();
    std::fs::write(p.join("index.html.b3sum"), "\"b3\"").unwrap();
    std::fs::write(p.join("index.html.sha256"), "\"sha\"").unwrap();
    let s = server(&dir, json!({"etag_file_extensions": [".b3sum", ".sha256"]}));
    let r = get(s.addr, "/docs/a.txt").await;
    assert_eq!((r.status, r.header("etag")), (200, "\"abc123\""));
    // The first extension listed wins.
    assert_eq!(get(s.addr, "/").await.header("etag"), "\"b3\"");
    // A precompressed sibling takes the ETag of its own sidecar.
    let gz = get_with(s.addr, "/docs/a.txt", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gz.header("etag"), "\"gz-tag\"");
    // No sidecar: Caddy's own ETag (modification time and size).
    let big = get(s.addr, "/big.bin").await;
    assert!(big.header("etag").len() > 4 && big.header("etag") != "\"abc123\"");
    // Conditional requests compare against the sidecar's ETag.
    let r = get_with(s.addr, "/docs/a.txt", &[("If-None-Match", "\"abc123\"")]).await;
    assert_eq!((r.status, r.header("etag")), (304, "\"abc123\""));
    let r = get_with(s.addr, "/docs/a.txt", &[("If-None-Match", "\"other\"")]).await;
    assert_eq!(r.status, 200);
}
