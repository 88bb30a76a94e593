//! The expression parser: a tokenizer and a precedence-climbing parser
//! that provisions matcher calls as it meets them.

use super::lex::{tokenize, Tok};
use super::Val;
use crate::http::replacer::Template;
use crate::http::Matcher;
use crate::registry::Provision;
use regex::Regex;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

pub enum Expr {
    Lit(Val),
    List(Vec<Expr>),
    /// A placeholder, parsed, and as written (to tell an unknown one).
    Placeholder(Template, Box<str>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    /// `a + b` (`'+'`) or `a - b` (`'-'`): numbers, string and list
    /// concatenation.
    Arith(char, Box<Expr>, Box<Expr>),
    /// `c ? a : b`.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `list[i]`.
    Index(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Op, Box<Expr>, Box<Expr>),
    /// A global function or a method (receiver first) on values.
    Call(Box<str>, Vec<Expr>),
    Regex(Box<Expr>, Regex),
    Matcher(Box<dyn Matcher>),
    /// A variable bound by a macro or `cel.bind`: its depth in the scope.
    Var(usize),
    /// `range.all(x, p)` and the other comprehension macros; the last
    /// expression is `map`'s transform when it also filters.
    Macro(Macro, Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    /// `cel.bind(x, init, body)` (`ext.Bindings`).
    Bind(Box<Expr>, Box<Expr>),
}

/// CEL's standard comprehension macros.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Macro {
    All,
    Exists,
    ExistsOne,
    Map,
    Filter,
}

impl Macro {
    fn of(name: &str) -> Option<Self> {
        Some(match name {
            "all" => Self::All,
            "exists" => Self::Exists,
            "exists_one" => Self::ExistsOne,
            "map" => Self::Map,
            "filter" => Self::Filter,
            _ => return None,
        })
    }
}

/// Functions on values, callable globally (`size(x)`) or as methods
/// (`x.size()`); any other global call is a matcher function.
const VALUE_FUNCS: &[&str] = &[
    "int",
    "double",
    "string",
    "size",
    "lowerAscii",
    "upperAscii",
    "trim",
    "startsWith",
    "endsWith",
    "contains",
];

struct Parser<'a, 'r> {
    toks: Vec<Tok>,
    pos: usize,
    name: &'a str,
    p: &'a mut Provision<'r>,
    path: &'a str,
    /// Variables bound around the current position, innermost last.
    scope: Vec<String>,
}

/// Parses `src`; matcher calls are provisioned with `p`.
pub fn parse(src: &str, name: &str, p: &mut Provision<'_>, path: &str) -> Result<Expr, String> {
    let toks = tokenize(&super::lex::expand_placeholders(src))?;
    let mut ps = Parser {
        toks,
        pos: 0,
        name,
        p,
        path,
        scope: Vec::new(),
    };
    let e = ps.cond()?;
    if ps.pos != ps.toks.len() {
        return Err(format!("unexpected {:?}", ps.toks[ps.pos]));
    }
    if non_bool(&e) {
        return Err("a request matcher expression must give a bool".into());
    }
    Ok(e)
}

/// Whether `e` cannot give a bool, as far as its form tells (CEL checks
/// this when the expression is compiled).
fn non_bool(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Lit(Val::Num(_) | Val::Dbl(_) | Val::Str(_) | Val::Null)
            | Expr::List(_)
            | Expr::Neg(_)
            | Expr::Arith(..)
            | Expr::Placeholder(..)
    ) || matches!(e, Expr::Macro(Macro::Map | Macro::Filter, ..))
        || matches!(e, Expr::Call(f, _)
        if !matches!(&**f, "startsWith" | "endsWith" | "contains"
            | "math.isNaN" | "math.isInf" | "math.isFinite"))
}

/// Whether `range` is a list literal whose items are literals none of
/// which is a bool: its elements, bound to a macro's variable, have a
/// type CEL knows is not bool.
fn non_bool_items(range: &Expr) -> bool {
    match range {
        Expr::List(items) => items
            .iter()
            .all(|i| matches!(i, Expr::Lit(v) if !matches!(v, Val::Bool(_)))),
        _ => false,
    }
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.peek() == Some(&Tok::Punct(leak(p))) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn expect(&mut self, p: &str) -> Result<(), String> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(format!("expected `{p}`"))
        }
    }

    /// `c ? a : b`, the lowest precedence.
    fn cond(&mut self) -> Result<Expr, String> {
        let c = self.or()?;
        if !self.eat("?") {
            return Ok(c);
        }
        let a = self.cond()?;
        self.expect(":")?;
        let b = self.cond()?;
        Ok(Expr::Cond(Box::new(c), Box::new(a), Box::new(b)))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.eat("||") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.relation()?;
        while self.eat("&&") {
            e = Expr::And(Box::new(e), Box::new(self.relation()?));
        }
        Ok(e)
    }

    /// `a == b`, `a < b`, `a in [..]`, …: one precedence level, left to
    /// right, as CEL's grammar has it.
    fn relation(&mut self) -> Result<Expr, String> {
        let mut e = self.additive()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Punct("==")) => Op::Eq,
                Some(Tok::Punct("!=")) => Op::Ne,
                Some(Tok::Punct("<")) => Op::Lt,
                Some(Tok::Punct("<=")) => Op::Le,
                Some(Tok::Punct(">")) => Op::Gt,
                Some(Tok::Punct(">=")) => Op::Ge,
                Some(Tok::Ident(i)) if i == "in" => Op::In,
                _ => return Ok(e),
            };
            self.pos += 1;
            let right = self.additive()?;
            e = Expr::Cmp(op, Box::new(e), Box::new(right));
        }
    }

    /// `a + b - c`: left to right, above the relations.
    fn additive(&mut self) -> Result<Expr, String> {
        let mut e = self.multiplicative()?;
        loop {
            let op = if self.eat("+") {
                '+'
            } else if self.eat("-") {
                '-'
            } else {
                return Ok(e);
            };
            e = Expr::Arith(op, Box::new(e), Box::new(self.multiplicative()?));
        }
    }

    /// `a * b / c % d`: left to right, above `+` and `-`.
    fn multiplicative(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        loop {
            let op = match ["*", "/", "%"].into_iter().find(|p| self.eat(p)) {
                Some(p) => p.chars().next().unwrap_or('*'),
                None => return Ok(e),
            };
            e = Expr::Arith(op, Box::new(e), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("-") {
            return Ok(match self.unary()? {
                Expr::Lit(Val::Num(n)) => Expr::Lit(Val::Num(-n)),
                Expr::Lit(Val::Dbl(n)) => Expr::Lit(Val::Dbl(-n)),
                e => Expr::Neg(Box::new(e)),
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        loop {
            if self.eat("[") {
                let i = self.cond()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(i));
                continue;
            }
            if !self.eat(".") {
                break;
            }
            let Some(Tok::Ident(m)) = self.peek().cloned() else {
                return Err("expected a method name".into());
            };
            self.pos += 1;
            self.expect("(")?;
            if let Some(kind) = Macro::of(&m) {
                e = self.comprehension(kind, e)?;
                continue;
            }
            let mut args = self.args(")")?;
            e = match (m.as_str(), args.as_slice()) {
                ("matches", [Expr::Lit(Val::Str(re))]) => {
                    Expr::Regex(Box::new(e), crate::util::goregex::compile(re)?)
                }
                ("matches", _) => return Err("matches() takes a string literal".into()),
                (m, _)
                    if VALUE_FUNCS.contains(&m)
                        || super::strings::NAMES.contains(&m)
                        || super::ext::LIST_METHODS.contains(&m) =>
                {
                    args.insert(0, e);
                    Expr::Call(m.into(), args)
                }
                _ => return Err(format!("unsupported method {m}")),
            };
        }
        Ok(e)
    }

    /// Expressions separated by commas, up to the `close` token.
    fn args(&mut self, close: &str) -> Result<Vec<Expr>, String> {
        let mut items = Vec::new();
        while !self.eat(close) {
            items.push(self.cond()?);
            if !self.eat(",") {
                self.expect(close)?;
                break;
            }
        }
        Ok(items)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let tok = self.peek().cloned().ok_or("unexpected end of expression")?;
        self.pos += 1;
        Ok(match tok {
            Tok::Str(s) => Expr::Lit(Val::Str(s)),
            Tok::Num(n) => Expr::Lit(Val::Num(n)),
            Tok::Dbl(n) => Expr::Lit(Val::Dbl(n)),
            Tok::Ph(ph) => Expr::Placeholder(Template::parse(&ph), ph.into()),
            Tok::Ident(i) if i == "true" || i == "false" => Expr::Lit(Val::Bool(i == "true")),
            Tok::Ident(i) if i == "null" => Expr::Lit(Val::Null),
            Tok::Ident(v) if self.peek() != Some(&Tok::Punct("(")) && self.bound(&v).is_some() => {
                Expr::Var(self.bound(&v).unwrap_or_default())
            }
            Tok::Ident(ns)
                if matches!(ns.as_str(), "cel" | "math" | "lists" | "strings")
                    && self.peek() == Some(&Tok::Punct(".")) =>
            {
                self.namespaced(&ns)?
            }
            Tok::Ident(f) if VALUE_FUNCS.contains(&f.as_str()) => {
                self.expect("(")?;
                Expr::Call(f.into(), self.args(")")?)
            }
            Tok::Ident(f) => {
                self.expect("(")?;
                let mut args = Vec::new();
                while !self.eat(")") {
                    args.push(self.literal()?);
                    if !self.eat(",") {
                        self.expect(")")?;
                        break;
                    }
                }
                Expr::Matcher(self.matcher(&f, args)?)
            }
            Tok::Punct("(") => {
                let e = self.cond()?;
                self.expect(")")?;
                e
            }
            Tok::Punct("[") => Expr::List(self.args("]")?),
            other => return Err(format!("unexpected {other:?}")),
        })
    }

    /// The depth of the innermost variable named `name`.
    fn bound(&self, name: &str) -> Option<usize> {
        self.scope.iter().rposition(|v| v == name)
    }

    /// A variable name being bound (a macro's or `cel.bind`'s first
    /// argument), then the comma after it.
    fn binder(&mut self) -> Result<String, String> {
        let Some(Tok::Ident(v)) = self.peek().cloned() else {
            return Err("expected a variable name".into());
        };
        self.pos += 1;
        self.expect(",")?;
        Ok(v)
    }

    /// `range.kind(x, …)` after its `(`.
    fn comprehension(&mut self, kind: Macro, range: Expr) -> Result<Expr, String> {
        let var = self.binder()?;
        self.scope.push(var);
        let body = self.cond();
        let extra = match body {
            Ok(_) if kind == Macro::Map && self.eat(",") => Some(self.cond()),
            _ => None,
        };
        self.scope.pop();
        let body = body?;
        let extra = extra.transpose()?;
        // The predicate (a `map`'s only with a transform after it) must
        // give a bool; the variable itself does not when the range's items
        // are known not to be bools.
        if kind != Macro::Map || extra.is_some() {
            let var = self.scope.len();
            let is_var = matches!(body, Expr::Var(d) if d == var);
            if non_bool(&body) || (is_var && non_bool_items(&range)) {
                return Err(format!("the predicate of {kind:?} must give a bool"));
            }
        }
        self.expect(")")?;
        Ok(Expr::Macro(
            kind,
            Box::new(range),
            Box::new(body),
            extra.map(Box::new),
        ))
    }

    /// `ns.name(…)`: `cel.bind` or a function of the math, lists and
    /// strings extension libraries.
    fn namespaced(&mut self, ns: &str) -> Result<Expr, String> {
        self.expect(".")?;
        let Some(Tok::Ident(f)) = self.peek().cloned() else {
            return Err(format!("expected a function name after `{ns}.`"));
        };
        self.pos += 1;
        self.expect("(")?;
        let full = format!("{ns}.{f}");
        if full == "cel.bind" {
            let var = self.binder()?;
            let init = self.cond()?;
            self.expect(",")?;
            self.scope.push(var);
            let body = self.cond();
            self.scope.pop();
            let body = body?;
            self.expect(")")?;
            return Ok(Expr::Bind(Box::new(init), Box::new(body)));
        }
        if !super::ext::GLOBALS.contains(&full.as_str()) {
            return Err(format!("unsupported function {full}()"));
        }
        Ok(Expr::Call(full.into(), self.args(")")?))
    }

    /// A literal argument of a matcher call, as JSON. Strings and
    /// placeholders joined by `+` become one string with the placeholders
    /// in it, which the matcher expands per request.
    fn literal(&mut self) -> Result<Value, String> {
        let tok = self.peek().cloned().ok_or("unexpected end of expression")?;
        self.pos += 1;
        match tok {
            Tok::Str(mut s) | Tok::Ph(mut s) => {
                while self.eat("+") {
                    match self.peek().cloned() {
                        Some(Tok::Str(t) | Tok::Ph(t)) => s.push_str(&t),
                        _ => return Err("`+` in matcher arguments joins strings only".into()),
                    }
                    self.pos += 1;
                }
                Ok(Value::String(s))
            }
            Tok::Num(n) | Tok::Dbl(n) => Ok(json!(n)),
            Tok::Punct("[") => {
                let mut items = Vec::new();
                while !self.eat("]") {
                    items.push(self.literal()?);
                    if !self.eat(",") {
                        self.expect("]")?;
                        break;
                    }
                }
                Ok(Value::Array(items))
            }
            Tok::Punct("{") => {
                let mut m = Map::new();
                while !self.eat("}") {
                    let Value::String(k) = self.literal()? else {
                        return Err("map keys must be strings".into());
                    };
                    self.expect(":")?;
                    m.insert(k, self.literal()?);
                    if !self.eat(",") {
                        self.expect("}")?;
                        break;
                    }
                }
                Ok(Value::Object(m))
            }
            other => Err(format!("unexpected {other:?} in matcher arguments")),
        }
    }

    fn matcher(&mut self, f: &str, args: Vec<Value>) -> Result<Box<dyn Matcher>, String> {
        let strings = |args: &[Value]| -> Vec<Value> {
            args.iter()
                .flat_map(|a| match a {
                    Value::Array(v) => v.clone(),
                    other => vec![other.clone()],
                })
                .collect()
        };
        let lists = |m: &Value| -> Value {
            let Value::Object(o) = m else {
                return m.clone();
            };
            Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), if v.is_array() { v.clone() } else { json!([v]) }))
                    .collect(),
            )
        };
        if args.is_empty() && f != "file" {
            return Err(format!("{f}() needs arguments"));
        }
        let one = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
        let value = match (f, args.len()) {
            ("path" | "host" | "method", _) => Value::Array(strings(&args)),
            ("remote_ip" | "client_ip", _) => json!({"ranges": strings(&args)}),
            ("protocol", 1) => match one(0) {
                Value::String(s) => Value::String(s.to_lowercase()),
                other => other,
            },
            ("header" | "query" | "vars", 1) => lists(&one(0)),
            ("path_regexp", 1) => json!({"name": self.name, "pattern": one(0)}),
            ("path_regexp", 2) => json!({"name": one(0), "pattern": one(1)}),
            ("header_regexp", 2) => {
                json!({ as_key(&one(0)): {"name": self.name, "pattern": one(1)} })
            }
            ("header_regexp", 3) => json!({ as_key(&one(1)): {"name": one(0), "pattern": one(2)} }),
            ("vars_regexp", 2) => {
                json!({ as_key(&one(0)): {"name": self.name, "pattern": one(1)} })
            }
            ("vars_regexp", 3) => json!({ as_key(&one(1)): {"name": one(0), "pattern": one(2)} }),
            ("url_pattern", 1) => json!({"pattern": one(0)}),
            ("url_pattern", 2) => json!({"pattern": one(0), "base_url": one(1)}),
            ("file", 1) if args[0].is_object() => one(0),
            ("file", _) => json!({"try_files": strings(&args)}),
            _ => {
                return Err(format!(
                    "unsupported function {f}() with {} arguments",
                    args.len()
                ))
            }
        };
        self.p
            .matcher(f, &value, &format!("{}.{f}", self.path))
            .map_err(|e| e.to_string())
    }
}

fn as_key(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn leak(p: &str) -> &'static str {
    [
        "==", "!=", "<=", ">=", "&&", "||", "(", ")", "[", "]", "{", "}", ",", ":", ".", "!", "<",
        ">", "-", "+", "*", "/", "%", "?",
    ]
    .into_iter()
    .find(|x| *x == p)
    .unwrap_or("")
}
