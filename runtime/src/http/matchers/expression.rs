//! `http.matchers.expression`: the subset of CEL that Caddyfile users write
//! and the Caddyfile shorthand produces.
//!
//! Supported: placeholders (`{http.request.uri.path}`), string, number and
//! boolean literals, lists `['a', 'b']` and maps `{'X': 'y'}` as matcher
//! arguments, `==` `!=` `<` `<=` `>` `>=`, `!`, `&&`, `||`, parentheses,
//! the string methods `startsWith`, `endsWith`, `contains` and `matches`,
//! and the matcher functions `path()`, `host()`, `method()`, `header()`,
//! `query()`, `protocol()`, `remote_ip()`, `client_ip()`, `path_regexp()`,
//! `header_regexp()`, `vars()`, `vars_regexp()` and `file()`, each
//! provisioned once as the matcher module of the same name. Anything else
//! is a config error naming the expression's JSON path.

mod parse;

use crate::error::{Error, HttpError};
use crate::http::{Cx, Matcher};
use crate::registry::Provision;
use parse::{Expr, Op};
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

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Bool(bool),
    Str(String),
    Num(f64),
}

impl Val {
    fn truthy(&self) -> bool {
        matches!(self, Val::Bool(true))
    }

    fn text(&self) -> String {
        match self {
            Val::Bool(b) => b.to_string(),
            Val::Str(s) => s.clone(),
            Val::Num(n) => n.to_string(),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(*n),
            Val::Str(s) => s.trim().parse().ok(),
            Val::Bool(_) => None,
        }
    }
}

fn eval(e: &Expr, cx: &mut Cx<'_>) -> Result<Val, HttpError> {
    Ok(match e {
        Expr::Lit(v) => v.clone(),
        Expr::Placeholder(t) => Val::Str(t.render(cx).into_owned()),
        Expr::Not(x) => Val::Bool(!eval(x, cx)?.truthy()),
        Expr::And(a, b) => Val::Bool(eval(a, cx)?.truthy() && eval(b, cx)?.truthy()),
        Expr::Or(a, b) => Val::Bool(eval(a, cx)?.truthy() || eval(b, cx)?.truthy()),
        Expr::Matcher(m) => Val::Bool(m.matches(cx)?),
        Expr::Cmp(op, a, b) => {
            let (a, b) = (eval(a, cx)?, eval(b, cx)?);
            Val::Bool(compare(*op, &a, &b))
        }
        Expr::Method(recv, name, arg) => {
            let s = eval(recv, cx)?.text();
            Val::Bool(match name.as_str() {
                "startsWith" => s.starts_with(&eval(arg, cx)?.text()),
                "endsWith" => s.ends_with(&eval(arg, cx)?.text()),
                "contains" => s.contains(&eval(arg, cx)?.text()),
                _ => false,
            })
        }
        Expr::Regex(recv, re) => Val::Bool(re.is_match(&eval(recv, cx)?.text())),
    })
}

fn compare(op: Op, a: &Val, b: &Val) -> bool {
    match op {
        Op::Eq | Op::Ne => {
            let eq = match (a.num(), b.num(), a, b) {
                (_, _, Val::Str(x), Val::Str(y)) => x == y,
                (Some(x), Some(y), _, _) => x == y,
                _ => a.text() == b.text(),
            };
            eq == (op == Op::Eq)
        }
        _ => match (a.num(), b.num()) {
            (Some(x), Some(y)) => match op {
                Op::Lt => x < y,
                Op::Le => x <= y,
                Op::Gt => x > y,
                _ => x >= y,
            },
            _ => false,
        },
    }
}

impl Matcher for MatchExpression {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        Ok(eval(&self.0, cx)?.truthy())
    }
}
