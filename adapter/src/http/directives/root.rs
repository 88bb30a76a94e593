//! `root` (a `vars` handler setting the `root` variable, the site root
//! that `file_server`, `try_files`, `php_fastcgi` and the file matcher
//! use):
//!
//! ```text
//! root [<matcher>] <path>
//! ```
//!
//! With one argument it is the path and no matcher applies (so `root
//! /srv` is the same as `root * /srv`); with two, the first is the
//! matcher token. `root` routes are mutually exclusive: two or more in
//! one block share a group, so only the first matching one runs.

use super::rewrite::matcher_and_value;
use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use crate::http::value::ConfigValue;

pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    let (matcher, root) = matcher_and_value(
        h,
        "too few arguments; must have at least a root path",
        "too many arguments; should only be a matcher and a path",
    )?;
    let handler = Obj::handler("vars").set("root", root).build();
    Ok(h.new_route(matcher, handler))
}

#[cfg(test)]
mod tests {
    use crate::http::testutil::{adapt, routes};
    use serde_json::json;

    #[test]
    fn one_root_has_no_group() {
        let r = routes(":80 {\n root * /srv\n}");
        assert_eq!(
            r[0],
            json!({"handle": [{"handler": "vars", "root": "/srv"}]})
        );
    }

    #[test]
    fn several_roots_share_a_group_most_specific_first() {
        let r = routes(":80 {\n root /srv\n root /a* /srv/a\n}");
        assert_eq!(r[0]["group"], r[1]["group"]);
        assert_eq!(r[0]["match"], json!([{"path": ["/a*"]}]));
        assert_eq!(r[1]["handle"][0]["root"], json!("/srv"));
    }

    #[test]
    fn argument_counts() {
        let e = adapt(":80 {\n root\n}").unwrap_err();
        assert!(e
            .message
            .contains("too few arguments; must have at least a root path"));
        let e = adapt(":80 {\n root * /a /b\n}").unwrap_err();
        assert!(e
            .message
            .contains("too many arguments; should only be a matcher and a path"));
    }
}
