//! The browse page in a real browser: `bellhop file-server --browse`
//! serves a folder, Debian's Chromium (headless; `tools/test.sh` installs
//! it) loads the listing, and the test reads the DOM Chromium built: the
//! entries with their sizes and links, the sorting links and the order
//! they give, the grid layout, and the filter, which only runs when the
//! page's script passed its own Content-Security-Policy. A screenshot is
//! taken as README's is.

mod common;
use common::free_port;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(root: &Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(["file-server", "--browse", "--root"])
        .arg(root)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "file-server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    s
}

/// Headless Chromium with the flags this sandbox needs (no network
/// beyond loopback, a fresh profile each run).
fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    let bin = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|b| Path::new(b).exists())
        .expect("Chromium is needed for this test: apt-get install chromium (tools/test.sh does)");
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("running chromium")
}

fn dom(profile: &Path, url: &str) -> String {
    let out = chromium(profile, &["--dump-dom", url]);
    assert!(out.status.success(), "chromium --dump-dom {url} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `data-name`s of the entries, in page order, with whether each is
/// hidden.
fn entries(dom: &str) -> Vec<(String, bool)> {
    dom.match_indices(" data-name=\"")
        .filter(|(i, _)| dom[..*i].ends_with("<tr") || dom[..*i].ends_with("<li"))
        .map(|(i, m)| {
            let rest = &dom[i + m.len()..];
            let name = &rest[..rest.find('"').unwrap()];
            let tag = &rest[..rest.find('>').unwrap()];
            (name.to_string(), tag.contains(" hidden"))
        })
        .collect()
}

fn names(dom: &str) -> Vec<String> {
    entries(dom).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn browse_page_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("photo.jpg"), vec![7u8; 120_000]).unwrap();
    std::fs::write(root.join("Report 2026.pdf"), vec![1u8; 5_000]).unwrap();
    std::fs::write(root.join("notes.txt"), "twelve bytes").unwrap();
    std::fs::write(root.join("a&b<c>.txt"), "x").unwrap();
    let port = free_port();
    let _server = serve(&root, port);
    let base = format!("http://127.0.0.1:{port}/");
    let profile = dir.path().join("profile");

    // The default order: folders first, then names without case.
    let page = dom(&profile, &base);
    assert_eq!(
        names(&page),
        [
            "docs/",
            "a&amp;b&lt;c&gt;.txt",
            "notes.txt",
            "photo.jpg",
            "report 2026.pdf"
        ]
    );
    for want in [
        // Names escaped, links relative and escaped.
        r#"<a href="./a&amp;b%3Cc%3E.txt" class="t-text">"#,
        r#"<span class="label">a&amp;b&lt;c&gt;.txt</span>"#,
        r#"<a href="./Report%202026.pdf" class="t-pdf">"#,
        // Human-readable sizes, the largest file with the full bar.
        r#"<span class="n">117 KiB</span>"#,
        r#"<span class="n">4.9 KiB</span>"#,
        r#"<span class="n">12 B</span>"#,
        r#"<rect width="100" height="1"></rect></svg>"#,
        // The summary and the sorting links (name is the current one).
        "1 folder, 4 files, 122 KiB in total",
        r#"<th scope="col" class="name" aria-sort="ascending"><a href="?sort=namedirfirst&amp;order=desc" aria-current="true">"#,
        r#"<a href="?sort=size&amp;order=asc">Size</a>"#,
        r#"<a href="?sort=time&amp;order=asc">Modified</a>"#,
        r#"<time datetime=""#,
    ] {
        assert!(page.contains(want), "the page lacks {want}:\n{page}");
    }
    // The script ran (its nonce passed the page's CSP): the filter shows.
    assert!(
        page.contains(r#"<label class="filter">"#),
        "the filter is still hidden: the page's script did not run"
    );

    // Sorted by size, largest first; folders go last.
    let page = dom(&profile, &format!("{base}?sort=size&order=desc"));
    assert_eq!(
        names(&page),
        [
            "photo.jpg",
            "report 2026.pdf",
            "notes.txt",
            "a&amp;b&lt;c&gt;.txt",
            "docs/"
        ]
    );
    assert!(page.contains(r#"<th scope="col" class="size" aria-sort="descending">"#));

    // The filter from the address hides what does not match.
    let page = dom(&profile, &format!("{base}?sort=name#filter=NOT"));
    let shown: Vec<_> = entries(&page)
        .into_iter()
        .filter(|(_, hidden)| !hidden)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(shown, ["notes.txt"], "{page}");
    assert!(page.contains("1 of 5 shown"));

    // The grid layout, with its own sorting links; a folder lists its parent.
    let page = dom(&profile, &format!("{base}docs/?layout=grid"));
    assert!(page.contains(r#"<ul class="grid">"#));
    assert!(page.contains(r#"<li class="up"><a href="..">"#));
    assert!(page.contains(r#"<nav class="sorts" aria-label="Sort by">"#));
    assert!(page.contains("Nothing to list here."));

    // A screenshot, as README's (docs/browse.png) was taken.
    let shot = dir.path().join("browse.png");
    let out = chromium(
        &profile,
        &[
            "--window-size=1000,560",
            &format!("--screenshot={}", shot.display()),
            &format!("{base}?sort=size&order=desc"),
        ],
    );
    assert!(out.status.success());
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
}
