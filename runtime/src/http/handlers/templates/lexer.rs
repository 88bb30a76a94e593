//! The template lexer: text and actions, as Go's `text/template` splits
//! them.
//!
//! Text runs until the left delimiter (default `{{`). An action runs until
//! the right delimiter (`}}`), and is lexed into [`Tok`]s; a right
//! delimiter inside a quoted string does not end it. Trim markers: `{{- `
//! removes the whitespace before the action, ` -}}` the whitespace after
//! it (the marker needs the space). Comments are `{{/* … */}}`, with the
//! same trim markers, and produce nothing.

/// A token inside an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A function name or keyword (`if`, `printf`, `true`, `nil`…).
    Ident(String),
    /// `.Name` (one element of a field chain).
    Field(String),
    /// `$` or `$name`.
    Var(String),
    /// `.`
    Dot,
    Str(String),
    /// A number as written (`12`, `0x1f`, `1.5e3`, or a character's code).
    Num(String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

/// A token and whether whitespace came before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub spaced: bool,
}

/// A piece of the template source.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Text(String),
    /// An action's tokens and the line it starts on.
    Action(Vec<Token>, usize),
}

/// Splits `src` into text and actions.
pub fn lex(src: &str, left: &str, right: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    while pos <= src.len() {
        let Some(start) = src[pos..].find(left).map(|i| i + pos) else {
            push_text(&mut items, &src[pos..], trim_next, false);
            break;
        };
        let mut at = start + left.len();
        let trim_before = src[at..].starts_with('-')
            && src[at + 1..].starts_with(|c: char| c.is_ascii_whitespace());
        if trim_before {
            at += 1;
        }
        push_text(&mut items, &src[pos..start], trim_next, trim_before);
        let line = 1 + src[..start].matches('\n').count();
        let (toks, end, trim_after) = if comment_start(&src[at..]) {
            comment(src, at, right).map(|(e, t)| (Vec::new(), e, t))
        } else {
            action(src, at, right)
        }
        .map_err(|e| format!("{line}: {e}"))?;
        if !toks.is_empty() {
            items.push(Item::Action(toks, line));
        }
        trim_next = trim_after;
        pos = end;
    }
    Ok(items)
}

fn push_text(items: &mut Vec<Item>, text: &str, trim_start: bool, trim_end: bool) {
    let mut t = text;
    if trim_start {
        t = t.trim_start_matches(|c: char| c.is_ascii_whitespace());
    }
    if trim_end {
        t = t.trim_end_matches(|c: char| c.is_ascii_whitespace());
    }
    if !t.is_empty() {
        items.push(Item::Text(t.to_string()));
    }
}

fn comment_start(rest: &str) -> bool {
    rest.trim_start_matches(|c: char| c.is_ascii_whitespace())
        .starts_with("/*")
}

/// Skips a comment; returns the position after the right delimiter.
fn comment(src: &str, at: usize, right: &str) -> Result<(usize, bool), String> {
    let end = src[at..]
        .find("*/")
        .map(|i| i + at + 2)
        .ok_or("unclosed comment")?;
    let rest = &src[end..];
    let spaced = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if let Some(after) = spaced.strip_prefix('-') {
        if spaced.len() < rest.len() && after.starts_with(right) {
            return Ok((src.len() - after.len() + right.len(), true));
        }
    }
    if rest.starts_with(right) {
        return Ok((end + right.len(), false));
    }
    Err("comment ends before closing delimiter".into())
}

/// Lexes one action starting at `at`; returns its tokens, the position
/// after the right delimiter and whether it trims the following text.
fn action(src: &str, mut at: usize, right: &str) -> Result<(Vec<Token>, usize, bool), String> {
    let mut toks = Vec::new();
    let mut spaced = false;
    loop {
        let rest = &src[at..];
        let Some(c) = rest.chars().next() else {
            return Err("unclosed action".into());
        };
        if c.is_whitespace() {
            let trimmed = rest.trim_start_matches(char::is_whitespace);
            if let Some(after) = trimmed.strip_prefix('-') {
                if after.starts_with(right) {
                    return Ok((toks, src.len() - after.len() + right.len(), true));
                }
            }
            at += rest.len() - trimmed.len();
            spaced = true;
            continue;
        }
        if rest.starts_with(right) {
            return Ok((toks, at + right.len(), false));
        }
        let (tok, len) = token(rest)?;
        toks.push(Token { tok, spaced });
        spaced = false;
        at += len;
    }
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The token at the start of `rest` and its length in bytes.
fn token(rest: &str) -> Result<(Tok, usize), String> {
    let c = rest.chars().next().unwrap_or(' ');
    let word = |from: usize| {
        rest[from..]
            .find(|c: char| !ident_char(c))
            .map_or(rest.len(), |i| i + from)
    };
    Ok(match c {
        '(' => (Tok::LParen, 1),
        ')' => (Tok::RParen, 1),
        '|' => (Tok::Pipe, 1),
        ',' => (Tok::Comma, 1),
        '=' => (Tok::Assign, 1),
        ':' if rest.starts_with(":=") => (Tok::Declare, 2),
        '"' => quoted(rest)?,
        '`' => {
            let end = rest[1..]
                .find('`')
                .ok_or("unterminated raw quoted string")?;
            (Tok::Str(rest[1..end + 1].to_string()), end + 2)
        }
        '\'' => {
            let (s, len) = match quoted(rest)? {
                (Tok::Str(s), len) => (s, len),
                _ => unreachable!("quoted returns a string"),
            };
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(ch), None) => (Tok::Num((ch as u32).to_string()), len),
                _ => return Err(format!("malformed character constant: {}", &rest[..len])),
            }
        }
        '$' => {
            let end = word(1);
            (Tok::Var(rest[..end].to_string()), end)
        }
        '.' if rest[1..].starts_with(|c: char| c.is_alphabetic() || c == '_') => {
            let end = word(1);
            (Tok::Field(rest[1..end].to_string()), end)
        }
        '.' if !rest[1..].starts_with(|c: char| c.is_ascii_digit()) => (Tok::Dot, 1),
        c if c.is_ascii_digit()
            || c == '.'
            || ((c == '-' || c == '+') && rest[1..].starts_with(|d: char| d.is_ascii_digit())) =>
        {
            let mut end = 1;
            let b = rest.as_bytes();
            while end < b.len() {
                let d = b[end];
                let exp_sign =
                    (d == b'-' || d == b'+') && matches!(b[end - 1], b'e' | b'E' | b'p' | b'P');
                if d.is_ascii_alphanumeric() || d == b'.' || d == b'_' || exp_sign {
                    end += 1;
                } else {
                    break;
                }
            }
            (Tok::Num(rest[..end].to_string()), end)
        }
        c if ident_char(c) => {
            let end = word(0);
            (Tok::Ident(rest[..end].to_string()), end)
        }
        other => return Err(format!("unexpected {other:?} in command")),
    })
}

/// A double- (or single-) quoted string with Go's escapes.
fn quoted(rest: &str) -> Result<(Tok, usize), String> {
    let quote = rest.chars().next().unwrap_or('"');
    let mut out = String::new();
    let mut chars = rest.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((Tok::Str(out), i + 1)),
            '\n' => break,
            '\\' => {
                let (_, e) = chars.next().ok_or("unterminated quoted string")?;
                let hex = |n: usize, chars: &mut dyn Iterator<Item = (usize, char)>| {
                    let digits: String = chars.take(n).map(|(_, c)| c).collect();
                    u32::from_str_radix(&digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("invalid escape \\{e}{digits}"))
                };
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'a' => '\x07',
                    'b' => '\x08',
                    'f' => '\x0c',
                    'v' => '\x0b',
                    '0' => '\0',
                    '\\' | '"' | '\'' => e,
                    'x' => hex(2, &mut chars)?,
                    'u' => hex(4, &mut chars)?,
                    'U' => hex(8, &mut chars)?,
                    other => return Err(format!("unknown escape sequence \\{other}")),
                });
            }
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        match &lex(src, "{{", "}}").unwrap()[0] {
            Item::Action(t, _) => t.iter().map(|t| t.tok.clone()).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trims_comments_and_tokens() {
        let items = lex("a  {{- /* c */ -}}  b {{ .X -}}\n c", "{{", "}}").unwrap();
        assert_eq!(
            items,
            vec![
                Item::Text("a".into()),
                Item::Text("b ".into()),
                Item::Action(
                    vec![Token {
                        tok: Tok::Field("X".into()),
                        spaced: true
                    }],
                    1
                ),
                Item::Text("c".into()),
            ]
        );
        assert_eq!(
            toks(r#"{{$x := printf "%d}}\n" -3 `r` 'a' .A.B | len}}"#),
            vec![
                Tok::Var("$x".into()),
                Tok::Declare,
                Tok::Ident("printf".into()),
                Tok::Str("%d}}\n".into()),
                Tok::Num("-3".into()),
                Tok::Str("r".into()),
                Tok::Num("97".into()),
                Tok::Field("A".into()),
                Tok::Field("B".into()),
                Tok::Pipe,
                Tok::Ident("len".into()),
            ]
        );
        assert!(lex("{{ .X ", "{{", "}}").unwrap_err().contains("unclosed"));
        let custom = lex("[[.X]] {{.Y}}", "[[", "]]").unwrap();
        assert_eq!(custom.len(), 2, "{custom:?}");
    }
}
