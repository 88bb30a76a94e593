//! Test helpers: a tiny tokenizer (whitespace-separated words, `"…"` and
//! `` `…` `` quotes on one line, line numbers kept) and a block splitter,
//! standing in for the real lexer in unit tests.

use crate::syntax::{Quote, ServerBlock, SourceFile, Token};

/// Tokens of `src`, as the lexer would give them for simple input.
pub fn tokens(src: &str) -> Vec<Token> {
    let file = SourceFile::new("Caddyfile", src);
    let mut out = Vec::new();
    for (i, line) in src.lines().enumerate() {
        let mut chars = line.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
                continue;
            }
            let mut tok = Token::synthetic("", &file, i + 1);
            if c == '"' || c == '`' {
                chars.next();
                tok.quote = if c == '"' {
                    Quote::Double
                } else {
                    Quote::Backtick
                };
                for ch in chars.by_ref() {
                    if ch == c {
                        break;
                    }
                    tok.text.push(ch);
                }
            } else {
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() {
                        break;
                    }
                    tok.text.push(ch);
                    chars.next();
                }
            }
            out.push(tok);
        }
    }
    out
}

/// Server blocks of a simple Caddyfile: `{ … }` first for global options,
/// then `keys { … }` blocks (every top-level `{ … }` must be braced).
pub fn blocks(src: &str) -> Vec<ServerBlock> {
    let toks = tokens(src);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let mut keys = Vec::new();
        while i < toks.len() && toks[i].text != "{" {
            keys.push(toks[i].clone());
            i += 1;
        }
        i += 1;
        let mut depth = 1;
        let mut body = Vec::new();
        while i < toks.len() {
            let t = &toks[i];
            i += 1;
            if t.text == "{" {
                depth += 1;
            } else if t.text == "}" {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            body.push(t.clone());
        }
        let block = ServerBlock {
            keys,
            segments: segments(body),
            is_named_route: false,
            has_braces: true,
        };
        out.push(block);
    }
    out
}

fn segments(body: Vec<Token>) -> Vec<Vec<Token>> {
    let mut d = crate::syntax::Dispenser::new(body);
    let mut out = Vec::new();
    while d.next() {
        out.push(d.next_segment());
    }
    out
}

/// The whole pipeline (real lexer and parser) on `src`: the config JSON.
pub fn adapt(src: &str) -> crate::error::Result<serde_json::Value> {
    crate::adapt("Caddyfile", src).map(|a| a.config)
}

/// The routes of server `srv0` after adapting `src` (which must adapt).
pub fn routes(src: &str) -> serde_json::Value {
    adapt(src).unwrap()["apps"]["http"]["servers"]["srv0"]["routes"].clone()
}
