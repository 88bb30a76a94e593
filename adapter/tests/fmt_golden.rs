//! Golden tests for `bellhop fmt`.
//!
//! - Every `testdata/fmt/NAME.caddyfile` must format to exactly
//!   `testdata/fmt/NAME.formatted` (taken from `caddy fmt`; heredoc cases,
//!   which Caddy 2.6.2 cannot format, follow current Caddy by hand). Run with
//!   `UPDATE_EXPECT=1` to rewrite the expectations from our output.
//! - Formatting is idempotent on every Caddyfile found under `testdata/`
//!   (`*.caddyfile`, and the Caddyfile part of `*.caddyfiletest`) and in the
//!   shared conformance folder, when that folder exists
//!   (`BELLHOP_CONFORMANCE_DIR` overrides its place, e.g. in a worktree).

use bellhop_adapter::syntax::format::format;
use std::fs;
use std::path::{Path, PathBuf};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata");
const CONFORMANCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conformance/caddyfile_adapt"
);

/// All files under `dir` (recursively) whose name ends with `suffix`, sorted.
fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("reading a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The Caddyfile part of a `.caddyfiletest`: everything before the first
/// line whose trimmed text is ten dashes.
fn caddyfile_part(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.trim() == "----------" {
            break;
        }
        out.push_str(line);
    }
    out
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn fmt_cases_match_their_expected_output() {
    let dir = Path::new(TESTDATA).join("fmt");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let cases = files_with_suffix(&dir, ".caddyfile");
    assert!(cases.len() >= 25, "only {} fmt cases", cases.len());
    let mut failures = Vec::new();
    for input_path in &cases {
        let expected_path = input_path.with_extension("formatted");
        let got = format(&read(input_path));
        if update {
            fs::write(&expected_path, &got).expect("writing an expectation");
            continue;
        }
        let want = read(&expected_path);
        if got != want {
            failures.push(format!(
                "{}:\n--- want\n{want:?}\n--- got\n{got:?}",
                input_path.display()
            ));
        }
        assert_eq!(
            format(&want),
            want,
            "{} is no fixed point",
            expected_path.display()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Checks format(format(x)) == format(x) on each file; returns the count.
fn check_idempotent(paths: &[PathBuf], extract: fn(&str) -> String) -> usize {
    let mut failures = Vec::new();
    for path in paths {
        let once = format(&extract(&read(path)));
        let twice = format(&once);
        if once != twice {
            failures.push(format!(
                "{}:\n--- once\n{once:?}\n--- twice\n{twice:?}",
                path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "not idempotent:\n{}",
        failures.join("\n\n")
    );
    paths.len()
}

#[test]
fn fmt_is_idempotent_on_every_caddyfile() {
    let mut checked = 0;
    let mut dirs = vec![PathBuf::from(TESTDATA)];
    let conformance = std::env::var_os("BELLHOP_CONFORMANCE_DIR")
        .map_or_else(|| PathBuf::from(CONFORMANCE), PathBuf::from);
    if conformance.is_dir() {
        dirs.push(conformance);
    }
    for dir in &dirs {
        checked += check_idempotent(&files_with_suffix(dir, ".caddyfile"), str::to_owned);
        checked += check_idempotent(&files_with_suffix(dir, ".caddyfiletest"), caddyfile_part);
    }
    println!("fmt idempotence: {checked} files checked");
    assert!(checked > 0, "no Caddyfile found under {TESTDATA}");
}

#[test]
fn caddyfile_part_stops_at_the_dashes() {
    let text = "a {\n\tb\n}\n  ----------  \n{\"x\":1}\n----------\n";
    assert_eq!(caddyfile_part(text), "a {\n\tb\n}\n");
    assert_eq!(caddyfile_part("no dashes"), "no dashes");
}
