//! Directive order: Caddy's default order of HTTP handler directives
//! (`defaultDirectiveOrder` in httpcaddyfile/directives.go), the `order`
//! global option's edits, and the sorting of a site's routes.

use super::gosort::stable_sort;
use super::value::{ConfigValue, Payload};
use serde_json::Value;
use std::collections::HashMap;

/// The order in which handler directives run within a route list.
///
/// `root` comes early because rewrites and redirects may depend on files
/// existing (the file matcher needs the root); `header` comes before
/// `redir` so headers can be set on redirects; responders come last.
pub const DEFAULT_DIRECTIVE_ORDER: &[&str] = &[
    "tracing",
    // set variables that may be used by other directives
    "map",
    "vars",
    "fs",
    "root",
    "log_append",
    "skip_log", // deprecated, renamed to log_skip
    "log_skip",
    "log_name",
    "header",
    "copy_response_headers", // only in reverse_proxy's handle_response
    "request_body",
    "timeouts", // wraps the response writer, so keep it close to the real writer
    "redir",
    // incoming request manipulation
    "method",
    "rewrite",
    "uri",
    "try_files",
    // middleware handlers; some wrap responses
    "basicauth", // deprecated, renamed to basic_auth
    "basic_auth",
    "forward_auth",
    "request_header",
    "encode",
    "push",
    "intercept",
    "templates",
    // special routing & dispatching directives
    "invoke",
    "handle",
    "handle_path",
    "route",
    // handlers that typically respond to requests
    "abort",
    "error",
    "copy_response", // only in reverse_proxy's handle_response
    "respond",
    "metrics",
    "reverse_proxy",
    "php_fastcgi",
    "file_server",
    "acme_server",
];

/// The default order as owned strings (the `order` option edits a copy).
pub fn default_order() -> Vec<String> {
    DEFAULT_DIRECTIVE_ORDER
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Sorts routes by directive order; among routes of the same directive,
/// single-path matchers most specific first, matcher-less last, reversed
/// for `vars` (Caddy's `sortRoutes`).
pub fn sort_routes(routes: &mut [ConfigValue], order: &[String]) {
    let positions: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let pos = |d: &str| positions.get(d).copied().unwrap_or(0);
    stable_sort(routes, |i, j| {
        if i.directive != j.directive {
            return pos(&i.directive) < pos(&j.directive);
        }
        let (Payload::Route(ir), Payload::Route(jr)) = (&i.value, &j.value) else {
            return false;
        };
        let ip = single_path(&ir.matchers);
        let jp = single_path(&jr.matchers);
        let by_path = match (ip, jp) {
            (Some(ip), Some(jp)) if !ip.is_empty() && !jp.is_empty() => compare_paths(ip, jp),
            _ => !ir.matchers.is_empty() && jr.matchers.is_empty(),
        };
        if i.directive == "vars" {
            !by_path
        } else {
            by_path
        }
    });
}

/// The one path of a route's path matcher, if the route has exactly one
/// matcher set whose path matcher has exactly one path.
fn single_path(sets: &[super::value::MatcherSet]) -> Option<&str> {
    if sets.len() != 1 {
        return None;
    }
    match sets[0].get("path") {
        Some(Value::Array(paths)) if paths.len() == 1 => paths[0].as_str(),
        _ => None,
    }
}

/// Whether path `i` sorts before path `j` (more specific first).
fn compare_paths(i: &str, j: &str) -> bool {
    let it = i.strip_suffix('*').unwrap_or(i);
    let jt = j.strip_suffix('*').unwrap_or(j);
    if it == jt {
        return i.len() < j.len();
    }
    if it.len() == jt.len() {
        return it < jt;
    }
    it.len() > jt.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::value::{class, MatcherSet, Route};
    use serde_json::json;

    fn route(dir: &str, path: Option<&str>) -> ConfigValue {
        let set = path.map(|p| {
            let mut s = MatcherSet::new();
            s.insert("path".into(), json!([p]));
            s
        });
        let mut v = ConfigValue::new(
            class::ROUTE,
            Payload::Route(Route::with_handler(set, json!({"handler": dir}))),
        );
        v.directive = dir.into();
        v
    }

    fn paths(v: &[ConfigValue]) -> Vec<String> {
        v.iter()
            .map(|c| match &c.value {
                Payload::Route(r) => r
                    .matchers
                    .first()
                    .map(|m| m["path"][0].as_str().unwrap().to_string())
                    .unwrap_or_else(|| "-".into()),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn most_specific_path_first_and_no_matcher_last() {
        let mut v = vec![
            route("respond", None),
            route("respond", Some("/a*")),
            route("respond", Some("/a/b")),
            route("respond", Some("/a")),
        ];
        sort_routes(&mut v, &default_order());
        assert_eq!(paths(&v), ["/a/b", "/a", "/a*", "-"]);
    }

    #[test]
    fn vars_reversed_and_directive_order_applies() {
        let mut v = vec![
            route("respond", None),
            route("vars", Some("/x")),
            route("vars", None),
        ];
        sort_routes(&mut v, &default_order());
        assert_eq!(v[0].directive, "vars");
        assert_eq!(paths(&v), ["-", "/x", "-"]);
    }
}
