//! Golden adapter cases of our own: every `.caddyfiletest` under
//! `testdata/http/` is adapted and compared with its expectation (pretty
//! JSON byte for byte, or an error fragment). `UPDATE_EXPECT=1` rewrites
//! the JSON expectations from the current output.

use bellhop_adapter::golden::{self, Expected, Outcome};
use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/http")
}

fn adapt(caddyfile: &str) -> Result<(serde_json::Value, String), String> {
    bellhop_adapter::adapt("Caddyfile", caddyfile)
        .map(|a| {
            let pretty = bellhop_adapter::json::to_go_pretty(&a.config);
            (a.config, pretty)
        })
        .map_err(|e| e.message)
}

#[test]
fn golden_http_cases() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let files = golden::case_files(&cases_dir()).expect("testdata/http exists");
    assert!(!files.is_empty(), "no cases in testdata/http");
    let mut failures = Vec::new();
    for path in &files {
        let case = golden::read_case(path).unwrap();
        let result = adapt(&case.caddyfile);
        if update {
            if let (Expected::Json(_), Ok((_, pretty))) = (&case.expected, &result) {
                golden::rewrite_expectation(&case, pretty).unwrap();
                continue;
            }
        }
        match golden::check(&case, result) {
            Outcome::Pass { identical: true } => {}
            Outcome::Pass { identical: false } => {
                failures.push(format!("{}: pretty output not byte-identical", case.name))
            }
            Outcome::Fail(reason) => failures.push(format!("{}: {reason}", case.name)),
        }
    }
    println!("{} golden http cases checked", files.len());
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
