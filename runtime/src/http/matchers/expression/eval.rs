//! Evaluation of a parsed expression with CEL's typing rules.
//!
//! Placeholders keep the type Caddy's replacer gives them: numbers for
//! `{http.error.status_code}` and the ports, `null` for a placeholder
//! without a value (an unset variable, no error being handled), strings
//! otherwise. Equality (`==`, `!=`, `in`) across types is false, as CEL's
//! heterogeneous equality; ordering across types (`'7' > 5`) and other
//! misuses are evaluation errors, which fail the request as Caddy's
//! matcher errors do. `&&` and `||` absorb an error when the other side
//! decides the result.

use super::parse::{Expr, Macro, Op};
use crate::error::HttpError;
use crate::http::replacer::Key;
use crate::http::Cx;
use std::cmp::Ordering;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    /// CEL's int (and uint), integral.
    Num(f64),
    /// CEL's double.
    Dbl(f64),
    Str(String),
    List(Vec<Val>),
}

type Res = Result<Val, String>;

/// `list[i]`.
fn index(list: Val, i: Val) -> Res {
    match (list, i) {
        (Val::List(items), Val::Num(n)) if n >= 0.0 && n.fract() == 0.0 => items
            .into_iter()
            .nth(n as usize)
            .ok_or_else(|| format!("index out of range: {n}")),
        (l, i) => Err(format!(
            "no such overload: {}[{}]",
            l.type_name(),
            i.type_name()
        )),
    }
}

/// `+ - * / %` as CEL types them: ints divide as integers and fail on
/// zero; doubles follow IEEE 754 (`0.0 / 0.0` is NaN) and have no `%`;
/// an int and a double do not mix.
fn arith(op: char, a: Val, b: Val) -> Res {
    let int = |x: f64, y: f64| x.fract() == 0.0 && y.fract() == 0.0;
    if let (Val::Num(y), '/' | '%') = (&b, op) {
        if *y == 0.0 {
            return Err(format!("{op} by zero"));
        }
    }
    Ok(match (op, a, b) {
        ('+', Val::Dbl(x), Val::Dbl(y)) => Val::Dbl(x + y),
        ('-', Val::Dbl(x), Val::Dbl(y)) => Val::Dbl(x - y),
        ('*', Val::Dbl(x), Val::Dbl(y)) => Val::Dbl(x * y),
        ('/', Val::Dbl(x), Val::Dbl(y)) => Val::Dbl(x / y),
        ('+', Val::Num(x), Val::Num(y)) => Val::Num(x + y),
        ('-', Val::Num(x), Val::Num(y)) => Val::Num(x - y),
        ('*', Val::Num(x), Val::Num(y)) => Val::Num(x * y),
        ('/', Val::Num(x), Val::Num(y)) if int(x, y) => Val::Num((x / y).trunc()),
        ('/', Val::Num(x), Val::Num(y)) => Val::Num(x / y),
        ('%', Val::Num(x), Val::Num(y)) => Val::Num(x % y),
        ('+', Val::Str(x), Val::Str(y)) => Val::Str(x + &y),
        ('+', Val::List(mut x), Val::List(y)) => {
            x.extend(y);
            Val::List(x)
        }
        (op, a, b) => {
            return Err(format!(
                "no such overload: {} {op} {}",
                a.type_name(),
                b.type_name()
            ))
        }
    })
}

impl Val {
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null_type",
            Val::Bool(_) => "bool",
            Val::Num(_) => "int",
            Val::Dbl(_) => "double",
            Val::Str(_) => "string",
            Val::List(_) => "list",
        }
    }

    /// CEL equality: values of different types are unequal, but numbers
    /// compare by value (heterogeneous equality: `1 == 1.0`).
    fn cel_eq(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Num(x) | Val::Dbl(x), Val::Num(y) | Val::Dbl(y)) => x == y,
            (Val::List(a), Val::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.cel_eq(y))
            }
            _ => self == other,
        }
    }

    fn bool(self, what: &str) -> Result<bool, String> {
        match self {
            Val::Bool(b) => Ok(b),
            other => Err(format!("no such overload: {what}({})", other.type_name())),
        }
    }

    fn str(self, what: &str) -> Result<String, String> {
        match self {
            Val::Str(s) => Ok(s),
            other => Err(format!("no such overload: {what} on {}", other.type_name())),
        }
    }
}

/// Evaluates `e`; an error is an evaluation error of the expression.
pub fn eval(e: &Expr, cx: &mut Cx<'_>) -> Result<Val, HttpError> {
    value(e, cx, &mut Vec::new()).map_err(|e| match e {
        Fail::Http(h) => h,
        Fail::Eval(msg) => HttpError::internal(format!("evaluating expression: {msg}")),
    })
}

enum Fail {
    Eval(String),
    Http(HttpError),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Eval(s)
    }
}

fn value(e: &Expr, cx: &mut Cx<'_>, vars: &mut Vec<Val>) -> Result<Val, Fail> {
    Ok(match e {
        Expr::Lit(v) => v.clone(),
        Expr::List(items) => Val::List(
            items
                .iter()
                .map(|x| value(x, cx, vars))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Placeholder(t, raw) => placeholder(t, raw, cx),
        Expr::Not(x) => Val::Bool(!value(x, cx, vars)?.bool("!_")?),
        Expr::Neg(x) => match value(x, cx, vars)? {
            Val::Num(n) => Val::Num(-n),
            Val::Dbl(n) => Val::Dbl(-n),
            other => Err(format!("no such overload: -{}", other.type_name()))?,
        },
        Expr::Arith(op, a, b) => arith(*op, value(a, cx, vars)?, value(b, cx, vars)?)?,
        Expr::Cond(c, a, b) => match value(c, cx, vars)?.bool("_?_:_")? {
            true => value(a, cx, vars)?,
            false => value(b, cx, vars)?,
        },
        Expr::Index(list, i) => index(value(list, cx, vars)?, value(i, cx, vars)?)?,
        Expr::And(a, b) => logic(a, b, false, cx, vars)?,
        Expr::Or(a, b) => logic(a, b, true, cx, vars)?,
        Expr::Matcher(m) => Val::Bool(m.matches(cx).map_err(Fail::Http)?),
        Expr::Cmp(op, a, b) => {
            let (a, b) = (value(a, cx, vars)?, value(b, cx, vars)?);
            Val::Bool(compare(*op, &a, &b)?)
        }
        Expr::Call(name, args) => {
            let args = args
                .iter()
                .map(|x| value(x, cx, vars))
                .collect::<Result<Vec<_>, _>>()?;
            call(name, args)?
        }
        Expr::Regex(recv, re) => Val::Bool(re.is_match(&value(recv, cx, vars)?.str("matches")?)),
        Expr::Var(depth) => vars.get(*depth).cloned().unwrap_or(Val::Null),
        Expr::Bind(init, body) => {
            let v = value(init, cx, vars)?;
            vars.push(v);
            let out = value(body, cx, vars);
            vars.pop();
            out?
        }
        Expr::Macro(kind, range, body, extra) => {
            let items = match value(range, cx, vars)? {
                Val::List(items) => items,
                other => Err(format!(
                    "no such overload: {}.{kind:?}()",
                    other.type_name()
                ))?,
            };
            comprehension(*kind, items, body, extra.as_deref(), cx, vars)?
        }
    })
}

/// Runs a macro over `items`, each bound in turn as the innermost
/// variable. `all` and `exists` absorb an element's error when another
/// element decides the result, as CEL's logical operators do.
fn comprehension(
    kind: Macro,
    items: Vec<Val>,
    body: &Expr,
    extra: Option<&Expr>,
    cx: &mut Cx<'_>,
    vars: &mut Vec<Val>,
) -> Result<Val, Fail> {
    let mut out = Vec::new();
    let mut count = 0usize;
    let mut error: Option<Fail> = None;
    for item in items {
        vars.push(item);
        let r = step(kind, body, extra, cx, vars);
        let item = vars.pop().unwrap_or(Val::Null);
        match (kind, r) {
            (Macro::All, Ok(false)) => return Ok(Val::Bool(false)),
            (Macro::Exists, Ok(true)) => return Ok(Val::Bool(true)),
            (Macro::All | Macro::Exists, Err(e)) => error = error.or(Some(e)),
            (_, Err(e)) => return Err(e),
            (Macro::ExistsOne, Ok(true)) => count += 1,
            (Macro::Filter, Ok(true)) => out.push(item),
            (Macro::Map, Ok(true)) => {
                vars.push(item);
                let t = value(extra.unwrap_or(body), cx, vars);
                vars.pop();
                out.push(t?);
            }
            _ => {}
        }
    }
    if let Some(e) = error {
        return Err(e);
    }
    Ok(match kind {
        Macro::All => Val::Bool(true),
        Macro::Exists => Val::Bool(false),
        Macro::ExistsOne => Val::Bool(count == 1),
        Macro::Map | Macro::Filter => Val::List(out),
    })
}

/// One element of a macro: the predicate's verdict (always true for a
/// `map` without a filter, whose body is the transform).
fn step(
    kind: Macro,
    body: &Expr,
    extra: Option<&Expr>,
    cx: &mut Cx<'_>,
    vars: &mut Vec<Val>,
) -> Result<bool, Fail> {
    if kind == Macro::Map && extra.is_none() {
        return Ok(true);
    }
    Ok(value(body, cx, vars)?.bool("macro predicate")?)
}

/// `a && b` (`or` false) or `a || b` (`or` true), with CEL's
/// commutative handling of errors.
fn logic(a: &Expr, b: &Expr, or: bool, cx: &mut Cx<'_>, vars: &mut Vec<Val>) -> Result<Val, Fail> {
    let what = if or { "_||_" } else { "_&&_" };
    let left = value(a, cx, vars).and_then(|v| Ok(v.bool(what)?));
    match left {
        Ok(l) if l == or => Ok(Val::Bool(or)),
        Ok(_) => Ok(Val::Bool(value(b, cx, vars)?.bool(what)?)),
        Err(e) => match value(b, cx, vars).and_then(|v| Ok(v.bool(what)?)) {
            Ok(r) if r == or => Ok(Val::Bool(or)),
            _ => Err(e),
        },
    }
}

fn placeholder(t: &crate::http::replacer::Template, raw: &str, cx: &Cx<'_>) -> Val {
    if let Some(key) = t.single_key() {
        if let Key::Var(name) = key {
            return cx.var(name).map_or(Val::Null, |v| Val::Str(v.to_string()));
        }
        let mut out = String::new();
        if !key.render(cx, &mut out) {
            return Val::Null;
        }
        if key.is_numeric() {
            if let Ok(n) = out.parse() {
                return Val::Num(n);
            }
        }
        if matches!(key, Key::ShuttingDown) {
            return Val::Bool(out == "true");
        }
        return Val::Str(out);
    }
    let s = t.render_known(cx);
    if s == raw {
        return Val::Null;
    }
    // Caddy's reverse proxy sets these as numbers and booleans.
    let name = &raw[1..raw.len().saturating_sub(1)];
    match name {
        "http.reverse_proxy.status_code"
        | "http.reverse_proxy.retries"
        | "http.reverse_proxy.upstream.port"
        | "http.reverse_proxy.upstream.requests"
        | "http.reverse_proxy.upstream.max_requests"
        | "http.reverse_proxy.upstream.fails" => {
            if let Ok(n) = s.parse() {
                return Val::Num(n);
            }
        }
        "http.reverse_proxy.is_transport_error" | "http.shutting_down" => {
            return Val::Bool(s == "true")
        }
        _ => {}
    }
    Val::Str(s.into_owned())
}

fn compare(op: Op, a: &Val, b: &Val) -> Result<bool, String> {
    let ord = |a: &Val, b: &Val| -> Result<Ordering, String> {
        let o = match (a, b) {
            (Val::Num(x) | Val::Dbl(x), Val::Num(y) | Val::Dbl(y)) => x.partial_cmp(y),
            (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
            (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
            _ => None,
        };
        o.ok_or_else(|| format!("no such overload: {} {op} {}", a.type_name(), b.type_name()))
    };
    Ok(match op {
        Op::Eq => a.cel_eq(b),
        Op::Ne => !a.cel_eq(b),
        Op::Lt => ord(a, b)?.is_lt(),
        Op::Le => ord(a, b)?.is_le(),
        Op::Gt => ord(a, b)?.is_gt(),
        Op::Ge => ord(a, b)?.is_ge(),
        Op::In => match b {
            Val::List(items) => items.iter().any(|x| a.cel_eq(x)),
            other => Err(format!("no such overload: _in_ on {}", other.type_name()))?,
        },
    })
}

/// The global functions and string methods (the receiver comes first).
fn call(name: &str, mut args: Vec<Val>) -> Res {
    if args.is_empty() {
        return Err(format!("no such overload: {name}()"));
    }
    let arg = |args: &mut Vec<Val>, i: usize| std::mem::replace(&mut args[i], Val::Null);
    if name.contains('.') {
        return super::ext::global(name, args);
    }
    let first = arg(&mut args, 0);
    if let Val::List(items) = first {
        if name == "reverse" || super::ext::LIST_METHODS.contains(&name) {
            return super::ext::list_method(name, items, &args[1..]);
        }
        return call_rest(name, Val::List(items), args);
    }
    call_rest(name, first, args)
}

fn call_rest(name: &str, first: Val, mut args: Vec<Val>) -> Res {
    let arg = |args: &mut Vec<Val>, i: usize| std::mem::replace(&mut args[i], Val::Null);
    Ok(match (name, args.len()) {
        ("int", 1) => Val::Num(to_number(first, name)?.trunc()),
        ("double", 1) => Val::Dbl(to_number(first, name)?),
        ("string", 1) => Val::Str(to_text(first)),
        ("size", 1) => match first {
            Val::Str(s) => Val::Num(s.chars().count() as f64),
            Val::List(l) => Val::Num(l.len() as f64),
            other => Err(format!("no such overload: size({})", other.type_name()))?,
        },
        ("lowerAscii", 1) => Val::Str(first.str(name)?.to_ascii_lowercase()),
        ("upperAscii", 1) => Val::Str(first.str(name)?.to_ascii_uppercase()),
        ("trim", 1) => Val::Str(first.str(name)?.trim().to_string()),
        ("startsWith" | "endsWith" | "contains", 2) => {
            let (s, x) = (first.str(name)?, arg(&mut args, 1).str(name)?);
            Val::Bool(match name {
                "startsWith" => s.starts_with(&x),
                "endsWith" => s.ends_with(&x),
                _ => s.contains(&x),
            })
        }
        _ if super::strings::NAMES.contains(&name) => {
            return super::strings::call(name, first, &args[1..])
        }
        _ => Err(format!(
            "no such overload: {name} with {} arguments",
            args.len()
        ))?,
    })
}

fn to_number(v: Val, name: &str) -> Result<f64, String> {
    match v {
        Val::Num(n) | Val::Dbl(n) => Ok(n),
        Val::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("{name}({s:?}): not a number")),
        other => Err(format!("no such overload: {name}({})", other.type_name())),
    }
}

fn to_text(v: Val) -> String {
    match v {
        Val::Null => "null".into(),
        Val::Bool(b) => b.to_string(),
        Val::Num(n) | Val::Dbl(n) => n.to_string(),
        Val::Str(s) => s,
        Val::List(items) => {
            let parts: Vec<String> = items.into_iter().map(to_text).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "in",
        })
    }
}
