//! Import tests: snippets, files relative to the importing file, globs,
//! arguments, `{block}` / `{blocks.NAME}`, cycles, import chains, limits.

use crate::syntax::{parse_with_env, Parsed};
use std::path::PathBuf;

/// A fresh directory under the system temp dir for one test, removed
/// when the test ends.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(name: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("bellhop-imports-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    TempDir(d)
}

fn write(dir: &std::path::Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse_in(dir: &std::path::Path, input: &str) -> crate::Result<Parsed> {
    let name = dir.join("Caddyfile");
    parse_with_env(&name.to_string_lossy(), input, &no_env)
}

fn parse(input: &str) -> crate::Result<Parsed> {
    parse_with_env("Caddyfile", input, &no_env)
}

/// Segment texts of the first block.
fn segs(p: &Parsed) -> Vec<String> {
    p.blocks[0]
        .segments
        .iter()
        .map(|s| {
            s.iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn snippet_import_records_the_chain() {
    let p = parse("(s) {\n respond hi\n}\na {\n log\n import s\n}").unwrap();
    assert_eq!(segs(&p), ["log", "respond hi"]);
    let t = &p.blocks[0].segments[1][0];
    assert_eq!(t.snippet.as_deref(), Some("s"));
    assert_eq!(t.imports.len(), 1);
    assert_eq!(t.imports[0].to_string(), "'Caddyfile:6 (import s)'");
    assert_eq!(t.line, 2, "tokens keep their own line");
}

#[test]
fn args_in_all_forms() {
    let input =
        "(s) {\n a {args[0]} {args.1}\n b {args[:]}\n c {args[1:]}\n d x{args[0]}y {args[9]}\n}\n\
                 site {\n import s one two three\n}";
    let p = parse(input).unwrap();
    assert_eq!(
        segs(&p),
        [
            "a one two",
            "b one two three",
            "c two three",
            "d xoney {args[9]}"
        ]
    );
    let warnings: Vec<String> = p.warnings.iter().map(|w| w.message.clone()).collect();
    assert!(
        warnings.iter().any(|w| w.contains("{args.1} deprecated")),
        "{warnings:?}"
    );
    assert!(warnings
        .iter()
        .any(|w| w.contains("{args[9]} index is out of bounds")));
}

#[test]
fn args_leave_other_placeholders_alone() {
    let p = parse("(s) {\n respond {env.FOO} {args[0]}\n}\na {\n import s x\n}").unwrap();
    assert_eq!(segs(&p), ["respond {env.FOO} x"]);
}

#[test]
fn block_and_blocks_placeholders() {
    let input = "(s) {\n header {\n  {block}\n }\n h2 {\n  {blocks.foo}\n }\n {blocks.none}\n}\n\
                 a {\n import s {\n  foo {\n   X-A 1\n  }\n }\n}";
    let p = parse(input).unwrap();
    assert_eq!(segs(&p), ["header { foo { X-A 1 } }", "h2 { X-A 1 }"]);
}

#[test]
fn anonymous_import_blocks_are_rejected() {
    let e = parse("(s) {\n {block}\n}\nimport s x {\n {\n  a b\n }\n}").unwrap_err();
    assert!(
        e.message.contains("anonymous blocks are not supported"),
        "{}",
        e.message
    );
}

#[test]
fn cycles_are_reported_with_caddys_message() {
    let e = parse(
        "(import1) {\n\timport import2\n}\n\n(import2) {\n\timport import1\n}\n\nimport import1\n",
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "a cycle of imports exists between Caddyfile:import2 and Caddyfile:import1"
    );
    assert!(e.span().is_some());
}

#[test]
fn files_resolve_relative_to_the_importing_file() {
    let d = dir("relative");
    write(&d, "sub/one.caddy", "respond one\nimport ../two.caddy");
    write(&d, "two.caddy", "respond two");
    let p = parse_in(&d, "a {\n import sub/one.caddy\n}").unwrap();
    assert_eq!(segs(&p), ["respond one", "respond two"]);
    let t = &p.blocks[0].segments[1][0];
    assert!(t.file.name.ends_with("/two.caddy"), "{}", t.file.name);
    assert_eq!(t.imports.len(), 1);
    assert!(t.imports[0].to_string().ends_with("one.caddy:2 (import)'"));
}

#[test]
fn globs_match_sorted_and_skip_dotfiles() {
    let d = dir("glob");
    write(&d, "conf/b.caddy", "b.example {\n respond b\n}");
    write(&d, "conf/a.caddy", "a.example {\n respond a\n}");
    write(&d, "conf/.hidden", "hidden {\n}");
    let p = parse_in(&d, "import conf/*").unwrap();
    let keys: Vec<_> = p.blocks.iter().map(|b| b.keys[0].text.clone()).collect();
    assert_eq!(keys, ["a.example", "b.example"]);
}

#[test]
fn glob_without_match_warns_missing_file_errors() {
    let d = dir("missing");
    let p = parse_in(&d, "import nothing/*.caddy\na {\n respond x\n}").unwrap();
    assert_eq!(
        p.warnings[0].message,
        "No files matching import glob pattern: nothing/*.caddy"
    );
    let e = parse_in(&d, "a {\n import nope.caddy\n}").unwrap_err();
    assert!(
        e.message
            .starts_with("File to import not found: nope.caddy, at "),
        "{}",
        e.message
    );
    let e = parse_in(&d, "import a*/b*").unwrap_err();
    assert!(e
        .message
        .contains("Glob pattern may only contain one wildcard (*)"));
}

#[test]
fn file_cycles_and_lex_errors_in_imports() {
    let d = dir("filecycle");
    write(&d, "x.caddy", "import y.caddy");
    write(&d, "y.caddy", "import x.caddy");
    let e = parse_in(&d, "import x.caddy").unwrap_err();
    assert!(
        e.message.starts_with("a cycle of imports exists between"),
        "{}",
        e.message
    );
    write(&d, "bad.caddy", "respond <<<END\nEND");
    let e = parse_in(&d, "a {\n import bad.caddy\n}").unwrap_err();
    assert!(e.message.contains("Could not read tokens while importing"));
    assert!(e.message.contains("too many '<' for heredoc on line #1"));
}

#[test]
fn import_argument_errors() {
    let e = parse("a {\n import\n}").unwrap_err();
    assert!(e
        .message
        .contains("wrong argument count or unexpected line ending after 'import'"));
    let e = parse("a {\n import \"\"\n}").unwrap_err();
    assert!(e.message.contains("Import requires a non-empty filepath"));
}

#[test]
fn snippets_inside_imported_files_keep_placeholders() {
    let d = dir("filesnippet");
    write(
        &d,
        "snips.caddy",
        "(s) {\n header {\n  {block}\n  X {args[0]}\n }\n}",
    );
    let p = parse_in(
        &d,
        "import snips.caddy outer\na {\n import s inner {\n  Y 1\n }\n}",
    )
    .unwrap();
    assert_eq!(segs(&p), ["header { Y 1 X inner }"]);
}

#[test]
fn import_explosion_is_bounded() {
    let mut input = String::from("(s0) {\n a b c d e f g h\n}\n");
    for i in 1..24 {
        input.push_str(&format!(
            "(s{i}) {{\n import s{p}\n import s{p}\n}}\n",
            p = i - 1
        ));
    }
    input.push_str("x {\n import s23\n}\n");
    let e = parse(&input).unwrap_err();
    assert!(
        e.message.contains("imports expand to more than"),
        "{}",
        e.message
    );
}

#[test]
fn imports_at_top_level_bring_whole_sites() {
    let p = parse("(site) {\n {args[0]} {\n  respond {args[1]}\n }\n}\nimport site a.example hi\nimport site b.example yo")
        .unwrap();
    let got: Vec<_> = p
        .blocks
        .iter()
        .map(|b| (b.keys[0].text.clone(), segs_of(b)))
        .collect();
    assert_eq!(
        got,
        [
            ("a.example".to_string(), vec!["respond hi".to_string()]),
            ("b.example".to_string(), vec!["respond yo".to_string()])
        ]
    );
}

fn segs_of(b: &crate::syntax::ServerBlock) -> Vec<String> {
    b.segments
        .iter()
        .map(|s| {
            s.iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}
