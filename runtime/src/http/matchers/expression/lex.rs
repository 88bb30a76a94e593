//! The expression tokenizer. Placeholders are first rewritten as Caddy
//! does before CEL sees the text: `{name}` not preceded by a backslash
//! becomes `ph(req, "name")` (even inside a string literal), and `\{name}`
//! becomes `{name}`; the tokenizer then reads `ph(req, "name")` as one
//! placeholder token. String literals take CEL's escapes only.

/// Caddy's two passes over the expression text (`celmatcher.go`): the
/// regexp `([^\\]|^){([a-zA-Z][\w.-]+)}` (matches do not overlap, so a
/// placeholder right after another is left alone) replaced by
/// `${1}ph(req, "${2}")`, then `\\{([a-zA-Z][\w.-]+)}` by `{${1}}`.
pub fn expand_placeholders(src: &str) -> String {
    let mut once = String::with_capacity(src.len() + 16);
    let mut last_end = 0;
    let mut i = 0;
    while i < src.len() {
        let b = src.as_bytes();
        let prev_ok = i == 0 || (b[i - 1] != b'\\' && i > last_end);
        match (b[i], prev_ok, name_at(src, i)) {
            (b'{', true, Some(end)) => {
                once.push_str(&src[last_end.min(i)..i]);
                once.push_str(&format!("ph(req, \"{}\")", &src[i + 1..end]));
                i = end + 1;
                last_end = i;
            }
            _ => i += 1,
        }
    }
    once.push_str(&src[last_end..]);
    let mut out = String::with_capacity(once.len());
    let mut i = 0;
    let b = once.as_bytes();
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'{') {
            if let Some(end) = name_at(&once, i + 1) {
                out.push_str(&once[i + 1..=end]);
                i = end + 1;
                continue;
            }
        }
        let ch = once[i..].chars().next().unwrap_or('?');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// When `s[open]` starts `{name}` (a letter, then one or more of letters,
/// digits, `_`, `.`, `-`), the index of its `}`.
fn name_at(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    if b.get(open) != Some(&b'{') || !b.get(open + 1)?.is_ascii_alphabetic() {
        return None;
    }
    let mut j = open + 2;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'_' | b'.' | b'-')) {
        j += 1;
    }
    (j > open + 2 && b.get(j) == Some(&b'}')).then_some(j)
}

/// CEL's escape after a backslash at `s[i]`: the character and the index
/// after the escape.
fn unescape(s: &str, i: usize) -> Result<(char, usize), String> {
    let b = s.as_bytes();
    let c = *b.get(i + 1).ok_or("unterminated escape")?;
    let hex = |n: usize| -> Result<(char, usize), String> {
        let h = s.get(i + 2..i + 2 + n).ok_or("short escape")?;
        let v = u32::from_str_radix(h, 16).map_err(|_| "bad hex escape")?;
        Ok((char::from_u32(v).ok_or("bad code point")?, i + 2 + n))
    };
    Ok(match c {
        b'\\' | b'\'' | b'"' | b'`' | b'?' => (c as char, i + 2),
        b'a' => ('\u{7}', i + 2),
        b'b' => ('\u{8}', i + 2),
        b'f' => ('\u{c}', i + 2),
        b'n' => ('\n', i + 2),
        b'r' => ('\r', i + 2),
        b't' => ('\t', i + 2),
        b'v' => ('\u{b}', i + 2),
        b'x' | b'X' => hex(2)?,
        b'u' => hex(4)?,
        b'U' => hex(8)?,
        b'0'..=b'3' => {
            let o = s.get(i + 1..i + 4).ok_or("short octal escape")?;
            let v = u32::from_str_radix(o, 8).map_err(|_| "bad octal escape")?;
            (char::from_u32(v).ok_or("bad code point")?, i + 4)
        }
        _ => return Err(format!("invalid escape sequence \\{}", c as char)),
    })
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    /// A number literal with a fraction: CEL's double.
    Dbl(f64),
    Ph(String),
    Punct(&'static str),
}

pub fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'\'' || c == b'"' {
            let mut v = String::new();
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' {
                    let (ch, next) = unescape(s, i)?;
                    v.push(ch);
                    i = next;
                    continue;
                }
                let ch = s[i..].chars().next().unwrap_or('?');
                v.push(ch);
                i += ch.len_utf8();
            }
            if i >= b.len() {
                return Err("unterminated string".into());
            }
            i += 1;
            out.push(Tok::Str(v));
        } else if let Some(rest) = s[i..].strip_prefix("ph(req, \"") {
            let end = rest.find("\")").ok_or("unterminated placeholder")?;
            out.push(Tok::Ph(format!("{{{}}}", &rest[..end])));
            i += "ph(req, \"".len() + end + 2;
        } else if c.is_ascii_digit() {
            let end = s[i..]
                .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
                .map_or(b.len(), |e| e + i);
            let text = &s[i..end];
            let n = text.parse().map_err(|_| "bad number")?;
            out.push(if text.contains('.') {
                Tok::Dbl(n)
            } else {
                Tok::Num(n)
            });
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let end = s[i..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .map_or(b.len(), |e| e + i);
            out.push(Tok::Ident(s[i..end].to_string()));
            i = end;
        } else {
            let two = s.get(i..i + 2).unwrap_or("");
            let p = ["==", "!=", "<=", ">=", "&&", "||"]
                .into_iter()
                .find(|p| *p == two);
            let p = match p {
                Some(p) => p,
                None => [
                    "(", ")", "[", "]", "{", "}", ",", ":", ".", "!", "<", ">", "-", "+", "*", "/",
                    "%", "?",
                ]
                .into_iter()
                .find(|p| p.as_bytes()[0] == c)
                .ok_or_else(|| format!("unexpected character {:?}", c as char))?,
            };
            i += p.len();
            out.push(Tok::Punct(p));
        }
    }
    Ok(out)
}
