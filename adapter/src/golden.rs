//! Golden adapter cases in Caddy's `.caddyfiletest` format, shared by the
//! repo's golden tests and the conformance runner.
//!
//! A case is a Caddyfile, a line of ten dashes, then either the expected
//! JSON (when that part starts with `{`) or a fragment the adapter's error
//! message must contain. As in Caddy's runner, both parts are trimmed and a
//! newline is appended to the Caddyfile before adapting.

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// The separator between the Caddyfile and the expectation.
pub const SEPARATOR: &str = "----------";

/// What a case expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// The expected JSON, as written (Caddy's `json.Indent` with tabs).
    Json(String),
    /// A fragment the error message must contain.
    Error(String),
}

/// One golden case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The file stem (`import_cycle` for `import_cycle.caddyfiletest`).
    pub name: String,
    pub path: PathBuf,
    /// The Caddyfile, trimmed, with one trailing newline.
    pub caddyfile: String,
    pub expected: Expected,
}

/// How a case went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed; `identical` is true when the pretty output is byte-identical
    /// to the expectation (always true for error cases).
    Pass { identical: bool },
    /// Failed, with a reason fit for a report.
    Fail(String),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Pass { .. })
    }
}

/// Splits a case's text at the first line that is ten dashes (trailing
/// white space allowed). Returns (Caddyfile, expectation), both trimmed.
pub fn split_case(text: &str) -> Option<(String, String)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == SEPARATOR {
            let caddyfile = format!("{}\n", text[..offset].trim());
            let expected = text[offset + line.len()..].trim().to_string();
            return Some((caddyfile, expected));
        }
        offset += line.len();
    }
    None
}

/// Reads a case file.
pub fn read_case(path: &Path) -> Result<Case, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (caddyfile, expected) =
        split_case(&text).ok_or_else(|| format!("{}: no line of ten dashes", path.display()))?;
    let expected = if expected.starts_with('{') {
        Expected::Json(expected)
    } else {
        Expected::Error(expected)
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Case {
        name,
        path: path.to_path_buf(),
        caddyfile,
        expected,
    })
}

/// The `.caddyfiletest` files in `dir`, sorted by name.
pub fn case_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "caddyfiletest"))
        .collect();
    files.sort();
    Ok(files)
}

/// Checks a case against an adapter result: `Ok((value, pretty))` is the
/// adapted config and its pretty printing, `Err(message)` an adapt error.
pub fn check(case: &Case, result: Result<(Value, String), String>) -> Outcome {
    match (&case.expected, result) {
        (Expected::Error(fragment), Err(msg)) => {
            if msg.contains(fragment.as_str()) {
                Outcome::Pass { identical: true }
            } else {
                Outcome::Fail(format!("error {msg:?} does not contain {fragment:?}"))
            }
        }
        (Expected::Error(fragment), Ok(_)) => Outcome::Fail(format!(
            "expected an error containing {fragment:?}, got a config"
        )),
        (Expected::Json(_), Err(msg)) => Outcome::Fail(format!("adapt failed: {msg}")),
        (Expected::Json(text), Ok((value, pretty))) => {
            let want: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => return Outcome::Fail(format!("expected JSON does not parse: {e}")),
            };
            if want == value {
                Outcome::Pass {
                    identical: pretty.trim() == text.trim(),
                }
            } else {
                Outcome::Fail(first_difference(&want, &value, String::new()))
            }
        }
    }
}

/// A short description of the first place two JSON values differ.
pub fn first_difference(want: &Value, got: &Value, path: String) -> String {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                match g.get(k) {
                    None => return format!("{p}: missing"),
                    Some(gv) if gv != wv => return first_difference(wv, gv, p),
                    Some(_) => {}
                }
            }
            match g.keys().find(|k| !w.contains_key(*k)) {
                Some(k) => format!("{path}.{k}: unexpected"),
                None => format!("{path}: differs"),
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                if wv != gv {
                    return first_difference(wv, gv, format!("{path}[{i}]"));
                }
            }
            format!("{path}: differs")
        }
        _ => format!(
            "{}: want {}, got {}",
            if path.is_empty() { "." } else { &path },
            short(want),
            short(got)
        ),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

/// Rewrites a case file's expectation (for `UPDATE_EXPECT=1`).
pub fn rewrite_expectation(case: &Case, expectation: &str) -> Result<(), String> {
    let text = format!(
        "{}{SEPARATOR}\n{}\n",
        case.caddyfile,
        expectation.trim_end()
    );
    fs::write(&case.path, text).map_err(|e| format!("{}: {e}", case.path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_dashes_with_trailing_space() {
        let (c, e) = split_case("a {\n}\n\n---------- \n{\"x\": 1}\n").unwrap();
        assert_eq!(c, "a {\n}\n");
        assert_eq!(e, "{\"x\": 1}");
        assert!(split_case("no separator").is_none());
    }

    #[test]
    fn error_case_needs_fragment() {
        let case = Case {
            name: "t".into(),
            path: PathBuf::new(),
            caddyfile: String::new(),
            expected: Expected::Error("port 70000".into()),
        };
        assert!(check(&case, Err("x: port 70000 is out of range".into())).passed());
        assert!(!check(&case, Err("other".into())).passed());
        assert!(!check(&case, Ok((Value::Null, String::new()))).passed());
    }

    #[test]
    fn json_case_ignores_key_order_but_reports_identity() {
        let case = Case {
            name: "t".into(),
            path: PathBuf::new(),
            caddyfile: String::new(),
            expected: Expected::Json("{\"a\": 1, \"b\": 2}".into()),
        };
        let v: Value = serde_json::from_str("{\"b\": 2, \"a\": 1}").unwrap();
        assert_eq!(
            check(&case, Ok((v.clone(), "{\"b\": 2, \"a\": 1}".into()))),
            Outcome::Pass { identical: false }
        );
        let w: Value = serde_json::from_str("{\"a\": 1, \"b\": 3}").unwrap();
        assert_eq!(
            check(&case, Ok((w, String::new()))),
            Outcome::Fail(".b: want 2, got 3".into())
        );
    }
}
