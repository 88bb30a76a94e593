//! One component of a URL pattern (`/books/:id(\\d+)?`) compiled to a
//! regular expression, following the URL Pattern standard's pattern syntax:
//! fixed text, `:name` segment wildcards, `*` full wildcards, `(regexp)`
//! groups, `{…}` non-capturing groups, the modifiers `?`, `+` and `*`, and
//! `\` escapes. In the pathname, a `/` just before a group is the group's
//! prefix, so `/:id?` makes the whole `/…` segment optional. Unnamed groups
//! are named `0`, `1`, … in order, as the standard does.

use regex::Regex;

/// A compiled component: the regexp and its group names, in order.
#[derive(Debug)]
pub struct Component {
    pub re: Regex,
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Pathname,
    Hostname,
    Other,
}

struct Part {
    /// The regexp of the group (or escaped fixed text when `fixed`).
    value: String,
    fixed: bool,
    name: Option<String>,
    prefix: String,
    suffix: String,
    modifier: Option<char>,
}

/// Compiles the pattern of one component.
pub fn compile(pattern: &str, kind: Kind, ignore_case: bool) -> Result<Component, String> {
    let parts = parse(pattern, kind)?;
    let mut re = String::from(if ignore_case { "(?i)^" } else { "^" });
    let mut names = Vec::new();
    let mut unnamed = 0;
    for p in &parts {
        if p.fixed {
            match p.modifier {
                None => re.push_str(&p.value),
                Some(m) => re.push_str(&format!("(?:{}){m}", p.value)),
            }
            continue;
        }
        names.push(p.name.clone().unwrap_or_else(|| {
            unnamed += 1;
            (unnamed - 1).to_string()
        }));
        let (pre, suf) = (regex::escape(&p.prefix), regex::escape(&p.suffix));
        let m = p.modifier.map(String::from).unwrap_or_default();
        let v = &p.value;
        match p.modifier {
            None | Some('?') if pre.is_empty() && suf.is_empty() => {
                re.push_str(&format!("({v}){m}"))
            }
            None | Some('?') => re.push_str(&format!("(?:{pre}({v}){suf}){m}")),
            Some(rep) => {
                let opt = if rep == '*' { "?" } else { "" };
                re.push_str(&format!(
                    "(?:{pre}((?:{v})(?:{suf}{pre}(?:{v}))*){suf}){opt}"
                ));
            }
        }
    }
    re.push('$');
    let re = Regex::new(&re).map_err(|e| format!("pattern {pattern:?}: {e}"))?;
    Ok(Component { re, names })
}

fn segment_wildcard(kind: Kind) -> &'static str {
    match kind {
        Kind::Pathname => "[^/]+?",
        Kind::Hostname => "[^.]+?",
        Kind::Other => "(?s:.)+?",
    }
}

/// Splits a component pattern into parts.
fn parse(pattern: &str, kind: Kind) -> Result<Vec<Part>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut parts: Vec<Part> = Vec::new();
    let mut fixed = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let group = match c {
            ':' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                if j == start {
                    return Err(format!("missing group name at {i} in {pattern:?}"));
                }
                let name: String = chars[start..j].iter().collect();
                i = j;
                let value = match chars.get(i) {
                    Some('(') => regexp_group(&chars, &mut i)?,
                    _ => segment_wildcard(kind).to_string(),
                };
                Some((Some(name), value))
            }
            '(' => Some((None, regexp_group(&chars, &mut i)?)),
            '*' => {
                i += 1;
                Some((None, ".*".to_string()))
            }
            '{' => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| format!("unclosed {{ in {pattern:?}"))?;
                let inner: String = chars[i + 1..i + end].iter().collect();
                flush(&mut parts, &mut fixed);
                i += end + 1;
                let modifier = modifier(&chars, &mut i);
                parts.push(Part {
                    value: regex::escape(&inner),
                    fixed: true,
                    name: None,
                    prefix: String::new(),
                    suffix: String::new(),
                    modifier,
                });
                None
            }
            '\\' => {
                let next = chars.get(i + 1).ok_or("trailing backslash")?;
                fixed.push(*next);
                i += 2;
                None
            }
            c => {
                fixed.push(c);
                i += 1;
                None
            }
        };
        if let Some((name, value)) = group {
            let mut prefix = String::new();
            if kind == Kind::Pathname && fixed.ends_with('/') {
                fixed.pop();
                prefix.push('/');
            }
            flush(&mut parts, &mut fixed);
            let modifier = modifier(&chars, &mut i);
            parts.push(Part {
                value,
                fixed: false,
                name,
                prefix,
                suffix: String::new(),
                modifier,
            });
        }
    }
    flush(&mut parts, &mut fixed);
    Ok(parts)
}

fn flush(parts: &mut Vec<Part>, fixed: &mut String) {
    if fixed.is_empty() {
        return;
    }
    parts.push(Part {
        value: regex::escape(fixed),
        fixed: true,
        name: None,
        prefix: String::new(),
        suffix: String::new(),
        modifier: None,
    });
    fixed.clear();
}

fn modifier(chars: &[char], i: &mut usize) -> Option<char> {
    let m = chars
        .get(*i)
        .copied()
        .filter(|c| matches!(c, '?' | '+' | '*'))?;
    *i += 1;
    Some(m)
}

/// The regexp of a `(…)` group starting at `chars[*i]`, balanced.
fn regexp_group(chars: &[char], i: &mut usize) -> Result<String, String> {
    let mut depth = 0;
    let start = *i + 1;
    let mut j = *i;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 1,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    *i = j + 1;
                    let re: String = chars[start..j].iter().collect();
                    if re.is_empty() {
                        return Err("empty regexp group".into());
                    }
                    return Ok(re);
                }
            }
            _ => {}
        }
        j += 1;
    }
    Err("unclosed ( in pattern".into())
}
