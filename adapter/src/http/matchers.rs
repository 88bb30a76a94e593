//! Request matchers: the `@name` definitions of a site (on one line or as a
//! block, with the CEL shorthand), inline matcher tokens (`*`, `/path`,
//! `@name`), and the table of matcher modules, one file each under
//! `matchers/`.
//!
//! A matcher module's `parse(d, name)` gets a dispenser over all the
//! instances of that matcher in one set, concatenated (Caddy merges them:
//! `header Foo a` and `header Foo b` become one header matcher), and the
//! definition's name without `@` (regexp matchers use it for capture
//! groups). It returns the matcher's JSON in Go struct field order.

mod client_ip;
pub(crate) mod expression;
mod file;
mod header;
mod header_regexp;
mod host;
mod method;
mod not;
mod path;
mod path_regexp;
mod protocol;
mod query;
mod regexp;
mod remote_ip;
mod tls;
mod url_pattern;
mod vars;
mod vars_regexp;

use super::value::MatcherSet;
use crate::error::{Error, Result};
use crate::syntax::{Dispenser, Token};
use serde_json::Value;
use std::collections::HashMap;

/// The JSON of an `expression` matcher (a bare string without a name).
pub fn expression_json(expr: &str, name: &str) -> Value {
    expression::json(expr, name)
}

/// The prefix of named matchers.
pub const PREFIX: &str = "@";

/// Named matcher definitions in scope: `@name` → matcher set.
pub type MatcherDefs = HashMap<String, MatcherSet>;

/// A matcher module's parse function.
pub type MatcherFn = fn(&mut Dispenser, &str) -> Result<Value>;

/// The standard matcher modules (`http.matchers.*`).
pub fn lookup(name: &str) -> Option<MatcherFn> {
    Some(match name {
        "client_ip" => client_ip::parse,
        "expression" => expression::parse,
        "file" => file::parse,
        "header" => header::parse,
        "header_regexp" => header_regexp::parse,
        "host" => host::parse,
        "method" => method::parse,
        "not" => not::parse,
        "path" => path::parse,
        "path_regexp" => path_regexp::parse,
        "protocol" => protocol::parse,
        "query" => query::parse,
        "remote_ip" => remote_ip::parse,
        "tls" => tls::parse,
        "url_pattern" => url_pattern::parse,
        "vars" => vars::parse,
        "vars_regexp" => vars_regexp::parse,
        _ => return None,
    })
}

/// Interprets a matcher token: `*` (all requests, `Some(None)`), `/path`,
/// or `@name`; `None` if the token is no matcher.
pub fn set_from_token(tok: &Token, defs: &MatcherDefs) -> Result<Option<Option<MatcherSet>>> {
    let text = tok.text.as_str();
    if text == "*" {
        return Ok(Some(None));
    }
    if text.starts_with('/') {
        let mut set = MatcherSet::new();
        set.insert(
            "path".into(),
            Value::Array(vec![Value::String(text.into())]),
        );
        return Ok(Some(Some(set)));
    }
    if text.starts_with(PREFIX) {
        return match defs.get(text) {
            Some(set) => Ok(Some(Some(set.clone()))),
            None => Err(Error::at(tok, format!("unrecognized matcher name: {text}"))),
        };
    }
    Ok(None)
}

/// Parses one `@name …` segment into `defs` (Caddy's
/// `parseMatcherDefinitions`).
pub fn parse_definition(segment: Vec<Token>, defs: &mut MatcherDefs) -> Result<()> {
    let mut d = Dispenser::new(segment);
    d.next();
    let def_name = d.val().to_string();
    if defs.contains_key(&def_name) {
        return Err(d.err(format!("matcher is defined more than once: {def_name}")));
    }
    let short = def_name.trim_start_matches(PREFIX).to_string();
    if d.next_arg() {
        if let Some(tok) = d.token().filter(|t| t.was_quoted()).cloned() {
            let mut name_tok = tok.clone();
            name_tok.text = "expression".into();
            let value = make_matcher("expression", vec![name_tok, tok], &short)?;
            let mut set = MatcherSet::new();
            set.insert("expression".into(), value);
            defs.insert(def_name, set);
            return Ok(());
        }
        d.prev();
    }
    let set = parse_set_body(&mut d, &short)?;
    defs.insert(def_name, set);
    Ok(())
}

/// Reads `matcher args…` on the current line or lines of the block that
/// follows, grouping the tokens by matcher name, and builds the set.
pub fn parse_set_body(d: &mut Dispenser, def_name: &str) -> Result<MatcherSet> {
    let mut by_name: Vec<(String, Vec<Token>)> = Vec::new();
    let nesting = d.nesting();
    while d.next_arg() || d.next_block(nesting) {
        // A quoted token is an expression, as in `@name` definitions.
        if let Some(tok) = d.token().filter(|t| t.was_quoted()).cloned() {
            let mut name_tok = tok.clone();
            name_tok.text = "expression".into();
            let seg = vec![name_tok, tok];
            match by_name.iter_mut().find(|(n, _)| n == "expression") {
                Some((_, toks)) => toks.extend(seg),
                None => by_name.push(("expression".into(), seg)),
            }
            continue;
        }
        let name = d.val().to_string();
        let seg = d.next_segment();
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, toks)) => toks.extend(seg),
            None => by_name.push((name, seg)),
        }
    }
    let mut set = MatcherSet::new();
    for (name, tokens) in by_name {
        let value = make_matcher(&name, tokens, def_name)?;
        set.insert(name, value);
    }
    Ok(set)
}

fn make_matcher(name: &str, tokens: Vec<Token>, def_name: &str) -> Result<Value> {
    let first = tokens.first().cloned();
    let Some(f) = lookup(name) else {
        let msg =
            format!("getting matcher module '{name}': module not registered: http.matchers.{name}");
        return Err(match &first {
            Some(t) => Error::at(t, msg),
            None => Error::plain(msg),
        });
    };
    let mut d = Dispenser::new(tokens);
    f(&mut d, def_name)
}

/// Errors if a block follows the matcher line (`malformed X matcher:
/// blocks are not supported`).
pub(crate) fn no_block(d: &mut Dispenser, matcher: &str) -> Result<()> {
    if d.next_block(0) {
        return Err(d.err(format!(
            "malformed {matcher} matcher: blocks are not supported"
        )));
    }
    Ok(())
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-foo-bar` → `X-Foo-Bar`;
/// keys with characters outside a token are returned unchanged.
pub fn canonical_header_key(key: &str) -> String {
    let valid = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return key.to_string();
    }
    let mut upper = true;
    key.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testutil::tokens;
    use serde_json::json;

    fn def(src: &str) -> MatcherSet {
        let mut defs = MatcherDefs::new();
        parse_definition(tokens(src), &mut defs).unwrap();
        defs.into_values().next().unwrap()
    }

    #[test]
    fn canonical_keys() {
        assert_eq!(canonical_header_key("x-foo-BAR"), "X-Foo-Bar");
        assert_eq!(canonical_header_key("bad key"), "bad key");
    }

    #[test]
    fn one_line_and_block_definitions() {
        assert_eq!(def("@a method GET")["method"], json!(["GET"]));
        let s = def("@b {\n header Foo bar\n header Foo baz\n path /x /y\n}");
        assert_eq!(s["header"], json!({"Foo": ["bar", "baz"]}));
        assert_eq!(s["path"], json!(["/x", "/y"]));
    }

    #[test]
    fn quoted_token_is_an_expression() {
        let s = def("@e `path('/a')`");
        assert_eq!(s["expression"], json!({"expr": "path('/a')", "name": "e"}));
    }

    #[test]
    fn unknown_matcher_is_an_error() {
        let mut defs = MatcherDefs::new();
        let err = parse_definition(tokens("@a bogus x"), &mut defs).unwrap_err();
        assert!(err
            .message
            .contains("module not registered: http.matchers.bogus"));
    }
}
