//! Go's `path.Match`, as Caddy's path matchers and `file_server hide` use
//! it: `*` matches any run of non-`/` characters, `?` one non-`/`
//! character, `[a-z]` / `[^…]` a class, `\` escapes. A malformed pattern
//! matches nothing.
//!
//! The algorithm is Go's: the pattern is cut into chunks, each after a
//! run of stars, and a star tries each start for the chunk after it but
//! commits to the first that fits, so the time is at most pattern length
//! × name length (a recursive matcher takes exponential time on
//! `*a*a*a*…` against a long name).

/// Whether `name` matches `pattern`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    matches(pattern, name).unwrap_or(false)
}

/// `Err` for a malformed pattern.
fn matches(mut pattern: &str, mut name: &str) -> Result<bool, ()> {
    'chunks: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // a trailing star matches the rest unless it has a `/`
            return Ok(!name.contains('/'));
        }
        if let Some(t) = match_chunk(chunk, name)? {
            if t.is_empty() || !pattern.is_empty() {
                name = t;
                continue;
            }
        }
        if star {
            // skip i+1 bytes of name, never a `/`
            for (i, b) in name.bytes().enumerate() {
                if b == b'/' {
                    break;
                }
                if !name.is_char_boundary(i + 1) {
                    continue;
                }
                if let Some(t) = match_chunk(chunk, &name[i + 1..])? {
                    if pattern.is_empty() && !t.is_empty() {
                        continue;
                    }
                    name = t;
                    continue 'chunks;
                }
            }
        }
        // no match: the rest of the pattern must still be well formed
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, "")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// The leading stars (whether any), the chunk up to the next star outside
/// a class, and the rest.
fn scan_chunk(pattern: &str) -> (bool, &str, &str) {
    let trimmed = pattern.trim_start_matches('*');
    let star = trimmed.len() != pattern.len();
    let b = trimmed.as_bytes();
    let (mut i, mut in_range) = (0, false);
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &trimmed[..i], &trimmed[i..])
}

/// Matches `chunk` (no stars) against the start of `s`: the rest of `s`
/// when it matches, `None` when not, `Err` when the chunk is malformed
/// (checked to its end even after a mismatch).
fn match_chunk<'s>(mut chunk: &str, mut s: &'s str) -> Result<Option<&'s str>, ()> {
    let mut failed = false;
    while let Some(c) = chunk.chars().next() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            '[' => {
                let r = if failed {
                    None
                } else {
                    let r = s.chars().next();
                    s = &s[r.map_or(0, char::len_utf8)..];
                    r
                };
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let (mut hit, mut ranges) = (false, 0);
                loop {
                    if chunk.starts_with(']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if let Some(after) = chunk.strip_prefix('-') {
                        let (h, rest) = get_esc(after)?;
                        hi = h;
                        chunk = rest;
                    }
                    if r.is_some_and(|r| lo <= r && r <= hi) {
                        hit = true;
                    }
                    ranges += 1;
                }
                if hit == negated {
                    failed = true;
                }
            }
            '?' => {
                if !failed {
                    let r = s.chars().next().unwrap_or('/');
                    if r == '/' {
                        failed = true;
                    }
                    s = &s[r.len_utf8().min(s.len())..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                let lit = if c == '\\' {
                    chunk = &chunk[1..];
                    chunk.chars().next().ok_or(())?
                } else {
                    c
                };
                if !failed {
                    match s.chars().next() {
                        Some(n) if n == lit => s = &s[n.len_utf8()..],
                        _ => failed = true,
                    }
                }
                chunk = &chunk[lit.len_utf8()..];
            }
        }
    }
    Ok((!failed).then_some(s))
}

/// A possibly escaped character of a class, and what follows it (which
/// must not be empty: the class needs its `]`).
fn get_esc(chunk: &str) -> Result<(char, &str), ()> {
    let chunk = match chunk.chars().next() {
        None | Some('-' | ']') => return Err(()),
        Some('\\') => &chunk[1..],
        Some(_) => chunk,
    };
    let c = chunk.chars().next().ok_or(())?;
    let rest = &chunk[c.len_utf8()..];
    if rest.is_empty() {
        return Err(());
    }
    Ok((c, rest))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    /// Go's `path` package `matchTests`.
    #[test]
    fn go_match_tests() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("[\\-x]", "-", true),
            ("[\\-x]", "a", false),
            ("[]a]", "]", false),
            ("[-]", "-", false),
            ("[x-]", "x", false),
            ("[x-]", "-", false),
            ("[x-]", "z", false),
            ("[-x]", "x", false),
            ("[-x]", "-", false),
            ("[-x]", "a", false),
            ("\\", "a", false),
            ("[a-b-c]", "a", false),
            ("[", "a", false),
            ("[^", "a", false),
            ("[^bc", "a", false),
            ("a[", "a", false),
            ("a[", "ab", false),
            ("a[", "x", false),
            ("a/b[", "x", false),
            ("*x", "xxx", true),
        ];
        for (p, n, want) in cases {
            assert_eq!(glob_match(p, n), *want, "{p:?} {n:?}");
        }
    }

    #[test]
    fn many_stars_take_polynomial_time() {
        let pattern = format!("/{}x", "*a".repeat(40));
        let name = format!("/{}", "a".repeat(5000));
        let began = std::time::Instant::now();
        assert!(!glob_match(&pattern, &name));
        let fuzz = "/fi**********?q/*?q";
        assert!(!glob_match(fuzz, "/fiEEEEEEEEEles~es~ah=1@z=1"));
        assert!(began.elapsed() < std::time::Duration::from_secs(1));
    }
}
