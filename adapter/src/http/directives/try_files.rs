//! `try_files` (a `file` matcher plus a `rewrite` to the file found; no
//! matcher token is accepted):
//!
//! ```text
//! try_files <files...> {
//!     policy first_exist|first_exist_fallback|smallest_size|largest_size|most_recently_modified
//! }
//! ```
//!
//! Shorthand for
//!
//! ```text
//! @try_files file {
//!     try_files <files...>
//!     policy <policy>
//! }
//! rewrite @try_files {http.matchers.file.relative}
//! ```
//!
//! A file with a query string (`index.php?{query}`) gets a route of its
//! own whose rewrite keeps that query; consecutive plain files share one
//! route. Two or more routes are grouped, so only the first matching
//! rewrite runs. Unknown subdirectives are skipped, as in Caddy.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::{strings, Obj};
use crate::http::value::{ConfigValue, MatcherSet};

const POLICIES: &[&str] = &[
    "first_exist",
    "first_exist_fallback",
    "largest_size",
    "smallest_size",
    "most_recently_modified",
];

pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    if !h.next() {
        return Err(h.arg_err());
    }
    let files = h.remaining_args();
    if files.is_empty() {
        return Err(h.arg_err());
    }
    let policy = parse_policy(h)?;
    let mut result = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for item in files {
        match item.find('?') {
            Some(idx) => {
                if !pending.is_empty() {
                    result.extend(route(h, &std::mem::take(&mut pending), "", &policy));
                }
                result.extend(route(h, &[item[..idx].to_string()], &item[idx..], &policy));
            }
            None => pending.push(item),
        }
    }
    if !pending.is_empty() {
        result.extend(route(h, &pending, "", &policy));
    }
    h.group_routes(&mut result);
    Ok(result)
}

/// The optional `policy` from the block (at most once, one of
/// [`POLICIES`]).
fn parse_policy(h: &mut Helper) -> Result<String> {
    let mut policy = String::new();
    while h.next_block(0) {
        if h.val() != "policy" {
            continue;
        }
        if !policy.is_empty() {
            return Err(h.error("try policy already configured"));
        }
        let Some(p) = h.next_arg_value() else {
            return Err(h.arg_err());
        };
        if !POLICIES.contains(&p.as_str()) {
            return Err(h.error(format!("unrecognized try policy: {p}")));
        }
        policy = p;
    }
    Ok(policy)
}

/// One route: a `file` matcher over `try` and a rewrite to the matched
/// file, with `query` appended.
fn route(h: &Helper, try_files: &[String], query: &str, policy: &str) -> Vec<ConfigValue> {
    let file = Obj::new()
        .opt("try_files", strings(try_files))
        .opt("try_policy", policy)
        .build();
    let mut set = MatcherSet::new();
    set.insert("file".into(), file);
    let rewrite = Obj::handler("rewrite")
        .set("uri", format!("{{http.matchers.file.relative}}{query}"))
        .build();
    h.new_route(Some(set), rewrite)
}

#[cfg(test)]
mod tests {
    use crate::http::testutil::{adapt, routes};
    use serde_json::json;

    #[test]
    fn plain_files_make_one_ungrouped_route() {
        let r = routes(":80 {\n try_files {path} /index.html\n}");
        assert_eq!(r.as_array().unwrap().len(), 1);
        assert!(r[0].get("group").is_none());
        assert_eq!(
            r[0]["match"],
            json!([{"file": {"try_files": ["{http.request.uri.path}", "/index.html"]}}])
        );
    }

    #[test]
    fn query_strings_split_routes_into_a_group() {
        let r = routes(":80 {\n try_files a b?x=1 c {\n policy smallest_size\n }\n}");
        let r = r.as_array().unwrap();
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|x| x["group"] == json!("group0")));
        assert_eq!(
            r[1]["handle"][0]["uri"],
            json!("{http.matchers.file.relative}?x=1")
        );
        assert_eq!(
            r[1]["match"][0]["file"]["try_policy"],
            json!("smallest_size")
        );
    }

    #[test]
    fn policy_errors() {
        let e = adapt(":80 {\n try_files a {\n policy best\n }\n}").unwrap_err();
        assert!(e.message.contains("unrecognized try policy: best"));
        let e = adapt(":80 {\n try_files a {\n policy first_exist\n policy first_exist\n }\n}")
            .unwrap_err();
        assert!(e.message.contains("try policy already configured"));
        let e = adapt(":80 {\n try_files\n}").unwrap_err();
        assert!(e.message.contains("wrong argument count"));
    }
}
