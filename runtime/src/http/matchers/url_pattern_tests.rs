//! Unit tests of URL pattern parsing: component splitting and the
//! pattern-to-regexp compiler, against examples from the URL Pattern
//! standard's explainer.

use super::component::{compile, Kind};
use super::split;

fn groups(pattern: &str, input: &str) -> Option<Vec<(String, String)>> {
    let c = compile(pattern, Kind::Pathname, false).unwrap();
    let caps = c.re.captures(input)?;
    Some(
        c.names
            .iter()
            .zip(caps.iter().skip(1))
            .map(|(n, m)| (n.clone(), m.map_or("", |m| m.as_str()).to_string()))
            .collect(),
    )
}

fn pairs(v: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    )
}

#[test]
fn pathname_syntax() {
    assert_eq!(groups("/books/:id", "/books/42"), pairs(&[("id", "42")]));
    assert_eq!(groups("/books/:id", "/books/42/x"), None);
    assert_eq!(groups("/books/:id", "/books/"), None);
    assert_eq!(groups("/books/:id(\\d+)", "/books/abc"), None);
    assert_eq!(groups("/books/:id?", "/books"), pairs(&[("id", "")]));
    assert_eq!(groups("/api/*", "/api/v1/x"), pairs(&[("0", "v1/x")]));
    assert_eq!(
        groups("/:a/(\\d+)/*", "/x/12/rest"),
        pairs(&[("a", "x"), ("0", "12"), ("1", "rest")])
    );
    assert_eq!(
        groups("/files/:path+", "/files/a/b"),
        pairs(&[("path", "a/b")])
    );
    assert_eq!(groups("/files/:path*", "/files"), pairs(&[("path", "")]));
    assert_eq!(groups("/books{/}?", "/books/"), pairs(&[]));
    assert_eq!(groups("/books{/}?", "/books"), pairs(&[]));
    assert_eq!(groups("/a\\:b", "/a:b"), pairs(&[]));
    assert!(compile("/x/:", Kind::Pathname, false).is_err());
    assert!(compile("/x/(a", Kind::Pathname, false).is_err());
}

#[test]
fn hostname_segments_and_case() {
    let c = compile("*.example.com", Kind::Hostname, true).unwrap();
    assert!(c.re.is_match("api.EXAMPLE.com"));
    let c = compile(":sub.example.com", Kind::Hostname, false).unwrap();
    assert!(!c.re.is_match("a.b.example.com"));
}

#[test]
fn splitting_components() {
    let t = split("/books/:id", "").unwrap();
    assert_eq!(t, ["*", "*", "*", "/books/:id", "*", "*"].map(String::from));
    let t = split("https://example.com/users/:name", "").unwrap();
    assert_eq!(
        t,
        ["https", "example.com", "", "/users/:name", "*", "*"].map(String::from)
    );
    let t = split("/api/:version/*", "https://example.com:8443").unwrap();
    assert_eq!(
        t,
        ["https", "example.com", "8443", "/api/:version/*", "*", "*"].map(String::from)
    );
    let t = split("/s/x?q=:v#top", "").unwrap();
    assert_eq!(t, ["*", "*", "*", "/s/x", "q=:v", "top"].map(String::from));
    // A `?` after a group is its modifier, not the start of the search.
    let t = split("/s/:id?q=:v", "").unwrap();
    assert_eq!((t[3].as_str(), t[4].as_str()), ("/s/:id?q=:v", "*"));
    assert!(split("/x", "not a url").is_err());
}
