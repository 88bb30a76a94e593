//! Unit tests of the Go → Rust regexp translation: each case pairs a Go
//! pattern with inputs it must and must not match, as Go's `regexp` does.

use super::{compile, translate};

fn check(go: &str, yes: &[&str], no: &[&str]) {
    let re = compile(go).unwrap_or_else(|e| panic!("{go:?} should compile: {e}"));
    for s in yes {
        assert!(re.is_match(s), "{go:?} (as {re}) should match {s:?}");
    }
    for s in no {
        assert!(!re.is_match(s), "{go:?} (as {re}) should not match {s:?}");
    }
}

#[test]
fn braces_that_are_not_repetitions_are_literal() {
    check(
        "^/{http.request.uri}",
        &["/{http.request.uri}x"],
        &["/x", "{http"],
    );
    check(":{port}", &[":{port}"], &[":443"]);
    check("a{,3}", &["a{,3}"], &["aaa"]);
    check("{", &["{"], &["x"]);
    check("x}", &["x}"], &["x"]);
    check("a{x}", &["a{x}"], &["a"]);
    check("{}", &["{}"], &[""]);
}

#[test]
fn valid_repetitions_stay_repetitions() {
    check("^a{2}$", &["aa"], &["a", "aaa"]);
    check("^a{2,}$", &["aa", "aaaa"], &["a"]);
    check("^a{1,2}$", &["a", "aa"], &["aaa"]);
    check("^(ab){2}c{1}$", &["ababc"], &["abc"]);
}

#[test]
fn perl_classes_are_ascii_only() {
    check(r"^\d+$", &["123"], &["١٢٣", "12a"]);
    check(r"^\w+$", &["abc_1"], &["é", "naïve"]);
    check(r"^\s$", &[" ", "\t"], &["\u{a0}", "\u{2003}"]);
    check(r"^\D$", &["x", "٣"], &["3"]);
    check(r"^[\d\s]+$", &["1 2"], &["1x"]);
    check(r"^[^\w]$", &["-", "é"], &["a"]);
    check(r"^[a\W]$", &["a", "é"], &["b"]);
    check(r"\bcat\b", &["a cat!"], &["concat"]);
    check(r"\Bat", &["cat"], &["at"]);
    check(r"^é\b", &[], &["é"]);
}

#[test]
fn quoting_and_literal_escapes() {
    check(r"^\Q1+1=2\E$", &["1+1=2"], &["11=2"]);
    check(r"^\Q.*", &[".*"], &["ab"]);
    check(r"^\<b\>$", &["<b>"], &["b"]);
    check(r"^\101\0$", &["A\0"], &["A"]);
    check(r"^a\.b$", &["a.b"], &["axb"]);
}

#[test]
fn classes_keep_go_meaning() {
    check("^[[]$", &["["], &["a"]);
    check("^[a&&b]+$", &["a&b"], &["c"]);
    check("^[a~~]+$", &["a~"], &[]);
    check("^[+--]$", &["+", ",", "-"], &["a"]);
    check("^[]a]+$", &["]a"], &["b"]);
    check("^[^]a]$", &["b"], &["]", "a"]);
    check("^[[:alpha:]]+$", &["abc"], &["1"]);
    check("^[[:^digit:]x]$", &["a", "x"], &["1"]);
    check("^[{}]$", &["{", "}"], &["a"]);
}

#[test]
fn shared_syntax_passes_through() {
    check(
        r"^/(?P<id>\d+)/(?<name>[a-z]+)\z",
        &["/12/ab"],
        &["/12/ab\n"],
    );
    check("(?i)^ABC$", &["abc"], &["abd"]);
    check(r"\pL+", &["é"], &["1"]);
    check(r"^\x{41}\x42$", &["AB"], &[]);
    check("(?s)a.b", &["a\nb"], &[]);
    let lazy = compile("(?U)a+").expect("(?U) compiles");
    assert_eq!(lazy.find("aaa").map(|m| m.as_str()), Some("a"));
    assert_eq!(translate("(?P<x>a)").unwrap(), "(?P<x>a)");
}

#[test]
fn go_errors_are_errors() {
    for bad in [r"\1", r"\8", "[a", "a\\", "(a", "*a"] {
        assert!(compile(bad).is_err(), "{bad:?} should fail");
    }
    check("^a{2}{$", &["aa{"], &["a{"]);
    let e = compile("(a").unwrap_err();
    assert!(e.contains("invalid regexp \"(a\""), "{e}");
}

/// Found by the `goregex` fuzz target: `[:]` inside a class made the
/// POSIX-class check slice backwards.
#[test]
fn a_colon_bracket_inside_a_class_is_not_a_posix_class() {
    // compiles or is an error, but does not panic
    let _ = compile("^!$[[:alpha:[[:]]+Lpa");
    // a class of `[` and `:`, then `x]`
    check("[[:]x]", &[":x]", "[x]"], &["x]", "a:x"]);
}
