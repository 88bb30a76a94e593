//! Lexer tests: Caddy's token rules (words, quotes, backticks, heredocs,
//! comments, escapes, line counting) and its heredoc error wording.

use super::{pest_error, tokenize, CaddyfileGrammar, Rule};
use crate::syntax::token::{Quote, SourceFile, Token};
use pest::Parser;

fn lex(input: &str) -> Vec<Token> {
    tokenize(SourceFile::new("Caddyfile", input)).expect("lexes")
}

/// `text@line` for each token.
fn lines(input: &str) -> Vec<String> {
    lex(input)
        .iter()
        .map(|t| format!("{}@{}", t.text, t.line))
        .collect()
}

fn texts(input: &str) -> Vec<String> {
    lex(input).into_iter().map(|t| t.text).collect()
}

fn lex_err(input: &str) -> String {
    match tokenize(SourceFile::new("Caddyfile", input)) {
        Ok(t) => panic!("expected an error, got {t:?}"),
        Err(e) => e.message,
    }
}

#[test]
fn words_split_on_white_space_and_track_lines() {
    assert_eq!(
        lines("host:123 {\n\tdir1 a b\n}\n"),
        ["host:123@1", "{@1", "dir1@2", "a@2", "b@2", "}@3"]
    );
    assert_eq!(
        texts("a\u{a0}b\u{2003}c"),
        ["a", "b", "c"],
        "unicode spaces"
    );
    assert!(lex("  \n\t\n").is_empty());
}

#[test]
fn columns_and_spans_point_at_the_source() {
    let toks = lex("ab  cd\n  \"e f\"");
    assert_eq!(
        (toks[1].line, toks[1].column, toks[1].span.clone()),
        (1, 5, 4..6)
    );
    assert_eq!((toks[2].line, toks[2].column), (2, 3));
    assert_eq!(&toks[2].file.text[toks[2].span.clone()], "\"e f\"");
}

#[test]
fn double_quotes_span_lines_and_escape_only_quotes() {
    let toks = lex("a \"b c\" \"x\\\"y\" \"multi\nline\" next");
    let got: Vec<_> = toks.iter().map(|t| (t.text.as_str(), t.line)).collect();
    assert_eq!(
        got,
        [
            ("a", 1),
            ("b c", 1),
            ("x\"y", 1),
            ("multi\nline", 1),
            ("next", 2)
        ]
    );
    assert_eq!(toks[1].quote, Quote::Double);
    assert_eq!(
        texts(r#""a\nb" "c\\d""#),
        [r"a\nb", r"c\\d"],
        "other escapes kept"
    );
    assert_eq!(texts("\"\""), [""], "empty quoted token exists");
}

#[test]
fn quotes_inside_words_are_literal() {
    assert_eq!(texts(r#"a"b"c d"e f"#), [r#"a"b"c"#, r#"d"e"#, "f"]);
    assert_eq!(
        texts(r#""ab"cd"#),
        ["ab", "cd"],
        "a closing quote ends the token"
    );
}

#[test]
fn unclosed_quotes_at_eof_follow_caddy() {
    let toks = lex("a \"bc");
    assert_eq!((toks[1].text.as_str(), toks[1].quote), ("bc", Quote::None));
    assert_eq!(texts("a \""), ["a"], "empty unclosed quote yields nothing");
    assert_eq!(texts("a `xy"), ["a", "xy"]);
}

#[test]
fn backticks_are_raw() {
    let toks = lex("`a \"b\" \\c`  `multi\nline` z");
    assert_eq!(toks[0].text, "a \"b\" \\c");
    assert_eq!(toks[0].quote, Quote::Backtick);
    assert_eq!(toks[1].text, "multi\nline");
    assert_eq!(toks[2].line, 2);
}

#[test]
fn comments_only_at_token_start() {
    assert_eq!(texts("a # comment\nb#not c"), ["a", "b#not", "c"]);
    assert_eq!(texts("#whole line\n  # indented\nx"), ["x"]);
    assert_eq!(texts("\"#quoted\""), ["#quoted"]);
}

#[test]
fn backslash_escapes_in_words() {
    assert_eq!(texts(r"a\b \{host} \\x"), [r"a\b", r"\{host}", r"\\x"]);
    assert_eq!(texts(r"\<<EOF"), ["<<EOF"], "escaped heredoc opener");
    assert_eq!(texts("a\r\nb\r\n"), ["a", "b"], "CR is ignored");
}

#[test]
fn escaped_newlines_continue_the_logical_line() {
    assert_eq!(lines("a \\\n  b\nc"), ["a@1", "b@1", "c@3"]);
    assert_eq!(lines("a\\\nb\nc"), ["a@1", "b@1", "c@3"]);
    assert_eq!(lines("a \\ \r\n b"), ["a@1", "b@1"]);
    // as in Caddy, a backslash in a comment escapes the comment's line end
    assert_eq!(lines("a # C:\\dir\nb\nc"), ["a@1", "b@1", "c@3"]);
}

#[test]
fn braces_are_ordinary_tokens() {
    assert_eq!(texts("a{ { } {}"), ["a{", "{", "}", "{}"]);
}

#[test]
fn byte_order_mark_is_dropped() {
    assert_eq!(texts("\u{FEFF}a b"), ["a", "b"]);
}

#[test]
fn heredoc_strips_closing_marker_indentation() {
    let toks = lex("respond <<EOF\n    Hello\n      World\n\n    EOF 200\nnext");
    assert_eq!(toks[1].text, "Hello\n  World\n");
    assert_eq!(toks[1].quote, Quote::Heredoc);
    assert_eq!(toks[1].heredoc_marker.as_deref(), Some("EOF"));
    assert_eq!(
        (toks[2].text.as_str(), toks[2].line),
        ("200", 5),
        "token after marker"
    );
    assert_eq!(toks[3].line, 6);
    assert_eq!(toks[1].num_line_breaks(), 4);
}

#[test]
fn heredoc_edge_cases() {
    assert_eq!(texts("<<END\nEND"), [""]);
    assert_eq!(texts("a <<END\r\n  x\r\n  END"), ["a", "x"], "CRLF");
    assert_eq!(texts("<< x"), ["<<", "x"], "<< then a space is a word");
    assert_eq!(texts("a <<EOF"), ["a", "<<EOF"], "no line break: a word");
    assert_eq!(
        texts("a <<EOF\n"),
        ["a"],
        "empty unterminated heredoc: nothing"
    );
    assert_eq!(texts("\"<<EOF\""), ["<<EOF"]);
}

#[test]
fn heredoc_errors_use_caddys_wording() {
    assert_eq!(
        lex_err(":80\n\nhandle {\n    respond <<<END\n    Hello\n    END\n}"),
        "too many '<' for heredoc on line #4; only use two, for example <<END"
    );
    assert_eq!(
        lex_err(":80\n\nhandle {\n\trespond <<END\n\tline1\n\tline2\n  END\n}"),
        "mismatched leading whitespace in heredoc <<END on line #5 [\tline1], \
         expected whitespace [  ] to match the closing marker"
    );
    assert_eq!(
        lex_err(":80\n\nhandle {\n    respond <<EOF\n    Hello\n# missing EOF marker\n}"),
        "mismatched leading whitespace in heredoc <<EOF on line #5 [    Hello], \
         expected whitespace [# missing ] to match the closing marker"
    );
    assert_eq!(
        lex_err("respond <<\nx"),
        "missing opening heredoc marker on line #1; must contain only alpha-numeric \
         characters, dashes and underscores; got empty string"
    );
    assert_eq!(
        lex_err("a\nrespond <<E$F\nx\nE$F"),
        "heredoc marker on line #2 must contain only alpha-numeric characters, dashes \
         and underscores; got 'E$F'"
    );
    assert_eq!(
        lex_err("respond <<EOF\nhello\nworld\n"),
        "incomplete heredoc <<EOF on line #4, expected ending marker EOF"
    );
}

#[test]
fn heredoc_errors_label_the_source() {
    let err = tokenize(SourceFile::new("Caddyfile", "x <<<END\nEND")).unwrap_err();
    let span = err.span().expect("span");
    assert_eq!(span.offset(), 2);
    assert!(err.help_text().is_some_and(|h| h.contains("<<END")));
}

#[test]
fn pest_errors_name_rules_in_plain_words() {
    let file = SourceFile::new("Caddyfile", "abc");
    let err = CaddyfileGrammar::parse(Rule::dquote, &file.text).unwrap_err();
    let err = pest_error(&file, err, 0);
    assert!(
        err.message.contains("expected a \"double-quoted\" string"),
        "{}",
        err.message
    );
    assert!(err.message.ends_with("at Caddyfile:1:1"), "{}", err.message);
}

#[test]
fn arbitrary_text_always_lexes() {
    for input in [
        "\\",
        "\\ ",
        "\"\\",
        "<<",
        "<<<",
        "`",
        "# \\",
        "\\#x\ny",
        "\\\"a\"b\"",
    ] {
        tokenize(SourceFile::new("Caddyfile", input)).expect(input);
    }
    assert_eq!(texts("\\\"a\"b\""), ["\\a", "b\""]);
}

#[test]
fn lexing_resumes_after_each_heredoc() {
    let toks = lex("a <<X\n1\nX b <<Y\n  2\n  Y\nc \"q\" d\\e");
    let got: Vec<_> = toks.iter().map(|t| (t.text.as_str(), t.line)).collect();
    assert_eq!(
        got,
        [
            ("a", 1),
            ("1", 1),
            ("b", 3),
            ("2", 3),
            ("c", 6),
            ("q", 6),
            ("d\\e", 6)
        ]
    );
    assert_eq!(&toks[3].file.text[toks[3].span.clone()], "<<Y\n  2\n  Y");
}

#[test]
fn plain_runs_and_special_words_mix() {
    assert_eq!(
        texts("x a\\b \"c\" <p> #d\ne\tf  g"),
        ["x", "a\\b", "c", "<p>", "e", "f", "g"]
    );
    let toks = lex("ab\tcd  ef");
    let cols: Vec<_> = toks.iter().map(|t| (t.column, t.span.clone())).collect();
    assert_eq!(cols, [(1, 0..2), (4, 3..5), (8, 7..9)]);
}
