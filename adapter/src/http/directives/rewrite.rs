//! `rewrite` (a `rewrite` handler setting the URI):
//!
//! ```text
//! rewrite [<matcher>] <to>
//! ```
//!
//! With one argument it is the URI and no matcher applies; with two, the
//! first is the matcher token. Not a plain handler directive: it builds
//! its route itself, and `rewrite` routes always get a group of their own
//! (so a rewrite is never consolidated with a neighbour).

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use crate::http::value::{ConfigValue, MatcherSet};

pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    let (matcher, uri) = matcher_and_value(
        h,
        "too few arguments; must have at least a rewrite URI",
        "too many arguments; should only be a matcher and a URI",
    )?;
    let handler = Obj::handler("rewrite").opt("uri", uri).build();
    Ok(h.new_route(matcher, handler))
}

/// Reads `[<matcher>] <value>` after the directive name, as `rewrite` and
/// `root` do: one argument is the value; with two, the first is taken as
/// a matcher token when it is one (otherwise it is the value, as in
/// Caddy). `few` and `many` are the errors for 0 and more than 2
/// arguments.
pub fn matcher_and_value(
    h: &mut Helper,
    few: &str,
    many: &str,
) -> Result<(Option<MatcherSet>, String)> {
    h.next();
    match h.count_remaining_args() {
        0 => return Err(h.error(few)),
        1 => {
            h.next_arg();
            return Ok((None, h.val().to_string()));
        }
        2 => {}
        _ => return Err(h.error(many)),
    }
    let matcher = h.extract_matcher_set()?;
    // matcher extraction rewinds: back onto the name, then the value
    h.next();
    h.next();
    Ok((matcher, h.val().to_string()))
}

#[cfg(test)]
mod tests {
    use crate::http::testutil::{adapt, routes};
    use serde_json::json;

    #[test]
    fn lone_rewrite_gets_its_own_group() {
        let r = routes(":80 {\n rewrite /a /b\n}");
        assert_eq!(r[0]["group"], json!("group0"));
        assert_eq!(r[0]["match"], json!([{"path": ["/a"]}]));
        assert_eq!(r[0]["handle"], json!([{"handler": "rewrite", "uri": "/b"}]));
    }

    #[test]
    fn non_matcher_first_argument_is_the_uri() {
        let r = routes(":80 {\n rewrite foo /b\n}");
        assert_eq!(r[0]["handle"][0]["uri"], json!("foo"));
        assert!(r[0].get("match").is_none());
    }

    #[test]
    fn argument_counts() {
        let e = adapt(":80 {\n rewrite\n}").unwrap_err();
        assert!(e
            .message
            .contains("too few arguments; must have at least a rewrite URI"));
        let e = adapt(":80 {\n rewrite a b c\n}").unwrap_err();
        assert!(e.message.contains("too many arguments"));
    }
}
