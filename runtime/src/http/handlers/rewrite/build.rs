//! The `uri` of `rewrite`, as Caddy builds it: the template is split into
//! path and query *before* placeholders are expanded; path placeholders
//! keep the request's escapes (`{http.request.uri.path}` is the escaped
//! path); every query component is expanded on its own and its values are
//! query-escaped (`buildQueryString`), so an empty `{query}` leaves no
//! stray `&`; a `?` that a placeholder brings into the path splits off a
//! query whose braces are escaped, never expanded a second time
//! (GHSA-j8px-rmrx-76h9).

use super::gourl::GoUrl;
use crate::http::replacer::{query_escape, FileField, Key, Template};
use crate::http::Cx;

/// A provisioned `uri`.
pub struct UriTemplate {
    /// The path part, when the template has one.
    path: Option<Template>,
    /// The query components (text up to `=` or `&`, and whether `&` ended
    /// it), when the template has a `?`.
    query: Option<Vec<(Template, bool)>>,
}

impl UriTemplate {
    /// Splits `uri` as Caddy does: the path runs to the first `?` or `#`,
    /// the query to the `#`; the fragment is not part of a request URI.
    pub fn parse(uri: &str) -> UriTemplate {
        let frag = uri.find('#').unwrap_or(uri.len());
        let (path, query) = match uri[..frag].split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (&uri[..frag], None),
        };
        UriTemplate {
            path: (!path.is_empty()).then(|| Template::parse(path)),
            query: query.map(|q| {
                components(q)
                    .into_iter()
                    .map(|(c, amp)| (Template::parse(c), amp))
                    .collect()
            }),
        }
    }

    /// Applies the template to `url`.
    pub fn apply(&self, cx: &Cx<'_>, url: &mut GoUrl) {
        let mut new_path = None;
        let mut injected = None;
        if let Some(t) = &self.path {
            let rendered = t.render_with(cx, &mut |key, value, out| match (key, value) {
                (Some(Key::Path), _) => out.push_str(&url.escaped_path()),
                (Some(Key::FileMatch(FileField::Relative)), Some(v)) => {
                    out.push_str(&escape_preserving_slashes(v))
                }
                (_, Some(v)) => out.push_str(v),
                (_, None) => {}
            });
            match rendered.split_once('?') {
                Some((p, q)) => {
                    injected = Some(q.replace('{', "%7B").replace('}', "%7D"));
                    new_path = Some(p.to_string());
                }
                None => new_path = Some(rendered),
            }
        }
        let query = match (&self.query, injected) {
            (Some(comps), _) if !comps.is_empty() => Some(build_query(cx, comps)),
            (_, Some(inj)) if !inj.is_empty() => {
                let comps: Vec<(Template, bool)> = components(&inj)
                    .into_iter()
                    .map(|(c, amp)| (Template::parse(c), amp))
                    .collect();
                Some(build_query(cx, &comps))
            }
            _ => None,
        };
        if let Some(p) = new_path {
            url.set_escaped_path(&p);
        }
        if self.query.is_some() {
            url.raw_query = query.unwrap_or_default();
        }
    }
}

/// Go's `url.PathEscape` with `%2F` turned back into `/`.
fn escape_preserving_slashes(p: &str) -> String {
    crate::util::go_escape_path(p)
        .replace(';', "%3B")
        .replace(',', "%2C")
}

/// Caddy's split of a query template into components: each runs to the
/// next `=` or `&`; the flag says whether `&` ended it.
fn components(mut qs: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    while !qs.is_empty() {
        let (eq, amp) = (qs.find('='), qs.find('&'));
        let amp_next =
            matches!((amp, eq), (Some(a), Some(e)) if a < e) || (amp.is_some() && eq.is_none());
        let end = match (amp_next, eq) {
            (true, _) => amp.unwrap_or(qs.len()),
            (false, Some(e)) => e,
            (false, None) => qs.len(),
        };
        out.push((&qs[..end], amp_next));
        qs = &qs[(end + 1).min(qs.len())..];
    }
    out
}

/// Caddy's `buildQueryString`: keys and values expanded one by one, values
/// of placeholders query-escaped, except `{http.request.uri.query}` in a
/// key's place (already escaped); empty keys leave no `&`.
fn build_query(cx: &Cx<'_>, comps: &[(Template, bool)]) -> String {
    let mut sb = String::new();
    let mut wrote_val = true;
    for (t, amp_next) in comps {
        let comp = t.render_with(cx, &mut |key, value, out| match (key, value) {
            (Some(Key::Query), Some(v)) if wrote_val => out.push_str(v),
            (_, Some(v)) => query_escape(v, out),
            (_, None) => query_escape("<nil>", out),
        });
        if wrote_val {
            if !sb.is_empty() && !comp.is_empty() {
                sb.push('&');
            }
        } else {
            sb.push('=');
        }
        sb.push_str(&comp);
        wrote_val = *amp_next;
    }
    sb
}

/// Caddy's `trimPathPrefix`: `prefix` is removed from the escaped path,
/// comparing case-insensitively and in decoded form, except where the
/// prefix itself has an escape, which the path must then have too.
pub fn trim_path_prefix(escaped: &str, prefix: &str) -> String {
    let (e, p) = (escaped.as_bytes(), prefix.as_bytes());
    let (mut ie, mut ip) = (0, 0);
    while ie < e.len() && ip < p.len() {
        let mut ch = e[ie];
        if ch == b'%' && p[ip] != b'%' && ie + 3 <= e.len() {
            let hex = std::str::from_utf8(&e[ie + 1..ie + 3]).unwrap_or("");
            let Ok(byte) = u8::from_str_radix(hex, 16) else {
                return escaped.to_string();
            };
            ch = byte;
            ie += 2;
        }
        if !ch.eq_ignore_ascii_case(&p[ip]) {
            return escaped.to_string();
        }
        ie += 1;
        ip += 1;
    }
    if ip >= p.len() {
        escaped[ie..].to_string()
    } else {
        escaped.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{components, trim_path_prefix};

    #[test]
    fn query_components_split_at_eq_and_amp() {
        assert_eq!(
            components("a=b&{q}&c=d"),
            vec![
                ("a", false),
                ("b", true),
                ("{q}", true),
                ("c", false),
                ("d", false)
            ]
        );
    }

    #[test]
    fn prefix_escapes_must_match() {
        assert_eq!(trim_path_prefix("/a%2Fb/c/d", "/a%2Fb/c"), "/d");
        assert_eq!(trim_path_prefix("/a%2Fb/c/d", "/a/b/c"), "/d");
        assert_eq!(trim_path_prefix("/a/b/c/d", "/a%2Fb/c"), "/a/b/c/d");
        assert_eq!(trim_path_prefix("/%61%61", "/aaaaaa"), "/%61%61");
    }
}
