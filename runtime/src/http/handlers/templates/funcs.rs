//! Functions that need no request: Go's builtins (`eq ne lt le gt ge not
//! len index slice print printf println html js urlquery`), here, and the
//! Sprig functions templates commonly use (`funcs/sprig.rs`), with times
//! and Go's layouts in `funcs/time.rs` and `printf` in `funcs/printf.rs`.
//! (`and`/`or` evaluate lazily, so the executor runs them.)

mod printf;
pub mod sprig;
pub mod time;

use super::value::Value;
use std::cmp::Ordering;

/// Calls function `name`; `None` when it is not one of these.
pub fn call(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let r = match name {
        "eq" => eq(args),
        "ne" => arity(args, 2).and_then(|_| equal(&args[0], &args[1]).map(|e| Value::Bool(!e))),
        "lt" | "le" | "gt" | "ge" => arity(args, 2).and_then(|_| {
            let o = compare(&args[0], &args[1])?;
            Ok(Value::Bool(match name {
                "lt" => o == Ordering::Less,
                "le" => o != Ordering::Greater,
                "gt" => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }))
        }),
        "not" => arity(args, 1).map(|_| Value::Bool(!args[0].truthy())),
        "len" => arity(args, 1).and_then(|_| len(&args[0])),
        "index" => index(args),
        "slice" => slice(args),
        "print" => Ok(Value::str(sprint(args))),
        "println" => {
            let parts: Vec<String> = args.iter().map(Value::display).collect();
            Ok(Value::str(parts.join(" ") + "\n"))
        }
        "printf" => match args.split_first() {
            Some((f, rest)) => f.as_str().map(|f| Value::str(printf::format(f, rest))),
            None => Err("wrong number of args for printf: want at least 1 got 0".into()),
        },
        "html" => Ok(Value::str(html_escape(&sprint(args)))),
        "js" => Ok(Value::str(js_escape(&sprint(args)))),
        "urlquery" => Ok(Value::str(
            percent_encoding::utf8_percent_encode(&sprint(args), QUERY)
                .to_string()
                .replace("%20", "+"),
        )),
        "call" => Err("call is not supported by bellhop".into()),
        _ => return sprig::call(name, args).or_else(|| time::call(name, args)),
    };
    Some(r)
}

/// What Go's `url.QueryEscape` leaves alone: letters, digits, `-_.~`
/// (and spaces become `+`, done by hand below).
const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub fn arity(args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("wrong number of args: want {n} got {}", args.len()))
    }
}

/// `fmt.Sprint`: a space between operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::Str(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        a.write_to(&mut out);
    }
    out
}

fn eq(args: &[Value]) -> Result<Value, String> {
    let Some((first, rest)) = args.split_first() else {
        return Err("missing argument for comparison".into());
    };
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    for other in rest {
        if equal(first, other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// Go's `eq` on basic values: numbers by value, strings, bools, nil.
pub fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Nil | Value::Missing, Value::Nil | Value::Missing) => true,
        (Value::Nil | Value::Missing, _) | (_, Value::Nil | Value::Missing) => false,
        (Value::Time(x), Value::Time(y)) => x == y,
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => {
                return Err(format!(
                    "incompatible types for comparison: {} and {}",
                    a.kind(),
                    b.kind()
                ))
            }
        },
    })
}

fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y).ok_or_else(|| "NaN in comparison".into()),
            _ => Err(format!(
                "incompatible types for comparison: {} and {}",
                a.kind(),
                b.kind()
            )),
        },
    }
}

fn len(v: &Value) -> Result<Value, String> {
    Ok(Value::Int(match v {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        other => return Err(format!("len of type {}", other.kind())),
    } as i64))
}

fn index(args: &[Value]) -> Result<Value, String> {
    let Some((mut cur, keys)) = args.split_first().map(|(c, k)| (c.clone(), k)) else {
        return Err("index of nothing".into());
    };
    for key in keys {
        cur = match &cur {
            Value::List(l) => {
                let i = key.as_int()?;
                l.get(usize::try_from(i).map_err(|_| format!("index out of range: {i}"))?)
                    .cloned()
                    .ok_or_else(|| format!("index out of range: {i}"))?
            }
            Value::Str(s) => {
                let i = key.as_int()?;
                let b = usize::try_from(i)
                    .ok()
                    .and_then(|i| s.as_bytes().get(i))
                    .ok_or_else(|| format!("index out of range: {i}"))?;
                Value::Int(i64::from(*b))
            }
            Value::Map(m) => m.get(key.as_str()?).cloned().unwrap_or(Value::Missing),
            Value::Obj(o) => o
                .index(key)
                .ok_or_else(|| format!("can't index item of type {}", o.type_name()))?,
            Value::Nil | Value::Missing => return Err("index of untyped nil".into()),
            other => return Err(format!("can't index item of type {}", other.kind())),
        };
    }
    Ok(cur)
}

fn slice(args: &[Value]) -> Result<Value, String> {
    let Some((item, idx)) = args.split_first() else {
        return Err("slice of nothing".into());
    };
    let bounds: Vec<usize> = idx
        .iter()
        .map(|v| {
            v.as_int()
                .and_then(|n| usize::try_from(n).map_err(|_| format!("negative index {n}")))
        })
        .collect::<Result<_, _>>()?;
    let len = match item {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        other => return Err(format!("can't slice item of type {}", other.kind())),
    };
    let (lo, hi) = match bounds[..] {
        [] => (0, len),
        [lo] => (lo, len),
        [lo, hi] => (lo, hi),
        _ => return Err("too many slice indexes".into()),
    };
    if lo > hi || hi > len {
        return Err(format!(
            "slice bounds out of range [{lo}:{hi}] with length {len}"
        ));
    }
    Ok(match item {
        Value::Str(s) => Value::str(s.get(lo..hi).ok_or("slice splits a character")?),
        Value::List(l) => Value::list(l[lo..hi].to_vec()),
        _ => unreachable!("checked above"),
    })
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
