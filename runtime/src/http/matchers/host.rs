//! `http.matchers.host`: the request's host (without port) is one of a
//! list, case-insensitively. `*` stands for exactly one label
//! (`*.example.com`); placeholders are allowed. A host given twice is a
//! config error, as in Caddy. Internationalized names compare in their
//! ASCII (punycode) form, as Caddy converts them when provisioning.

use crate::error::{Error, HttpError};
use crate::http::replacer::Template;
use crate::http::{Cx, Matcher};
use crate::registry::Provision;
use serde_json::Value;

struct MatchHost {
    /// Lowercased literal hosts.
    exact: Vec<String>,
    /// Hosts with wildcards or placeholders.
    fuzzy: Vec<Template>,
}

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let hosts = super::string_list(v, p, path)?;
    let mut m = MatchHost {
        exact: Vec::new(),
        fuzzy: Vec::new(),
    };
    let hosts: Vec<String> = hosts.iter().map(|h| to_ascii(h)).collect();
    for (i, h) in hosts.iter().enumerate() {
        if hosts[..i].iter().any(|o| o.eq_ignore_ascii_case(h)) {
            return Err(Error::config(
                format!("{path}[{i}]"),
                format!("host {h} specified more than once"),
            ));
        }
        if h.contains(['*', '{']) {
            m.fuzzy.push(Template::parse(h));
        } else {
            m.exact.push(h.to_ascii_lowercase());
        }
    }
    Ok(Box::new(m))
}

/// Go's `idna.ToASCII` (Punycode profile): each label with non-ASCII
/// characters becomes `xn--` and its punycode.
fn to_ascii(host: &str) -> String {
    if host.is_ascii() {
        return host.to_string();
    }
    let labels: Vec<String> =
        host.split('.')
            .map(|l| match l.is_ascii() {
                true => l.to_string(),
                false => idna::punycode::encode_str(l)
                    .map_or_else(|| l.to_string(), |p| format!("xn--{p}")),
            })
            .collect();
    labels.join(".")
}

/// Whether `host` fits `pattern`, label by label, `*` being any one label.
fn wildcard_match(pattern: &str, host: &str) -> bool {
    if !pattern.contains('*') {
        return pattern.eq_ignore_ascii_case(host);
    }
    let (mut pl, mut hl) = (pattern.split('.'), host.split('.'));
    loop {
        match (pl.next(), hl.next()) {
            (None, None) => return true,
            (Some(p), Some(h)) if p == "*" || p.eq_ignore_ascii_case(h) => {}
            _ => return false,
        }
    }
}

impl Matcher for MatchHost {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        let host = cx.host();
        if self.exact.iter().any(|e| e.eq_ignore_ascii_case(host)) {
            return Ok(true);
        }
        Ok(self
            .fuzzy
            .iter()
            .any(|t| wildcard_match(&t.render(cx), host)))
    }

    fn exact_hosts(&self) -> Option<&[String]> {
        self.fuzzy.is_empty().then_some(&self.exact[..])
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards_match_one_label() {
        assert!(wildcard_match("*.example.com", "a.EXAMPLE.com"));
        assert!(!wildcard_match("*.example.com", "a.b.example.com"));
        assert!(!wildcard_match("*.example.com", "example.com"));
    }
}
