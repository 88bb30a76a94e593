//! Parser tests: block structure, keys, segments, braces, and Caddy's
//! parse errors (imports are tested in `imports/tests.rs`).

use crate::syntax::{dump, parse_with_env, Parsed};

fn env(name: &str) -> Option<String> {
    match name {
        "HOSTS" => Some("a.example b.example".into()),
        "SITE" => Some("env.example {\n respond hi\n}".into()),
        _ => None,
    }
}

fn parse(input: &str) -> Parsed {
    parse_with_env("Caddyfile", input, &env).unwrap_or_else(|e| panic!("{e}"))
}

/// Keys and segment texts of each block, compactly.
fn shape(input: &str) -> Vec<String> {
    parse(input)
        .blocks
        .iter()
        .map(|b| {
            let segs: Vec<String> = b
                .segments
                .iter()
                .map(|s| {
                    s.iter()
                        .map(|t| t.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            format!("{} => {}", b.key_values().join(","), segs.join(" | "))
        })
        .collect()
}

fn err(input: &str) -> crate::Error {
    match parse_with_env("Caddyfile", input, &env) {
        Ok(p) => panic!("expected an error, got\n{}", dump(&p)),
        Err(e) => e,
    }
}

#[test]
fn site_blocks_with_segments_per_directive_line() {
    assert_eq!(
        shape("example.com {\n\troot * /srv\n\tfile_server\n}\n"),
        ["example.com => root * /srv | file_server"]
    );
}

#[test]
fn nested_blocks_belong_to_their_directive() {
    assert_eq!(
        shape("a {\n route {\n  handle {\n   respond x\n  }\n }\n log\n}"),
        ["a => route { handle { respond x } } | log"]
    );
}

#[test]
fn global_options_block_has_no_keys() {
    let p = parse("{\n\temail me@example.com\n}\n\nexample.com {\n\trespond hi\n}");
    assert!(p.blocks[0].keys.is_empty());
    assert_eq!(p.blocks[0].segments[0][0].text, "email");
    assert_eq!(p.blocks[1].key_values(), ["example.com"]);
}

#[test]
fn addresses_split_by_spaces_commas_and_lines() {
    assert_eq!(shape("a, b c,\n d {\n x\n}"), ["a,b,c,d => x"]);
    assert_eq!(shape("a , b {\n x\n}"), ["a,b => x"], "lone comma ignored");
    assert!(parse("a,\nb {\n x\n}").blocks[0].has_braces);
}

#[test]
fn single_site_needs_no_braces() {
    assert_eq!(
        shape("localhost\nrespond hi\nlog"),
        ["localhost => respond hi | log"]
    );
    assert!(!parse("localhost\nrespond hi").blocks[0].has_braces);
    assert_eq!(shape("localhost"), ["localhost => "], "addresses only");
}

#[test]
fn snippets_are_stored_not_returned() {
    assert_eq!(
        shape("(snip) {\n respond hi\n}\na {\n import snip\n}"),
        ["a => respond hi"]
    );
}

#[test]
fn named_routes_keep_their_block() {
    let p = parse("&(route1) {\n\trespond first\n}\n:80 {\n\tinvoke route1\n}");
    let b = &p.blocks[0];
    assert!(b.is_named_route);
    assert_eq!(b.key_values(), ["route1"]);
    let seg: Vec<_> = b.segments[0].iter().map(|t| t.text.as_str()).collect();
    assert_eq!(seg, ["route1", "{", "respond", "first", "}"]);
}

#[test]
fn env_vars_expand_to_several_tokens_and_blocks() {
    assert_eq!(
        shape("{$HOSTS} {\n respond {$MISSING:ok}\n}"),
        ["a.example,b.example => respond ok"]
    );
    assert_eq!(shape("{$SITE}"), ["env.example => respond hi"]);
}

#[test]
fn comments_and_blank_lines_do_not_split_segments() {
    assert_eq!(
        shape("# top\na { # open\n\n  respond hi # trailing\n  # alone\n}"),
        ["a => respond hi"]
    );
}

#[test]
fn quoted_braces_are_arguments() {
    assert_eq!(shape("a {\n dir1 \"{\" x \"}\"\n}"), ["a => dir1 { x }"]);
}

#[test]
fn brace_errors_use_caddys_wording_with_help() {
    let e = err("a {\n respond hi }\n}");
    assert!(e
        .message
        .starts_with("Unexpected '}' because no matching opening brace, at Caddyfile:2"));
    assert!(e.help_text().is_some());

    let e = err("a {\n route {\n  respond hi\n");
    assert_eq!(e.message, "unexpected EOF, at Caddyfile:3");
    assert!(
        e.help_text().unwrap().contains("Caddyfile:2"),
        "{:?}",
        e.help_text()
    );

    let e = err("a {\n respond hi\n");
    assert!(e
        .message
        .contains("syntax error: unexpected token 'hi', expecting '}'"));
    assert!(e.help_text().unwrap().contains("Caddyfile:1"));
}

#[test]
fn brace_placement_errors() {
    assert!(err("a {\n dir { x }\n}")
        .message
        .contains("Unexpected next token after '{' on same line"));
    assert!(err("a {\n dir\n {\n x\n }\n}").message.contains(
        "Unexpected '{' on a new line; did you mean to place the '{' on the previous line?"
    ));
    assert!(err("a {\n dir {}\n}")
        .message
        .contains("Unexpected '{}' at end of line"));
    assert_eq!(shape("a {\n dir {} x\n}"), ["a => dir {} x"]);
}

#[test]
fn address_errors() {
    assert!(err("a, {\n x\n}")
        .message
        .contains("Expected another address but had '{' - check for extra comma"));
    assert!(err("a{\n x\n}").message.contains(
        "Site addresses cannot end with a curly brace: 'a{' - put a space between the token and the brace"
    ));
    assert!(err("a,b {\n x\n}").message.contains(
        "Site addresses cannot contain a comma ',': 'a,b' - put a space after the comma to separate site addresses"
    ));
    assert!(err("@m path /x\na {\n}").message.contains(
        "request matchers may not be defined globally, they must be in a site block; found @m"
    ));
    assert!(err("a,").message.contains("unexpected EOF"));
}

#[test]
fn snippet_errors() {
    assert!(err("(s) {\n x\n}\n(s) {\n y\n}")
        .message
        .contains("redeclaration of previously declared snippet s"));
    assert!(err("(s) {\n x\n").message.contains("expecting '}'"));
    assert!(err("(s)\nx").message.contains("expecting '{'"));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let depth = crate::syntax::MAX_NESTING + 5;
    let mut input = String::from("a {\n");
    for _ in 0..depth {
        input.push_str("d {\n");
    }
    let e = err(&input);
    assert!(e.message.contains("nested too deeply"), "{}", e.message);
}

#[test]
fn errors_carry_a_span_in_the_source() {
    let e = err("a {\n  respond hi }\n}");
    let span = e.span().expect("span");
    assert_eq!(span.offset(), "a {\n  respond hi ".len());
}

#[test]
fn empty_input_gives_no_blocks() {
    assert!(parse("").blocks.is_empty());
    assert!(parse("# only a comment\n").blocks.is_empty());
}
