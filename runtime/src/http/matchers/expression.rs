//! `http.matchers.expression`: CEL as Caddy's expression environment
//! has it.
//!
//! Supported: placeholders (`{http.request.uri.path}`, typed as Caddy's
//! replacer types them: `{http.error.status_code}` is a number), string,
//! number, boolean and `null` literals, list literals, `==` `!=` `<` `<=`
//! `>` `>=` `in`, `+ - * / %`, `?:`, `[i]`, unary `!` and `-`, `&&`, `||`,
//! parentheses, the functions `int()`, `double()`, `string()`, `size()`,
//! the string methods `startsWith`, `endsWith`, `contains`, `matches` (Go
//! regexp syntax), `lowerAscii`, `upperAscii`, `trim` and those of
//! `ext.Strings` (`strings.rs`), the macros `all`, `exists`, `exists_one`,
//! `map` and `filter`, `cel.bind` (`ext.Bindings`), `ext.Math` and
//! `ext.Lists` (`ext.rs`), maps `{'X': 'y'}` as matcher arguments, and the
//! matcher functions `path()`, `host()`, `method()`, `header()`,
//! `query()`, `protocol()`, `remote_ip()`, `client_ip()`, `path_regexp()`,
//! `header_regexp()`, `vars()`, `vars_regexp()`, `url_pattern()` and
//! `file()`, each provisioned once as the matcher module of the same name.
//! Numbers are ints (integral; uints too) or doubles, which do not mix in
//! arithmetic but compare by value, as in CEL. Anything else is a
//! config error naming the expression's JSON path.

mod eval;
mod ext;
mod lex;
mod parse;
mod strings;

use crate::error::{Error, HttpError};
use crate::http::{Cx, Matcher};
use crate::registry::Provision;
use eval::Val;
use parse::Expr;
use serde_json::Value;

struct MatchExpression(Expr);

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let (expr, name) = match v {
        Value::String(s) => (s.as_str(), ""),
        Value::Object(o) => {
            if let Some(k) = o.keys().find(|k| *k != "expr" && *k != "name") {
                return Err(Error::config(
                    format!("{path}.{k}"),
                    "unknown field, expected expr or name",
                ));
            }
            let expr = o.get("expr").and_then(Value::as_str).unwrap_or("");
            (expr, o.get("name").and_then(Value::as_str).unwrap_or(""))
        }
        _ => {
            return Err(Error::config(
                path,
                "expression must be a string or {\"expr\": ...}",
            ))
        }
    };
    let parsed = parse::parse(expr, name, p, path)
        .map_err(|e| Error::config(path, format!("expression {expr:?}: {e}")))?;
    Ok(Box::new(MatchExpression(parsed)))
}

impl Matcher for MatchExpression {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        Ok(matches!(eval::eval(&self.0, cx)?, Val::Bool(true)))
    }
}
