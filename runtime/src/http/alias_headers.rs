//! Request headers whose names hold `_` or `.` are dropped before any
//! route runs, as Caddy's server does (GHSA-f59h-q822-g45g,
//! GHSA-49wc-4hcv-v58q): CGI/FastCGI backends fold `-` (and PHP folds `.`)
//! to `_`, so `Remote_User` or `Remote.User` would pass for `Remote-User`
//! there, past `forward_auth`'s copied headers. The server's
//! `expected_underscore_headers` and `expected_dot_headers` keep named
//! ones (a trailing `*` for a prefix; a repeated field is dropped whole)
//! and then drop their hyphenated spelling instead. A name with both
//! separators is kept only by an exact entry.
//!
//! The common request, with no such header and no allowlist, costs one
//! scan of the header names.

use crate::error::Error;
use http::HeaderMap;

/// Allowed spellings of one separator and the hyphenated forms they drop,
/// lowercased.
#[derive(Default)]
struct Rules {
    exact_allow: Vec<String>,
    exact_drop: Vec<String>,
    /// (allowed prefix, dropped prefix).
    prefixes: Vec<(String, String)>,
}

/// The filter of one server.
#[derive(Default)]
pub struct AliasFilter {
    underscore: Rules,
    dot: Rules,
    /// Either allowlist has an entry (then every name is checked).
    allowlist: bool,
}

impl AliasFilter {
    /// Provisions the two allowlists; `path` names the server.
    pub fn provision(underscore: &[String], dot: &[String], path: &str) -> Result<Self, Error> {
        Ok(AliasFilter {
            underscore: rules(
                underscore,
                '_',
                &format!("{path}.expected_underscore_headers"),
            )?,
            dot: rules(dot, '.', &format!("{path}.expected_dot_headers"))?,
            allowlist: !(underscore.is_empty() && dot.is_empty()),
        })
    }

    /// Drops the headers Caddy's server drops; `separator`: whether a name
    /// holds `_` or `.`, when the parser noted it (else the names are
    /// scanned).
    pub fn apply(&self, headers: &mut HeaderMap, separator: Option<bool>) {
        let separator = separator
            .unwrap_or_else(|| headers.keys().any(|k| has_separator(k.as_str().as_bytes())));
        if !self.allowlist && !separator {
            return;
        }
        let names: Vec<http::HeaderName> = headers.keys().cloned().collect();
        for name in names {
            let n = name.as_str();
            let (under, dot) = (n.contains('_'), n.contains('.'));
            let allowed = match (under, dot) {
                (true, true) => {
                    self.underscore.exact_allow.iter().any(|a| a == n)
                        || self.dot.exact_allow.iter().any(|a| a == n)
                }
                (true, false) => self.underscore.allows(n),
                (false, true) => self.dot.allows(n),
                (false, false) => {
                    if self.underscore.drops(n) || self.dot.drops(n) {
                        headers.remove(&name);
                    }
                    continue;
                }
            };
            if !allowed || headers.get_all(&name).iter().count() > 1 {
                headers.remove(&name);
            }
        }
    }
}

/// Whether a header name holds `_` or `.`, eight bytes at a time (names
/// are ASCII tokens, so the word test is exact): this runs on every
/// request.
pub(crate) fn has_separator(name: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let holds = |word: u64, b: u8| {
        let v = word ^ (ONES * u64::from(b));
        v.wrapping_sub(ONES) & !v & HIGH != 0
    };
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        if holds(word, b'_') || holds(word, b'.') {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b == b'_' || b == b'.')
}

impl Rules {
    fn allows(&self, n: &str) -> bool {
        self.exact_allow.iter().any(|a| a == n)
            || self.prefixes.iter().any(|(a, _)| n.starts_with(a.as_str()))
    }

    fn drops(&self, n: &str) -> bool {
        self.exact_drop.iter().any(|d| d == n)
            || self.prefixes.iter().any(|(_, d)| n.starts_with(d.as_str()))
    }
}

/// Caddy's `provisionHeaderAliasAllowlist`.
fn rules(entries: &[String], sep: char, path: &str) -> Result<Rules, Error> {
    let mut r = Rules::default();
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if !entry.is_ascii() {
            return Err(Error::config(
                at,
                format!("entry {entry:?} contains non-ASCII characters"),
            ));
        }
        let (name, glob) = match entry.strip_suffix('*') {
            Some(n) => (n, true),
            None => (entry.as_str(), false),
        };
        if name.contains('*') {
            return Err(Error::config(
                at,
                format!("entry {entry:?} has '*' in an invalid position (only a trailing '*' is allowed)"),
            ));
        }
        if !name.contains(sep) {
            return Err(Error::config(
                at,
                format!("entry {entry:?} does not contain a {sep:?}"),
            ));
        }
        let allow = name.to_ascii_lowercase();
        let drop = allow.replace(sep, "-");
        if glob {
            r.prefixes.push((allow, drop));
        } else {
            r.exact_allow.push(allow);
            r.exact_drop.push(drop);
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::has_separator;

    #[test]
    fn separators_found_at_any_offset() {
        assert!(!has_separator(b"accept-encoding"));
        assert!(!has_separator(b""));
        for i in 0..20 {
            let mut name = vec![b'a'; 20];
            name[i] = b'_';
            assert!(has_separator(&name), "_ at {i}");
            name[i] = b'.';
            assert!(has_separator(&name), ". at {i}");
        }
    }
}
