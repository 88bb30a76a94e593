//! Executing a parsed template against a value, as Go's `text/template`:
//! dot and variables (scoped to their control structure; `$` is the data),
//! pipelines (the previous command's value is the last argument of the
//! next), `if`/`with`/`range`/`break`/`continue`, `template` calls, lazy
//! `and`/`or`, and the two functions that need the engine itself:
//! `include` (render another file with `.Args`) and `import` (add its
//! definitions).

use super::parse::{parse, Arg, Node, Pipe, Template};
use super::value::Value;
use super::{funcs, Env, Fail};
use std::collections::HashMap;
use std::rc::Rc;

/// How deep `template` and `include` calls may nest.
const MAX_DEPTH: usize = 100;

/// Runs `t` with `data` as dot and `$`.
pub fn execute(t: &Template, data: Value, env: &mut dyn Env) -> Result<String, Fail> {
    execute_at(t, data, env, 0)
}

fn execute_at(t: &Template, data: Value, env: &mut dyn Env, depth: usize) -> Result<String, Fail> {
    let mut ex = Exec {
        env,
        defs: t.defs.clone(),
        vars: vec![("$".into(), data.clone())],
        out: String::new(),
        name: t.name.clone(),
        line: 0,
        depth,
    };
    ex.walk(&t.root, &data).map_err(|e| ex.locate(e))?;
    Ok(ex.out)
}

/// What a list of nodes asks of the enclosing `range`.
enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'e> {
    env: &'e mut dyn Env,
    defs: HashMap<String, Rc<Vec<Node>>>,
    vars: Vec<(String, Value)>,
    out: String,
    name: String,
    line: usize,
    depth: usize,
}

impl Exec<'_> {
    /// Prefixes an error with the template name and line, once.
    fn locate(&self, e: Fail) -> Fail {
        match e {
            Fail::Msg(m) if !m.starts_with("template: ") => {
                Fail::Msg(format!("template: {}:{}: {m}", self.name, self.line))
            }
            other => other,
        }
    }

    fn walk(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, Fail> {
        for node in nodes {
            let flow = match node {
                Node::Text(t) => {
                    self.out.push_str(t);
                    Flow::Normal
                }
                Node::Action(pipe, line) => {
                    self.line = *line;
                    let v = self.pipe(pipe, dot, true)?;
                    if pipe.vars.is_empty() {
                        v.write_to(&mut self.out);
                    }
                    Flow::Normal
                }
                Node::If(pipe, body, alt, line) | Node::With(pipe, body, alt, line) => {
                    self.line = *line;
                    let mark = self.vars.len();
                    let v = self.pipe(pipe, dot, true)?;
                    let flow = match (v.truthy(), node) {
                        (true, Node::With(..)) => self.walk(body, &v),
                        (true, _) => self.walk(body, dot),
                        (false, _) => self.walk(alt, dot),
                    };
                    self.vars.truncate(mark);
                    flow?
                }
                Node::Range(pipe, body, alt, line) => {
                    self.line = *line;
                    self.range(pipe, body, alt, dot)?
                }
                Node::Template(name, pipe, line) => {
                    self.line = *line;
                    let v = match pipe {
                        Some(p) => self.pipe(p, dot, false)?,
                        None => Value::Nil,
                    };
                    self.call_template(name, v)?;
                    Flow::Normal
                }
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn range(
        &mut self,
        pipe: &Pipe,
        body: &[Node],
        alt: &[Node],
        dot: &Value,
    ) -> Result<Flow, Fail> {
        let v = self.pipe(pipe, dot, false)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, e)| (Value::str(k.as_str()), e.clone()))
                .collect(),
            Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::Nil | Value::Missing => Vec::new(),
            other => {
                return Err(Fail::msg(format!(
                    "range can't iterate over {}",
                    other.display()
                )))
            }
        };
        if items.is_empty() {
            let mark = self.vars.len();
            let flow = self.walk(alt, dot);
            self.vars.truncate(mark);
            return flow;
        }
        for (key, elem) in items {
            let mark = self.vars.len();
            let values = match pipe.vars.len() {
                2 => vec![key, elem.clone()],
                _ => vec![elem.clone()],
            };
            for (name, val) in pipe.vars.iter().zip(values) {
                self.bind(name, val, pipe.assign)?;
            }
            let flow = self.walk(body, &elem);
            self.vars.truncate(mark);
            if let Flow::Break = flow? {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn call_template(&mut self, name: &str, dot: Value) -> Result<(), Fail> {
        let body = self
            .defs
            .get(name)
            .cloned()
            .ok_or_else(|| Fail::msg(format!("no such template {name:?}")))?;
        if self.depth >= MAX_DEPTH {
            return Err(Fail::msg(format!(
                "exceeded maximum template depth ({MAX_DEPTH})"
            )));
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.vars, vec![("$".into(), dot.clone())]);
        let r = self.walk(&body, &dot);
        self.vars = saved;
        self.depth -= 1;
        r.map(|_| ())
    }

    fn bind(&mut self, name: &str, v: Value, assign: bool) -> Result<(), Fail> {
        if !assign {
            self.vars.push((name.to_string(), v));
            return Ok(());
        }
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(Fail::msg(format!("undefined variable: {name}"))),
        }
    }

    fn var(&self, name: &str) -> Result<Value, Fail> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| Fail::msg(format!("undefined variable: {name}")))
    }

    /// Evaluates a pipeline; `declare` binds its variables.
    fn pipe(&mut self, p: &Pipe, dot: &Value, declare: bool) -> Result<Value, Fail> {
        let mut val = None;
        for cmd in &p.cmds {
            val = Some(self.command(cmd, dot, val)?);
        }
        let v = val.unwrap_or_default();
        if declare {
            for name in &p.vars {
                self.bind(name, v.clone(), p.assign)?;
            }
        }
        Ok(v)
    }

    fn command(&mut self, cmd: &[Arg], dot: &Value, piped: Option<Value>) -> Result<Value, Fail> {
        let with_args = |ex: &mut Self| -> Result<Vec<Value>, Fail> {
            let mut args = Vec::with_capacity(cmd.len());
            for a in &cmd[1..] {
                args.push(ex.operand(a, dot)?);
            }
            args.extend(piped.clone());
            Ok(args)
        };
        match &cmd[0] {
            Arg::Func(name, fields) if fields.is_empty() => self.call(name, &cmd[1..], dot, piped),
            Arg::Field(path) => {
                let args = with_args(self)?;
                self.chain(dot.clone(), path, args)
            }
            Arg::Var(v, path) if !path.is_empty() => {
                let recv = self.var(v)?;
                let args = with_args(self)?;
                self.chain(recv, path, args)
            }
            Arg::Func(name, path) => {
                let recv = self.call(name, &[], dot, None)?;
                let args = with_args(self)?;
                self.chain(recv, path, args)
            }
            Arg::Sub(p, path) if !path.is_empty() => {
                let recv = self.pipe(p, dot, false)?;
                let args = with_args(self)?;
                self.chain(recv, path, args)
            }
            other => {
                if cmd.len() > 1 || piped.is_some() {
                    return Err(Fail::msg(format!(
                        "can't give argument to non-function {other:?}"
                    )));
                }
                self.operand(other, dot)
            }
        }
    }

    /// An operand's value (functions are called without arguments).
    fn operand(&mut self, a: &Arg, dot: &Value) -> Result<Value, Fail> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Nil => Value::Nil,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Int(n) => Value::Int(*n),
            Arg::Float(f) => Value::Float(*f),
            Arg::Str(s) => Value::Str(s.clone()),
            Arg::Field(path) => self.chain(dot.clone(), path, Vec::new())?,
            Arg::Var(v, path) => {
                let recv = self.var(v)?;
                self.chain(recv, path, Vec::new())?
            }
            Arg::Func(name, path) => {
                let recv = self.call(name, &[], dot, None)?;
                self.chain(recv, path, Vec::new())?
            }
            Arg::Sub(p, path) => {
                let recv = self.pipe(p, dot, false)?;
                self.chain(recv, path, Vec::new())?
            }
        })
    }

    /// Walks `.A.B.C` from `recv`; the last element gets `args`.
    fn chain(
        &mut self,
        mut recv: Value,
        path: &[String],
        mut args: Vec<Value>,
    ) -> Result<Value, Fail> {
        for (i, name) in path.iter().enumerate() {
            let a = if i + 1 == path.len() {
                std::mem::take(&mut args)
            } else {
                Vec::new()
            };
            recv = match recv {
                Value::Map(m) if a.is_empty() => m.get(name).cloned().unwrap_or(Value::Missing),
                Value::Obj(o) => o.get(name, a, self.env).map_err(Fail::Msg)?,
                Value::Time(t) => funcs::time::method(t, name, &a).map_err(Fail::Msg)?,
                Value::Nil | Value::Missing => {
                    return Err(Fail::msg(format!(
                        "nil pointer evaluating interface {{}}.{name}"
                    )))
                }
                other => {
                    return Err(Fail::msg(format!(
                        "can't evaluate field {name} in type {}",
                        other.kind()
                    )))
                }
            };
        }
        if !args.is_empty() {
            return Err(Fail::msg("can't give argument to non-function"));
        }
        Ok(recv)
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Arg],
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, Fail> {
        if name == "and" || name == "or" {
            let mut last = Value::Nil;
            for a in args {
                last = self.operand(a, dot)?;
                if last.truthy() != (name == "and") {
                    return Ok(last);
                }
            }
            return Ok(piped.unwrap_or(last));
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.operand(a, dot)?);
        }
        vals.extend(piped);
        match name {
            "include" => return self.include(vals),
            "httpInclude" => return self.http_include(vals),
            "import" => return self.import(vals),
            _ => {}
        }
        if let Some(r) = funcs::call(name, &vals) {
            return r.map_err(|e| Fail::Msg(format!("error calling {name}: {e}")));
        }
        match self.env.call(name, vals) {
            Some(r) => r.map_err(|e| match e {
                Fail::Msg(m) => Fail::Msg(format!("error calling {name}: {m}")),
                other => other,
            }),
            None => Err(Fail::msg(format!("function {name:?} not defined"))),
        }
    }

    /// `include "file" args...`: renders the file with `.Args`.
    fn include(&mut self, vals: Vec<Value>) -> Result<Value, Fail> {
        let mut it = vals.into_iter();
        let file = it
            .next()
            .ok_or_else(|| Fail::msg("include: missing file name"))?;
        let file = file.as_str().map_err(Fail::Msg)?.to_string();
        let src = self.env.read_file(&file).map_err(Fail::Msg)?;
        if self.depth >= MAX_DEPTH {
            return Err(Fail::msg(format!(
                "include: exceeded maximum depth ({MAX_DEPTH})"
            )));
        }
        let t = parse(&file, &src, self.env.delims()).map_err(Fail::Msg)?;
        let data = self.env.root(it.collect());
        execute_at(&t, data, &mut *self.env, self.depth + 1).map(Value::str)
    }

    /// `httpInclude "uri"`: the body of a virtual GET of `uri`, executed
    /// as a template with this context.
    fn http_include(&mut self, vals: Vec<Value>) -> Result<Value, Fail> {
        let [uri] = vals.as_slice() else {
            return Err(Fail::msg(format!(
                "wrong number of args for httpInclude: want 1 got {}",
                vals.len()
            )));
        };
        let uri = uri.as_str().map_err(Fail::Msg)?.to_string();
        let body = self.env.http_include(&uri).map_err(|e| match e {
            Fail::Msg(m) => Fail::Msg(format!("error calling httpInclude: {m}")),
            other => other,
        })?;
        if self.depth >= MAX_DEPTH {
            return Err(Fail::msg(format!(
                "httpInclude: exceeded maximum depth ({MAX_DEPTH})"
            )));
        }
        let t = parse(&uri, &body, self.env.delims()).map_err(Fail::Msg)?;
        let data = self.env.root(Vec::new());
        execute_at(&t, data, &mut *self.env, self.depth + 1).map(Value::str)
    }

    /// `import "file"`: adds the file's definitions (or the file itself,
    /// under its name, when it defines none).
    fn import(&mut self, vals: Vec<Value>) -> Result<Value, Fail> {
        let file = vals
            .first()
            .ok_or_else(|| Fail::msg("import: missing file name"))?;
        let file = file.as_str().map_err(Fail::Msg)?.to_string();
        let src = self.env.read_file(&file).map_err(Fail::Msg)?;
        let t = parse(&file, &src, self.env.delims()).map_err(Fail::Msg)?;
        if t.defs.is_empty() {
            self.defs.insert(file, Rc::new(t.root));
        } else {
            self.defs.extend(t.defs);
        }
        Ok(Value::str(""))
    }
}
