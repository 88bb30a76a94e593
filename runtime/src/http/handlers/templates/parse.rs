//! The template parser: lexed items → a tree of [`Node`]s, plus the
//! templates `define`d (and `block`ed) along the way.
//!
//! Grammar as Go's `text/template`: an action holds a pipeline (optional
//! `$x :=`/`$x =`/`$i, $e :=` declarations, then commands joined by `|`);
//! a command is a function call, a method call (`.Cookie "n"`) or an
//! operand; operands are literals, `.`, field chains (`.A.B`, `$x.A`,
//! `(pipe).A`), variables and parenthesized pipelines. Control actions:
//! `if`/`with`/`range` with `else`, `else if`, `else with`, and `end`;
//! `break`, `continue`; `template "name" pipe`; `define`, `block`.

use super::lexer::{lex, Item, Tok, Token};
use std::collections::HashMap;
use std::rc::Rc;

/// An operand of a command.
#[derive(Debug, Clone)]
pub enum Arg {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    /// `.A.B` (empty path: never; `.` is [`Arg::Dot`]).
    Field(Vec<String>),
    /// `$x.A.B`.
    Var(String, Vec<String>),
    /// A function name; with fields, its result's fields (`now.Year`).
    Func(String, Vec<String>),
    /// `(pipeline).A.B`.
    Sub(Box<Pipe>, Vec<String>),
}

/// Commands joined by `|`, with optional variable declarations.
#[derive(Debug, Clone, Default)]
pub struct Pipe {
    pub vars: Vec<String>,
    /// `=` rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Vec<Arg>>,
}

/// One node of a template tree.
#[derive(Debug, Clone)]
pub enum Node {
    Text(Rc<str>),
    Action(Pipe, usize),
    If(Pipe, Vec<Node>, Vec<Node>, usize),
    With(Pipe, Vec<Node>, Vec<Node>, usize),
    Range(Pipe, Vec<Node>, Vec<Node>, usize),
    Template(String, Option<Pipe>, usize),
    Break,
    Continue,
}

/// A parsed template: its body and the templates it defines.
#[derive(Debug, Clone, Default)]
pub struct Template {
    pub name: String,
    pub root: Vec<Node>,
    pub defs: HashMap<String, Rc<Vec<Node>>>,
}

/// Parses `src` as template `name`.
pub fn parse(name: &str, src: &str, delims: (&str, &str)) -> Result<Template, String> {
    let items = lex(src, delims.0, delims.1).map_err(|e| format!("template: {name}:{e}"))?;
    let mut p = Parser {
        items,
        pos: 0,
        defs: HashMap::new(),
        loops: 0,
    };
    let (root, end) = p
        .list()
        .map_err(|(line, e)| format!("template: {name}:{line}: {e}"))?;
    if let Some((word, line)) = end {
        return Err(format!(
            "template: {name}:{line}: unexpected {{{{{word}}}}}"
        ));
    }
    Ok(Template {
        name: name.to_string(),
        root,
        defs: p.defs,
    })
}

type PResult<T> = Result<T, (usize, String)>;

struct Parser {
    items: Vec<Item>,
    pos: usize,
    defs: HashMap<String, Rc<Vec<Node>>>,
    /// How many `range`s enclose the current position.
    loops: usize,
}

/// How a list ended: `end` or `else` (with the rest of the action) and
/// the line.
type End = Option<(String, usize)>;

impl Parser {
    /// Parses nodes up to `{{end}}`/`{{else …}}` or the end of input.
    fn list(&mut self) -> PResult<(Vec<Node>, End)> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.get(self.pos).cloned() {
            self.pos += 1;
            let (toks, line) = match item {
                Item::Text(t) => {
                    nodes.push(Node::Text(t.into()));
                    continue;
                }
                Item::Action(toks, line) => (toks, line),
            };
            let keyword = match &toks[0].tok {
                Tok::Ident(w) => w.as_str(),
                _ => "",
            };
            let rest = &toks[1..];
            let node = match keyword {
                "end" => {
                    expect_empty(rest, line)?;
                    return Ok((nodes, Some(("end".into(), line))));
                }
                "else" => {
                    // Leave the rest (`if …`, `with …`) for the caller.
                    self.pos -= 1;
                    self.items[self.pos] = Item::Action(rest.to_vec(), line);
                    return Ok((nodes, Some(("else".into(), line))));
                }
                "if" | "with" | "range" => self.control(keyword, rest, line)?,
                "break" | "continue" => {
                    expect_empty(rest, line)?;
                    if self.loops == 0 {
                        return Err((line, format!("{{{{{keyword}}}}} outside {{{{range}}}}")));
                    }
                    if keyword == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    }
                }
                "template" => {
                    let (name, pipe) = named(rest, line, "template")?;
                    Node::Template(name, pipe, line)
                }
                "define" | "block" => {
                    let (name, pipe) = named(rest, line, keyword)?;
                    let (body, end) = self.list()?;
                    match end {
                        Some((w, _)) if w == "end" => {}
                        _ => return Err((line, format!("unexpected EOF in {keyword}"))),
                    }
                    self.defs.insert(name.clone(), Rc::new(body));
                    if keyword == "define" {
                        continue;
                    }
                    Node::Template(name, pipe, line)
                }
                _ => Node::Action(pipeline(&toks, line, true)?, line),
            };
            nodes.push(node);
        }
        Ok((nodes, None))
    }

    /// `if`/`with`/`range` after its keyword, through its `end`.
    fn control(&mut self, kw: &str, toks: &[Token], line: usize) -> PResult<Node> {
        let pipe = pipeline(toks, line, true)?;
        if kw == "range" {
            self.loops += 1;
        }
        let body = self.list();
        if kw == "range" {
            self.loops -= 1;
        }
        let (body, end) = body?;
        let (end_word, end_line) = end.ok_or((line, format!("unexpected EOF in {kw}")))?;
        let mut alt = Vec::new();
        if end_word == "else" {
            let Some(Item::Action(rest, _)) = self.items.get(self.pos).cloned() else {
                return Err((end_line, "bad else".into()));
            };
            self.pos += 1;
            let chained = match rest.first().map(|t| &t.tok) {
                Some(Tok::Ident(w)) if (w == "if" || w == "with") && kw != "range" => {
                    // `else if`/`else with` closes with the same `end`.
                    Some(w.clone())
                }
                _ => None,
            };
            match chained {
                Some(w) => alt.push(self.control(&w, &rest[1..], end_line)?),
                None => {
                    expect_empty(&rest, end_line)?;
                    let (list, end) = self.list()?;
                    match end {
                        Some((w, _)) if w == "end" => alt = list,
                        _ => return Err((end_line, format!("expected end; found else in {kw}"))),
                    }
                }
            }
        }
        Ok(match kw {
            "if" => Node::If(pipe, body, alt, line),
            "with" => Node::With(pipe, body, alt, line),
            _ => Node::Range(pipe, body, alt, line),
        })
    }
}

fn expect_empty(rest: &[Token], line: usize) -> PResult<()> {
    match rest.first() {
        None => Ok(()),
        Some(t) => Err((line, format!("unexpected {:?} in action", t.tok))),
    }
}

/// `"name" [pipeline]` of `template`, `define`, `block`.
fn named(toks: &[Token], line: usize, kw: &str) -> PResult<(String, Option<Pipe>)> {
    let Some(Token {
        tok: Tok::Str(name),
        ..
    }) = toks.first()
    else {
        return Err((line, format!("missing template name in {kw}")));
    };
    let pipe = (toks.len() > 1)
        .then(|| pipeline(&toks[1..], line, false))
        .transpose()?;
    Ok((name.clone(), pipe))
}

/// Parses a whole pipeline; `decl` allows variable declarations.
fn pipeline(toks: &[Token], line: usize, decl: bool) -> PResult<Pipe> {
    let mut pipe = Pipe::default();
    let mut rest = toks;
    if decl {
        let assign_at = rest
            .iter()
            .position(|t| matches!(t.tok, Tok::Declare | Tok::Assign));
        let names_ok = assign_at.is_some_and(|i| {
            rest[..i].iter().enumerate().all(|(j, t)| match &t.tok {
                Tok::Var(_) => j % 2 == 0,
                Tok::Comma => j % 2 == 1,
                _ => false,
            })
        });
        if let (Some(i), true) = (assign_at, names_ok) {
            for t in &rest[..i] {
                if let Tok::Var(v) = &t.tok {
                    pipe.vars.push(v.clone());
                }
            }
            pipe.assign = rest[i].tok == Tok::Assign;
            if pipe.vars.len() > 2 {
                return Err((line, "too many declarations in command".into()));
            }
            rest = &rest[i + 1..];
        }
    }
    for cmd in rest.split(|t| t.tok == Tok::Pipe && !in_parens(toks, t)) {
        pipe.cmds.push(command(cmd, line)?);
    }
    if pipe.cmds.iter().any(Vec::is_empty) {
        return Err((line, "missing value for command".into()));
    }
    Ok(pipe)
}

/// Whether token `t` (by address) lies inside parentheses of `all`.
fn in_parens(all: &[Token], t: &Token) -> bool {
    let mut depth = 0i32;
    for x in all {
        if std::ptr::eq(x, t) {
            return depth > 0;
        }
        match x.tok {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            _ => {}
        }
    }
    false
}

/// One command: operands separated by spaces.
fn command(toks: &[Token], line: usize) -> PResult<Vec<Arg>> {
    let mut args = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if i > 0 && !toks[i].spaced && !matches!(toks[i].tok, Tok::LParen) {
            return Err((line, format!("unexpected {:?} in operand", toks[i].tok)));
        }
        let (mut arg, mut next) = operand(toks, i, line)?;
        let mut fields = Vec::new();
        while let Some(Token {
            tok: Tok::Field(f),
            spaced: false,
        }) = toks.get(next)
        {
            fields.push(f.clone());
            next += 1;
        }
        if !fields.is_empty() {
            arg = match arg {
                Arg::Field(mut p) => {
                    p.extend(fields);
                    Arg::Field(p)
                }
                Arg::Var(v, mut p) => {
                    p.extend(fields);
                    Arg::Var(v, p)
                }
                Arg::Func(f, _) => Arg::Func(f, fields),
                Arg::Sub(s, _) => Arg::Sub(s, fields),
                _ => return Err((line, "unexpected . after term".into())),
            };
        }
        args.push(arg);
        i = next;
    }
    Ok(args)
}

/// The operand at `i` and the index after it.
fn operand(toks: &[Token], i: usize, line: usize) -> PResult<(Arg, usize)> {
    let arg = match &toks[i].tok {
        Tok::Dot => Arg::Dot,
        Tok::Field(f) => Arg::Field(vec![f.clone()]),
        Tok::Var(v) => Arg::Var(v.clone(), Vec::new()),
        Tok::Str(s) => Arg::Str(s.as_str().into()),
        Tok::Num(n) => number(n).ok_or((line, format!("bad number syntax: {n:?}")))?,
        Tok::Ident(w) => match w.as_str() {
            "true" => Arg::Bool(true),
            "false" => Arg::Bool(false),
            "nil" => Arg::Nil,
            _ => Arg::Func(w.clone(), Vec::new()),
        },
        Tok::LParen => {
            let mut depth = 0;
            let close = toks[i..]
                .iter()
                .position(|t| {
                    match t.tok {
                        Tok::LParen => depth += 1,
                        Tok::RParen => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .ok_or((line, "unclosed left paren".into()))?;
            let inner = pipeline(&toks[i + 1..i + close], line, false)?;
            return Ok((Arg::Sub(Box::new(inner), Vec::new()), i + close + 1));
        }
        other => return Err((line, format!("unexpected {other:?} in operand"))),
    };
    Ok((arg, i + 1))
}

/// Go's number literals: decimal, hex, octal, binary integers (with `_`),
/// floats.
fn number(s: &str) -> Option<Arg> {
    let clean = s.replace('_', "");
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let radix = match digits.get(..2) {
        Some("0x" | "0X") => Some(16),
        Some("0o" | "0O") => Some(8),
        Some("0b" | "0B") => Some(2),
        _ => None,
    };
    let int = match radix {
        Some(r) => i64::from_str_radix(&digits[2..], r).ok(),
        None if digits.len() > 1
            && digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            i64::from_str_radix(&digits[1..], 8).ok()
        }
        None => digits.parse::<i64>().ok(),
    };
    if let Some(n) = int {
        return Some(Arg::Int(if neg { -n } else { n }));
    }
    clean.parse::<f64>().ok().map(Arg::Float)
}
