//! Response matchers (Caddy's `caddyhttp.ResponseMatcher`), used by
//! `header … { match … }`, `encode { match … }`, `intercept` and
//! `reverse_proxy`'s `handle_response`:
//!
//! ```text
//! @name {
//!     status <code...>
//!     header <field> [<value>]
//! }
//! @name [header <field> [<value>]] | [status <code...>]
//! ```
//!
//! Status codes are numbers, or `Nxx` for a whole class (written as `N`).
//! `header` lines reuse the request `header` matcher's syntax and merge.

use super::matchers;
use crate::error::Result;
use crate::syntax::{Dispenser, Token};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Named response matchers: name (with its `@`, or `match`) → JSON.
pub type ResponseMatcherDefs = HashMap<String, Value>;

/// Parses the definition(s) in `d` (a dispenser over one segment whose
/// first token is the name) into `defs` (Caddy's
/// `ParseNamedResponseMatcher`).
pub fn parse_named(mut d: Dispenser, defs: &mut ResponseMatcherDefs) -> Result<()> {
    while d.next() {
        let name = d.val().to_string();
        if defs.contains_key(&name) {
            return Err(d.err(format!("matcher is defined more than once: {name}")));
        }
        let matcher = parse_body(&mut d)?;
        defs.insert(name, matcher);
    }
    Ok(())
}

/// Parses one response matcher definition whose name is the first token
/// of `d` and returns its JSON.
pub fn parse_single(d: Dispenser) -> Result<Value> {
    let mut defs = ResponseMatcherDefs::new();
    let name = d
        .tokens()
        .first()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    parse_named(d, &mut defs)?;
    Ok(defs
        .remove(&name)
        .unwrap_or_else(|| Value::Object(Map::new())))
}

/// The matcher's lines after its name (on the same line or in a block).
fn parse_body(d: &mut Dispenser) -> Result<Value> {
    let mut status: Option<Vec<Value>> = None;
    let mut header_tokens: Option<Vec<Token>> = None;
    let nesting = d.nesting();
    while d.next_arg() || d.next_block(nesting) {
        match d.val() {
            "header" => {
                let seg = d.next_segment();
                // validate this line on its own, merge all lines below
                header_matcher(seg.clone())?;
                header_tokens.get_or_insert_with(Vec::new).extend(seg);
            }
            "status" => {
                let codes = status.get_or_insert_with(Vec::new);
                let args = d.remaining_args();
                if args.is_empty() {
                    return Err(d.arg_err());
                }
                for arg in args {
                    codes.push(Value::from(status_code(d, &arg)?));
                }
            }
            other => return Err(d.err(format!("unrecognized response matcher {other}"))),
        }
    }
    let mut m = Map::new();
    if let Some(codes) = status.filter(|c| !c.is_empty()) {
        m.insert("status_code".into(), Value::Array(codes));
    }
    if let Some(tokens) = header_tokens {
        let headers = header_matcher(tokens)?;
        if headers.as_object().is_some_and(|o| !o.is_empty()) {
            m.insert("headers".into(), headers);
        }
    }
    Ok(Value::Object(m))
}

/// A status code argument: `404`, or `4xx` for the class `4`.
fn status_code(d: &Dispenser, arg: &str) -> Result<i64> {
    let arg = if arg.len() == 3 && arg.ends_with("xx") {
        &arg[..1]
    } else {
        arg
    };
    super::goconv::atoi(arg).map_err(|e| d.err(format!("bad status value '{arg}': {e}")))
}

/// Runs the request `header` matcher's parser over `header …` lines.
fn header_matcher(tokens: Vec<Token>) -> Result<Value> {
    let parse = matchers::lookup("header").expect("the header matcher is standard");
    let mut sub = Dispenser::new(tokens);
    parse(&mut sub, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testutil::tokens;
    use serde_json::json;

    fn one(src: &str) -> Result<Value> {
        parse_single(Dispenser::new(tokens(src)))
    }

    #[test]
    fn block_and_single_line() {
        let v =
            one("@m {\n status 2xx 404\n header Content-Type text/*\n header content-type a\n}")
                .unwrap();
        assert_eq!(
            v,
            json!({"status_code": [2, 404], "headers": {"Content-Type": ["text/*", "a"]}})
        );
        assert_eq!(
            one("match status 200").unwrap(),
            json!({"status_code": [200]})
        );
        assert_eq!(one("match").unwrap(), json!({}));
    }

    #[test]
    fn errors() {
        let e = one("@m status 2x").unwrap_err();
        assert!(e.message.contains("bad status value '2x': strconv.Atoi"));
        let e = one("@m bogus").unwrap_err();
        assert!(e.message.contains("unrecognized response matcher bogus"));
        let e = one("@m status").unwrap_err();
        assert!(e.message.contains("wrong argument count"));
        let mut defs = ResponseMatcherDefs::new();
        parse_named(Dispenser::new(tokens("@a status 200")), &mut defs).unwrap();
        let e = parse_named(Dispenser::new(tokens("@a status 201")), &mut defs).unwrap_err();
        assert!(e.message.contains("matcher is defined more than once: @a"));
    }
}
