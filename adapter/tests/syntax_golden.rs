//! Golden tests of the syntax layer: every `testdata/syntax/*.caddyfiletest`.
//!
//! A case is a Caddyfile, a line of ten dashes, then either the expected
//! `bellhop_adapter::syntax::dump` of the parse (blocks and warnings) or,
//! when parsing must fail, a fragment the error message must contain
//! (Caddy's format). Each case is parsed as `testdata/syntax/Caddyfile`,
//! so relative imports find the fixtures in `testdata/syntax/imports/`;
//! that directory's path is removed from outputs before comparing. `{$VAR}`
//! values come from [`env`], not the process environment.
//!
//! `UPDATE_EXPECT=1 cargo test --test syntax_golden` rewrites the dumps
//! (and empty expectations) from the current output; hand-written error
//! fragments are kept. Review the diff!

use bellhop_adapter::syntax::{dump, parse_with_env};
use std::path::{Path, PathBuf};

const SEPARATOR: &str = "----------";

/// The environment the cases see.
fn env(name: &str) -> Option<String> {
    let value = match name {
        "HOSTS" => "a.example b.example",
        "PORT" => "8080",
        "SITE_BODY" => "respond \"from env\"",
        "EMPTY" => "",
        _ => return None,
    };
    Some(value.to_string())
}

fn case_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/syntax")
}

/// What parsing the case yields: `Ok(dump)` or `Err(message)`, with the
/// case directory's path removed.
fn run(dir: &Path, input: &str) -> Result<String, String> {
    let dir = std::fs::canonicalize(dir).expect("testdata/syntax exists");
    let filename = dir.join("Caddyfile");
    let prefix = format!("{}/", dir.display());
    match parse_with_env(&filename.to_string_lossy(), input, &env) {
        Ok(parsed) => Ok(dump(&parsed).replace(&prefix, "")),
        Err(e) => Err(e.message.replace(&prefix, "")),
    }
}

#[test]
fn syntax_golden_cases() {
    let dir = case_dir();
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read testdata/syntax")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "caddyfiletest"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 45, "only {} cases", paths.len());

    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let text = std::fs::read_to_string(path).expect("read case");
        let Some((input, expected)) = split_case(&text) else {
            failures.push(format!("{name}: no `{SEPARATOR}` line"));
            continue;
        };
        let got = run(&dir, input);
        // error fragments written by hand are kept; dumps are regenerated
        if update && (got.is_ok() || expected.trim().is_empty()) {
            let body = match &got {
                Ok(d) | Err(d) => d.trim_end(),
            };
            std::fs::write(path, format!("{input}{SEPARATOR}\n{body}\n")).expect("write case");
            continue;
        }
        let expected = expected.trim();
        let ok = match &got {
            Ok(d) => d.trim() == expected,
            Err(e) => !expected.is_empty() && e.contains(expected),
        };
        if !ok {
            failures.push(format!(
                "{name}:\n--- expected\n{expected}\n--- got\n{}",
                match got {
                    Ok(d) => d,
                    Err(e) => format!("error: {e}"),
                }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
}

/// The Caddyfile (through its final line break) and the expectation.
fn split_case(text: &str) -> Option<(&str, &str)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == SEPARATOR {
            return Some((&text[..offset], &text[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}
