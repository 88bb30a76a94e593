//! Every expected JSON in the shared conformance folder round-trips through
//! `to_go_pretty` byte for byte: parse it (key order kept), print it the
//! way Go's `json.Indent` with tabs does, compare with the file's text.
//!
//! The folder is `../../shared/conformance/caddyfile_adapt` from this crate
//! (`BELLHOP_CONFORMANCE_DIR` overrides it); the test does nothing when it
//! is missing. Cases whose expectation is an error fragment rather than a
//! JSON document (it does not start with `{`) are counted and skipped.

use bellhop_adapter::json::{to_go_pretty, to_go_string};
use serde_json::Value;
use std::path::PathBuf;

const CONFORMANCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conformance/caddyfile_adapt"
);

/// The text after the first line of ten dashes, trimmed.
fn expected_part(text: &str) -> Option<&str> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        offset += line.len();
        if line.trim() == "----------" {
            return Some(text[offset..].trim());
        }
    }
    None
}

#[test]
fn conformance_expected_json_round_trips_byte_for_byte() {
    let dir = std::env::var_os("BELLHOP_CONFORMANCE_DIR")
        .map_or_else(|| PathBuf::from(CONFORMANCE), PathBuf::from);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("reading a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "caddyfiletest"))
        .collect();
    paths.sort();
    let (mut json_cases, mut error_cases) = (0, 0);
    let mut failures = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("reading a case");
        let expected =
            expected_part(&text).unwrap_or_else(|| panic!("{}: no line of dashes", path.display()));
        if !expected.starts_with('{') {
            error_cases += 1;
            continue;
        }
        json_cases += 1;
        let value: Value = serde_json::from_str(expected)
            .unwrap_or_else(|e| panic!("{}: expected JSON: {e}", path.display()));
        if to_go_pretty(&value) != expected {
            failures.push(path.display().to_string());
        }
        let compact: Value = serde_json::from_str(&to_go_string(&value)).expect("compact parses");
        assert_eq!(compact, value, "{}", path.display());
    }
    println!("{json_cases} JSON expectations round-tripped, {error_cases} error cases skipped");
    assert!(failures.is_empty(), "not byte-identical: {failures:#?}");
    assert!(json_cases > 0, "no JSON expectation in {}", dir.display());
}

#[test]
fn expected_part_follows_the_dashes() {
    assert_eq!(expected_part("a\n----------\n{\n}\n\n"), Some("{\n}"));
    assert_eq!(expected_part("a\n"), None);
}
