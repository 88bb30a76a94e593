//! Go's regexp syntax (RE2, as Caddy compiles every user regexp) on top of
//! Rust's `regex` crate.
//!
//! The two dialects agree on most of the syntax; [`translate`] rewrites
//! the places where they differ so a pattern means in bellhop what it
//! means in Caddy:
//! - a `{` that does not start a valid repetition (`{2}`, `{2,}`, `{2,5}`)
//!   is a literal in Go (`^/{http.request.uri}`), an error in Rust; a lone
//!   `}` is a literal in both and is escaped for clarity;
//! - `\d \w \s \b` (and their negations) are ASCII-only in Go, Unicode in
//!   Rust;
//! - `\Q…\E` quotes literal text in Go, Rust has no such syntax;
//! - `\<` and `\>` are literal angle brackets in Go, word boundaries in Rust;
//! - octal escapes (`\101`) exist only in Go;
//! - inside a class, Go treats `[`, `&&`, `--` and `~~` literally where
//!   Rust nests classes or applies set operations;
//! - `\C` (any byte) becomes any character.
//!
//! Named groups (`(?P<n>…)`, `(?<n>…)`), flags (`(?i)`, `(?s)`, `(?m)`,
//! `(?U)`), `\A`, `\z`, `\pL`, `\x{…}` and POSIX classes mean the same in
//! both and pass through.

use regex::Regex;

/// Compiles a Go regexp; the error reads like the `regex` crate's, for
/// the pattern as the user wrote it.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let rust = translate(pattern)?;
    Regex::new(&rust).map_err(|e| match e {
        regex::Error::Syntax(s) => format!("invalid regexp {pattern:?}: {}", last_line(&s)),
        other => format!("invalid regexp {pattern:?}: {other}"),
    })
}

fn last_line(s: &str) -> &str {
    s.trim_end()
        .lines()
        .last()
        .unwrap_or(s)
        .trim_start_matches("error: ")
}

/// Rewrites a Go regexp into the equivalent Rust `regex` pattern.
pub fn translate(go: &str) -> Result<String, String> {
    let chars: Vec<char> = go.chars().collect();
    let mut out = String::with_capacity(go.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i = escape(&chars, i, &mut out, false)?,
            '[' => i = class(&chars, i, &mut out)?,
            '{' => {
                match repetition(&chars, i) {
                    Some(end) => out.extend(&chars[i..end]),
                    None => out.push_str("\\{"),
                }
                i = repetition(&chars, i).unwrap_or(i + 1);
            }
            '}' => {
                out.push_str("\\}");
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The end of a valid Go repetition `{n}`, `{n,}` or `{n,m}` at `i`.
fn repetition(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let digits = |j: &mut usize| {
        let start = *j;
        while chars.get(*j).is_some_and(char::is_ascii_digit) {
            *j += 1;
        }
        *j > start
    };
    if !digits(&mut j) {
        return None;
    }
    if chars.get(j) == Some(&',') {
        j += 1;
        digits(&mut j);
    }
    (chars.get(j) == Some(&'}')).then_some(j + 1)
}

/// Translates the escape at `i` (a backslash); returns the next index.
fn escape(chars: &[char], i: usize, out: &mut String, in_class: bool) -> Result<usize, String> {
    let Some(&c) = chars.get(i + 1) else {
        return Err("trailing backslash at end of expression".into());
    };
    let ascii = |set: &str, negated: bool, out: &mut String| match (negated, in_class) {
        (false, false) => {
            out.push('[');
            out.push_str(set);
            out.push(']');
        }
        (false, true) => out.push_str(set),
        (true, _) => {
            out.push_str("[^");
            out.push_str(set);
            out.push(']');
        }
    };
    match c {
        'd' | 'D' => ascii("0-9", c == 'D', out),
        'w' | 'W' => ascii("0-9A-Za-z_", c == 'W', out),
        's' | 'S' => ascii("\\t\\n\\f\\r ", c == 'S', out),
        'b' | 'B' if !in_class => {
            out.push_str("(?-u:\\");
            out.push(c);
            out.push(')');
        }
        '<' | '>' => out.push(c),
        'C' => out.push_str(if in_class {
            "\\x00-\\x{10FFFF}"
        } else {
            "(?s:.)"
        }),
        'Q' if !in_class => return Ok(quote(chars, i + 2, out)),
        '0'..='7' => return octal(chars, i + 1, out),
        '8' | '9' => return Err(format!("invalid escape sequence: `\\{c}`")),
        _ => {
            out.push('\\');
            out.push(c);
        }
    }
    Ok(i + 2)
}

/// `\Q…\E`: everything up to `\E` (or the end) is literal text.
fn quote(chars: &[char], mut i: usize, out: &mut String) -> usize {
    let mut buf = [0u8; 4];
    while i < chars.len() {
        if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
            return i + 2;
        }
        out.push_str(&regex::escape(chars[i].encode_utf8(&mut buf)));
        i += 1;
    }
    i
}

/// An octal escape starting at the digit at `i`: `\0` alone, or a digit
/// followed by up to two more (Go rejects `\1`…`\7` alone: backreferences).
fn octal(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    let mut j = i;
    while j < chars.len() && j < i + 3 && matches!(chars[j], '0'..='7') {
        j += 1;
    }
    if chars[i] != '0' && j == i + 1 {
        return Err(format!(
            "invalid escape sequence: `\\{}` (backreferences are not supported)",
            chars[i]
        ));
    }
    let code: String = chars[i..j].iter().collect();
    let n = u32::from_str_radix(&code, 8).map_err(|e| e.to_string())?;
    out.push_str(&format!("\\x{{{n:x}}}"));
    Ok(j)
}

/// Translates the class starting at the `[` at `i`; returns the index
/// after its closing `]`.
fn class(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    out.push('[');
    let mut j = i + 1;
    if chars.get(j) == Some(&'^') {
        out.push('^');
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        out.push_str("\\]");
        j += 1;
    }
    while j < chars.len() {
        match chars[j] {
            ']' => {
                out.push(']');
                return Ok(j + 1);
            }
            '\\' => j = escape(chars, j, out, true)?,
            '[' => j = posix_or_bracket(chars, j, out),
            c @ ('&' | '~') => {
                out.push('\\');
                out.push(c);
                j += 1;
            }
            '-' if chars.get(j + 1) == Some(&'-') => {
                out.push_str("-\\-");
                j += 2;
            }
            c => {
                out.push(c);
                j += 1;
            }
        }
    }
    Err("missing closing ]".into())
}

/// Inside a class: a POSIX class `[:alpha:]` passes through, any other
/// `[` is a literal.
fn posix_or_bracket(chars: &[char], j: usize, out: &mut String) -> usize {
    if chars.get(j + 1) == Some(&':') {
        let rest: String = chars[j..].iter().take(16).collect();
        // `[:]`: the `:]` found may be the opening one's colon
        if let Some(end) = rest.find(":]").filter(|e| *e >= 2) {
            let name = &rest[2..end];
            let negated = name.strip_prefix('^').unwrap_or(name);
            if !negated.is_empty() && negated.chars().all(|c| c.is_ascii_lowercase()) {
                out.push_str(&rest[..end + 2]);
                return j + rest[..end + 2].chars().count();
            }
        }
    }
    out.push_str("\\[");
    j + 1
}

#[cfg(test)]
#[path = "goregex_tests.rs"]
mod tests;
