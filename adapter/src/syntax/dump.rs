//! A compact text rendering of parsed server blocks, for golden tests and
//! debugging: one line per block, then one line per warning.
//!
//! A block line is `KIND KEYS => SEGMENT SEGMENT …`, where KIND is
//! `global` (no keys), `named` (a named route) or `site`, KEYS and each
//! SEGMENT are bracketed token lists, and a token is its JSON-quoted text,
//! `:LINE`, a quote mark (`q` double quotes, `b` backticks, `h` heredoc)
//! and, for a token brought in by `import`, `@FILE` (the base name of the
//! file it was read from).

use super::token::{Quote, Token};
use super::Parsed;
use std::fmt::Write;

/// Renders `parsed` (see the module doc for the format).
pub fn dump(parsed: &Parsed) -> String {
    let mut out = String::new();
    for block in &parsed.blocks {
        let kind = if block.is_named_route {
            "named"
        } else if block.keys.is_empty() {
            "global"
        } else {
            "site"
        };
        out.push_str(kind);
        out.push(' ');
        push_list(&mut out, &block.keys);
        out.push_str(" =>");
        for segment in &block.segments {
            out.push(' ');
            push_list(&mut out, segment);
        }
        out.push('\n');
    }
    for w in &parsed.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

fn push_list(out: &mut String, tokens: &[Token]) {
    out.push('[');
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_token(out, t);
    }
    out.push(']');
}

fn push_token(out: &mut String, t: &Token) {
    let text = serde_json::to_string(&t.text).unwrap_or_default();
    let _ = write!(out, "{text}:{}", t.line);
    out.push_str(match t.quote {
        Quote::None => "",
        Quote::Double => "q",
        Quote::Backtick => "b",
        Quote::Heredoc => "h",
    });
    if !t.imports.is_empty() {
        let base = t.file.name.rsplit('/').next().unwrap_or(&t.file.name);
        let _ = write!(out, "@{base}");
    }
}
