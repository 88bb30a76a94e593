//! Placeholder shorthands: `{host}` → `{http.request.host}`, `{header.X}`
//! → `{http.request.header.X}`, `{re.name.1}` → `{http.regexp.name.1}`, …
//! (Caddy's shorthands.go), applied to every token of a site block before
//! its directives are parsed.

use crate::syntax::Token;
use regex::Regex;

/// Fixed shorthands and their replacements.
const SIMPLE: &[(&str, &str)] = &[
    ("{host}", "{http.request.host}"),
    ("{hostport}", "{http.request.hostport}"),
    ("{port}", "{http.request.port}"),
    ("{orig_method}", "{http.request.orig_method}"),
    ("{orig_uri}", "{http.request.orig_uri}"),
    ("{orig_path}", "{http.request.orig_uri.path}"),
    ("{orig_dir}", "{http.request.orig_uri.path.dir}"),
    ("{orig_file}", "{http.request.orig_uri.path.file}"),
    ("{orig_query}", "{http.request.orig_uri.query}"),
    ("{orig_?query}", "{http.request.orig_uri.prefixed_query}"),
    ("{method}", "{http.request.method}"),
    ("{uri}", "{http.request.uri}"),
    ("{path}", "{http.request.uri.path}"),
    ("{dir}", "{http.request.uri.path.dir}"),
    ("{file}", "{http.request.uri.path.file}"),
    ("{query}", "{http.request.uri.query}"),
    ("{?query}", "{http.request.uri.prefixed_query}"),
    ("{remote}", "{http.request.remote}"),
    ("{remote_host}", "{http.request.remote.host}"),
    ("{remote_port}", "{http.request.remote.port}"),
    ("{scheme}", "{http.request.scheme}"),
    ("{uuid}", "{http.request.uuid}"),
    ("{tls_cipher}", "{http.request.tls.cipher_suite}"),
    ("{tls_version}", "{http.request.tls.version}"),
    (
        "{tls_client_fingerprint}",
        "{http.request.tls.client.fingerprint}",
    ),
    ("{tls_client_issuer}", "{http.request.tls.client.issuer}"),
    ("{tls_client_serial}", "{http.request.tls.client.serial}"),
    ("{tls_client_subject}", "{http.request.tls.client.subject}"),
    (
        "{tls_client_certificate_pem}",
        "{http.request.tls.client.certificate_pem}",
    ),
    (
        "{tls_client_certificate_der_base64}",
        "{http.request.tls.client.certificate_der_base64}",
    ),
    (
        "{upstream_hostport}",
        "{http.reverse_proxy.upstream.hostport}",
    ),
    ("{client_ip}", "{http.vars.client_ip}"),
];

/// Shorthands with a user-chosen last part: (prefix, replacement prefix,
/// whether dots are allowed in the part).
const COMPLEX: &[(&str, &str, bool)] = &[
    ("header", "http.request.header", false),
    ("cookie", "http.request.cookie", false),
    ("labels", "http.request.host.labels", false),
    ("path", "http.request.uri.path", false),
    ("file", "http.request.uri.path.file", false),
    ("query", "http.request.uri.query", false),
    ("re", "http.regexp", true),
    ("vars", "http.vars", false),
    ("rp", "http.reverse_proxy", true),
    ("resp", "http.intercept", true),
    ("err", "http.error", true),
    ("file_match", "http.matchers.file", false),
];

/// Replaces shorthands in tokens; build once per adaptation.
#[derive(Debug)]
pub struct ShorthandReplacer {
    complex: Vec<(Regex, String)>,
}

impl Default for ShorthandReplacer {
    fn default() -> Self {
        Self::new()
    }
}

impl ShorthandReplacer {
    pub fn new() -> Self {
        let complex = COMPLEX
            .iter()
            .map(|(p, r, dots)| {
                let class = if *dots { r"[\w\-.]*" } else { r"[\w-]*" };
                let re = Regex::new(&format!(r"\{{{p}\.({class})\}}")).expect("valid regex");
                (re, format!("{{{r}.${{1}}}}"))
            })
            .collect();
        Self { complex }
    }

    /// The text with every shorthand replaced.
    pub fn replace(&self, text: &str) -> String {
        if !text.contains('{') {
            return text.to_string();
        }
        let mut s = replace_simple(text);
        for (re, rep) in &self.complex {
            if re.is_match(&s) {
                s = re.replace_all(&s, rep.as_str()).into_owned();
            }
        }
        s
    }

    /// Applies to every token of a segment.
    pub fn apply(&self, segment: &mut [Token]) {
        for t in segment {
            if t.text.contains('{') {
                t.text = self.replace(&t.text);
            }
        }
    }
}

/// Go's `strings.Replacer` over [`SIMPLE`]: at each position the first
/// matching pattern (in table order) wins, and replaced text is not
/// rescanned.
fn replace_simple(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    let bytes = text.as_bytes();
    'outer: while i < bytes.len() {
        if bytes[i] == b'{' {
            for (from, to) in SIMPLE {
                if text[i..].starts_with(from) {
                    out.push_str(to);
                    i += from.len();
                    continue 'outer;
                }
            }
        }
        let ch = text[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

/// The shorthand whose replacement `token` is (braces ignored), as
/// Caddy's `WasReplacedPlaceholderShorthand` reports it: `map` may not
/// write to `{http.request.host}`, which a user wrote as `{host}`.
pub fn was_replaced_shorthand(token: &str) -> Option<&'static str> {
    let bare = token.trim_matches(['{', '}']);
    SIMPLE
        .iter()
        .find(|(_, to)| to.trim_matches(['{', '}']) == bare)
        .map(|(from, _)| *from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_simple_and_complex() {
        let r = ShorthandReplacer::new();
        assert_eq!(
            r.replace("{host}{path}"),
            "{http.request.host}{http.request.uri.path}"
        );
        assert_eq!(r.replace("{header.X-Y}"), "{http.request.header.X-Y}");
        assert_eq!(r.replace("{re.port.1}"), "{http.regexp.port.1}");
        assert_eq!(r.replace("{query.q}"), "{http.request.uri.query.q}");
        assert_eq!(r.replace("{?query}"), "{http.request.uri.prefixed_query}");
        assert_eq!(r.replace("{unknown}"), "{unknown}");
    }

    #[test]
    fn replaced_shorthand_is_reported() {
        assert_eq!(
            was_replaced_shorthand("{http.request.host}"),
            Some("{host}")
        );
        assert_eq!(was_replaced_shorthand("{my_var}"), None);
    }
}
