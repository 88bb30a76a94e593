//! The request URI as Go's `net/url.URL` holds it while `rewrite` changes
//! it: the decoded path, the escaped form when it is not the canonical one
//! (`RawPath`), and the raw query. Caddy's rewrite steps are defined on
//! these fields (`changePath`, `EscapedPath`, `RequestURI`), so bellhop
//! keeps the same three to give the same answers, `%2F` and `%3F` kept
//! where the request had them.

use crate::util::go_escape_path;

/// Go's URL fields that a rewrite touches.
pub struct GoUrl {
    pub path: String,
    pub raw_path: Option<String>,
    pub raw_query: String,
}

impl GoUrl {
    /// The URL of a request target as Go's server parses it.
    pub fn from_request(raw_path: &str, raw_query: &str) -> GoUrl {
        let path = path_unescape(raw_path).unwrap_or_else(|| lossy_decode(raw_path));
        let canonical = go_escape_path(&path);
        GoUrl {
            raw_path: (raw_path != canonical).then(|| raw_path.to_string()),
            path,
            raw_query: raw_query.to_string(),
        }
    }

    /// Sets the path from text that may hold escapes (Caddy: the path of
    /// a rewritten `uri`).
    pub fn set_escaped_path(&mut self, p: &str) {
        self.path = path_unescape(p).unwrap_or_else(|| p.to_string());
        self.raw_path = None;
    }

    /// Go's `URL.EscapedPath`.
    pub fn escaped_path(&self) -> String {
        if let Some(raw) = &self.raw_path {
            if valid_encoded(raw) && path_unescape(raw).as_deref() == Some(self.path.as_str()) {
                return raw.clone();
            }
        }
        if self.path == "*" {
            return "*".into();
        }
        go_escape_path(&self.path)
    }

    /// Caddy's `changePath`: `f` rewrites the escaped path, and the
    /// decoded path follows it (or, where the result does not decode,
    /// `f` is applied to the decoded path too).
    pub fn change_path(&mut self, f: impl Fn(&str) -> String) {
        let raw = f(&self.escaped_path());
        self.path = match path_unescape(&raw) {
            Some(p) if !p.is_empty() => p,
            _ => f(&self.path),
        };
        self.raw_path = (raw != go_escape_path(&self.path)).then_some(raw);
    }

    /// Go's `URL.RequestURI`: the escaped path (`/` when empty) and the
    /// query.
    pub fn request_uri(&self) -> String {
        let mut out = self.escaped_path();
        if out.is_empty() {
            out.push('/');
        }
        if !self.raw_query.is_empty() {
            out.push('?');
            out.push_str(&self.raw_query);
        }
        out
    }
}

/// Go's `url.PathUnescape`: `None` on a malformed escape.
pub fn path_unescape(s: &str) -> Option<String> {
    unescape(s, false)
}

/// Go's `url.QueryUnescape` (`+` is a space): `None` on a malformed
/// escape.
pub fn query_unescape(s: &str) -> Option<String> {
    unescape(s, true)
}

fn unescape(s: &str, plus_is_space: bool) -> Option<String> {
    if !s.contains(['%', '+']) {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                let hi = b.get(i + 1).copied().and_then(hex)?;
                let lo = b.get(i + 2).copied().and_then(hex)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn lossy_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Go's `validEncoded(s, encodePath)`: only characters a path may hold
/// unescaped, or escapes.
fn valid_encoded(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@!'()*[]%".contains(&c))
}

#[cfg(test)]
mod tests {
    use super::GoUrl;

    #[test]
    fn escaped_forms_survive_when_not_canonical() {
        let u = GoUrl::from_request("/a%2Fb/c", "");
        assert_eq!(u.path, "/a/b/c");
        assert_eq!(u.request_uri(), "/a%2Fb/c");
        let u = GoUrl::from_request("/%61%61", "x=1");
        assert_eq!(u.path, "/aa");
        assert_eq!(u.request_uri(), "/%61%61?x=1");
        let u = GoUrl::from_request("/plain", "");
        assert!(u.raw_path.is_none());
    }

    #[test]
    fn change_path_keeps_the_decoded_path_in_step() {
        let mut u = GoUrl::from_request("/hello/%28%29", "");
        u.change_path(|p| p.replace("%28", "("));
        assert_eq!(u.path, "/hello/()");
        assert_eq!(u.request_uri(), "/hello/(%29");
    }
}
