//! `http.matchers.path`: Caddy's path patterns, matched case-insensitively
//! against the cleaned, percent-decoded request path.
//!
//! - `*` alone matches everything;
//! - `*foo*` (exactly two stars, at the ends) is a substring match,
//!   `*.php` a suffix match, `/api/*` a prefix match (one star only);
//! - anything else is a glob (Go's `path.Match`), which without wildcards is
//!   an exact match;
//! - a pattern with `//` keeps the request's doubled slashes when cleaning;
//! - a pattern with `%` compares the escaped path where the pattern has
//!   escapes (`%2F` matches only `%2F`, not `/`), `%*` being an escaped-space
//!   wildcard.

use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{Cx, Matcher};
use crate::registry::Provision;
use crate::util::{clean_path, glob_match};
use serde_json::Value;
use std::borrow::Cow;

struct MatchPath(Vec<Template>);

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let pats = super::string_list(v, p, path)?;
    Ok(Box::new(MatchPath(
        pats.iter()
            .map(|s| Template::parse(&s.to_lowercase()))
            .collect(),
    )))
}

impl Matcher for MatchPath {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        let path = cx.path();
        let lower: Cow<'_, str> =
            if path.bytes().any(|b| b.is_ascii_uppercase()) || !path.is_ascii() {
                Cow::Owned(path.to_lowercase())
            } else {
                Cow::Borrowed(path)
            };
        for t in &self.0 {
            let pat = t.render(cx);
            if match_pattern(&pat, &lower, cx.parts.uri.path()) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Matches one (lowercase) pattern against the decoded lowercase path;
/// `raw` is the escaped path for patterns with `%`.
pub fn match_pattern(pat: &str, lower: &str, raw: &str) -> bool {
    if pat == "*" {
        return true;
    }
    let merge = !pat.contains("//");
    if pat.contains('%') {
        let escaped = clean_path(raw, merge);
        return match_escaped(&escaped, pat);
    }
    let p = clean_path(lower, merge);
    let stars = pat.matches('*').count();
    if stars == 2 && pat.len() >= 2 && pat.starts_with('*') && pat.ends_with('*') {
        return p.contains(&pat[1..pat.len() - 1]);
    }
    if stars == 1 {
        if let Some(suffix) = pat.strip_prefix('*') {
            return p.ends_with(suffix);
        }
        if let Some(prefix) = pat.strip_suffix('*') {
            return p.starts_with(prefix);
        }
    }
    glob_match(pat, &p)
}

/// Builds the comparison string by walking the pattern and the escaped path
/// in lockstep: decoded where the pattern is plain, escaped where it has an
/// escape, then globs it (`%*` counting as `*`).
/// The path compares case-insensitively, and what the pattern leaves of it
/// still counts (decoded), so a pattern without a final wildcard is no
/// prefix match.
fn match_escaped(escaped: &str, pat: &str) -> bool {
    // bytes throughout, as Go's strings are: an escape or a wildcard's
    // reach may end inside a multibyte character
    let escaped = escaped.to_lowercase();
    let (p, e) = (pat.as_bytes(), escaped.as_bytes());
    let decode = |b: &[u8]| -> Vec<u8> { percent_encoding::percent_decode(b).collect() };
    let mut sb: Vec<u8> = Vec::new();
    let (mut ip, mut ie) = (0, 0);
    while ip < p.len() && ie < e.len() {
        let mut path_ch: Vec<u8> = vec![e[ie]];
        let mut escaped_ch: Vec<u8> = Vec::new();
        if e[ie] == b'%' && ie + 3 <= e.len() {
            escaped_ch = e[ie..ie + 3].to_ascii_lowercase();
            path_ch = decode(&escaped_ch);
            ie += 2;
        }
        let mut normalize = true;
        let mut wildcard = p[ip] == b'*';
        if p[ip] == b'%' {
            if ip + 3 <= p.len() && p[ip + 1] != b'*' {
                sb.extend_from_slice(&escaped_ch);
                ie += 1;
                ip += 3;
                continue;
            }
            ip += 1;
            normalize = false;
            wildcard = true;
        }
        if wildcard {
            let remaining = &e[ie..];
            let until = match p.get(ip + 1) {
                Some(&next) => match remaining.iter().position(|b| *b == next) {
                    Some(u) => u,
                    None => return false,
                },
                None => remaining.len(),
            };
            if until > 0 {
                let next = &remaining[..until];
                if normalize {
                    sb.extend(decode(next));
                } else {
                    sb.extend_from_slice(next);
                }
                ie += until;
            }
        } else {
            sb.extend_from_slice(&path_ch);
            ie += 1;
        }
        ip += 1;
    }
    if ie < e.len() {
        sb.extend(decode(&e[ie..]));
    }
    let sb = String::from_utf8_lossy(&sb).to_lowercase();
    glob_match(&pat.replace("%*", "*"), &sb)
}

#[cfg(test)]
mod tests {
    use super::match_pattern;

    fn m(pat: &str, path: &str) -> bool {
        match_pattern(pat, &path.to_lowercase(), path)
    }

    /// Found by the `request` fuzz target: an escape or a wildcard ending
    /// inside a multibyte character sliced a `str` mid-character.
    #[test]
    fn escaped_patterns_against_multibyte_paths() {
        assert!(!m("/%2f*", "/\u{18e}=1&code=404"));
        assert!(m("/*%2f*", "/\u{18e}%2F\u{18e}"));
        assert!(!m("/a%2fb", "/\u{18e}\u{18e}"));
        assert!(m("/%c6%8e*", "/%C6%8Ex"));
    }

    #[test]
    fn caddy_path_rules() {
        assert!(m("/foo", "/foo"));
        assert!(!m("/foo", "/foo/"));
        assert!(m("/foo/*", "/foo/bar/baz"));
        assert!(m("*.php", "/a/b.php"));
        assert!(m("*bar*", "/foo/bar/baz"));
        assert!(m("/foo/*/baz", "/foo/x/baz"));
        assert!(!m("/foo/*/baz", "/foo/x/y/baz"));
        assert!(m("/foo", "/bar/../foo"));
        assert!(m("/foo/*", "//foo//x"));
        assert!(!m("/foo//*", "/foo/x"));
    }

    #[test]
    fn escaped_patterns_compare_escapes() {
        assert!(match_pattern("/a%2fb", "/a/b", "/a%2Fb"));
        assert!(!match_pattern("/a%2fb", "/a/b", "/a/b"));
    }
}
