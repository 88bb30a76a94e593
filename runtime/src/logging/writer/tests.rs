//! Tests of the file writer: rolling by size and by time, compression of
//! rolled files, pruning.

use super::rolling::Rolling;
use super::{FileConfig, Writer};
use serde_json::json;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Waits until `done` holds for the directory's names (10 s at most).
fn wait_for(dir: &Path, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let start = Instant::now();
    loop {
        let n = names(dir);
        if done(&n) {
            return n;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "gave up: {n:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn file_writer(path: &Path, extra: serde_json::Value) -> Writer {
    let mut conf = json!({"output": "file", "filename": path.display().to_string()});
    conf.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    Writer::provision("file", &conf, "logging.logs.x.writer").unwrap()
}

fn decompress(p: &PathBuf) -> Vec<u8> {
    let raw = std::fs::read(p).unwrap();
    let mut out = Vec::new();
    if p.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
    } else {
        out = zstd::stream::decode_all(&raw[..]).unwrap();
    }
    out
}

/// Writes 1.2 MiB of numbered lines to a file rolling at 1 MiB and checks
/// the one rolled file is compressed with `suffix` and, decompressed and
/// followed by the current file, gives back every line in order.
fn size_roll_compresses(extra: serde_json::Value, suffix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let w = file_writer(&path, extra);
    let mut expected = Vec::new();
    for i in 0..12_000 {
        let line = format!("{{\"n\":{i:08},\"pad\":\"{}\"}}\n", "x".repeat(80));
        expected.extend_from_slice(line.as_bytes());
        w.write(line.into_bytes());
    }
    drop(w);
    let n = wait_for(dir.path(), |n| {
        n.len() == 2
            && n.iter().any(|f| f.ends_with(suffix))
            && std::fs::read(&path).is_ok_and(|b| !b.is_empty())
    });
    let rolled = dir
        .path()
        .join(n.iter().find(|f| f.ends_with(suffix)).unwrap());
    assert!(rolled.to_string_lossy().contains("access-"), "{n:?}");
    let mut all = decompress(&rolled);
    // The writer thread hands the file buffered chunks (64 KiB), and the
    // size check is per chunk.
    assert!(
        all.len() <= 1024 * 1024 && all.len() > 900 * 1024,
        "{}",
        all.len()
    );
    assert!(all.ends_with(b"}\n"), "a line was split across files");
    all.extend(wait_stable(&path, expected.len() - all.len()));
    assert!(all == expected, "rolled + current != written");
}

/// The file's content once it has `len` bytes.
fn wait_stable(path: &Path, len: usize) -> Vec<u8> {
    let start = Instant::now();
    loop {
        let b = std::fs::read(path).unwrap();
        if b.len() >= len || start.elapsed() > Duration::from_secs(10) {
            return b;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn size_roll_gzip_by_default() {
    size_roll_compresses(json!({"roll_size_mb": 1}), ".log.gz");
}

#[test]
fn size_roll_zstd() {
    size_roll_compresses(
        json!({"roll_size_mb": 1, "roll_compression": "zstd", "roll_gzip": false}),
        ".log.zst",
    );
}

#[test]
fn time_roll_by_interval_without_further_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let w = file_writer(
        &path,
        json!({"roll_interval": "300ms", "roll_compression": "none"}),
    );
    w.write(b"first\n".to_vec());
    // The writer thread wakes at the deadline and rolls on its own.
    let n = wait_for(dir.path(), |n| n.len() == 2);
    let rolled = n.iter().find(|f| f.as_str() != "app.log").unwrap();
    assert!(
        rolled.starts_with("app-") && rolled.ends_with(".log"),
        "{n:?}"
    );
    assert_eq!(std::fs::read(dir.path().join(rolled)).unwrap(), b"first\n");
    assert_eq!(std::fs::read(&path).unwrap(), b"");
    w.write(b"second\n".to_vec());
    assert_eq!(wait_stable(&path, 7), b"second\n");
    // An empty file is not rolled: nothing new after another period.
    std::thread::sleep(Duration::from_millis(400));
    let after = names(dir.path());
    assert!(after.len() <= 3, "{after:?}");
    drop(w);
}

#[test]
fn legacy_roll_gzip_false_and_bad_compression() {
    let dir = tempfile::tempdir().unwrap();
    let conf = json!({"output": "file", "filename": dir.path().join("a.log").display().to_string(),
        "roll_compression": "brotli"});
    let e = Writer::provision("file", &conf, "w").err().unwrap();
    assert!(e.to_string().contains("w.roll_compression"), "{e}");
}

#[test]
fn rolls_by_size_and_keeps_roll_keep_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let conf = json!({"output": "file", "filename": path.display().to_string(),
        "roll_keep": 2, "roll_gzip": false});
    let c: FileConfig = serde_json::from_value(conf).unwrap();
    let mut r = Rolling::open(&c, "w").unwrap();
    r.max = Some(100);
    for i in 0..5 {
        r.write_all(&[b'a' + i; 60]).unwrap();
        r.write_all(&[b'a' + i; 60]).unwrap();
        std::thread::sleep(Duration::from_millis(3));
    }
    let names = names(dir.path());
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names
        .iter()
        .all(|n| n.starts_with("access") && n.ends_with(".log")));
    assert_eq!(std::fs::read(&path).unwrap(), vec![b'e'; 60]);
    let newest_backup = dir.path().join(&names[1]);
    assert_eq!(std::fs::read(newest_backup).unwrap(), vec![b'e'; 60]);
}
