//! `Link` response fields as Caddy's push handler reads them
//! (`parseLinkHeader`): comma-separated links, each `<uri>` followed by
//! `;`-separated parameters, `key=value` or a bare `key` (which stands for
//! `key=key`). A part without both `<` and `>` is skipped.

/// One link: its URI and parameters, in order.
#[derive(Debug, PartialEq)]
pub struct Link<'a> {
    pub uri: &'a str,
    pub params: Vec<(&'a str, &'a str)>,
}

impl Link<'_> {
    /// Whether the link has the parameter `key`.
    pub fn has(&self, key: &str) -> bool {
        self.params.iter().any(|(k, _)| *k == key)
    }
}

/// The links of one `Link` field value.
pub fn parse(header: &str) -> Vec<Link<'_>> {
    if header.is_empty() {
        return Vec::new();
    }
    header.split(',').filter_map(link).collect()
}

fn link(part: &str) -> Option<Link<'_>> {
    let (open, close) = (part.find('<')?, part.find('>')?);
    // Go slices link[li+1:ri]; a `>` before the `<` would panic there.
    let uri = part.get(open + 1..close)?.trim();
    let mut params: Vec<(&str, &str)> = Vec::new();
    for param in part[close + 1..].trim().split(';') {
        let param = param.trim();
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (param, param),
        };
        if key.is_empty() {
            continue;
        }
        // A map in Go: a repeated key keeps its last value.
        match params.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => params.push((key, value)),
        }
    }
    Some(Link { uri, params })
}

/// Whether a link points elsewhere: a scheme or a protocol-relative URI
/// (Caddy's `isRemoteResource`).
pub fn is_remote(uri: &str) -> bool {
    uri.starts_with("//") || uri.starts_with("http://") || uri.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Caddy's `TestParseLinkHeader` (modules/caddyhttp/push/link_test.go).
    #[test]
    fn parses_links_as_caddy() {
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, &[(&str, &[(&str, &str)])])] = &[
            (
                "</resource>; as=script",
                &[("/resource", &[("as", "script")])],
            ),
            ("</resource>", &[("/resource", &[])]),
            (
                "</resource>; nopush",
                &[("/resource", &[("nopush", "nopush")])],
            ),
            (
                "</resource>;nopush;rel=next",
                &[("/resource", &[("nopush", "nopush"), ("rel", "next")])],
            ),
            (
                "</resource>;nopush;rel=next,</resource2>;nopush",
                &[
                    ("/resource", &[("nopush", "nopush"), ("rel", "next")]),
                    ("/resource2", &[("nopush", "nopush")]),
                ],
            ),
            (
                "</resource>,</resource2>",
                &[("/resource", &[]), ("/resource2", &[])],
            ),
            ("malformed", &[]),
            ("<malformed", &[]),
            (",", &[]),
            (";", &[]),
            ("</resource> ; ", &[("/resource", &[])]),
        ];
        for (header, want) in cases {
            let want: Vec<Link> = want
                .iter()
                .map(|(uri, params)| Link {
                    uri,
                    params: params.to_vec(),
                })
                .collect();
            assert_eq!(parse(header), want, "header {header:?}");
        }
    }

    #[test]
    fn a_close_before_the_open_is_skipped() {
        assert_eq!(parse("> <x"), Vec::new());
    }

    #[test]
    fn remote_resources() {
        for uri in ["//cdn.test/a.js", "http://x/a", "https://x/a"] {
            assert!(is_remote(uri), "{uri}");
        }
        assert!(!is_remote("/a.js"));
    }
}
