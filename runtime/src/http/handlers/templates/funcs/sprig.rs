//! The Sprig functions templates commonly use (Caddy ships all of Sprig;
//! bellhop has this subset): strings (`upper lower title trim trimAll
//! trimPrefix trimSuffix replace repeat contains hasPrefix hasSuffix
//! quote squote cat substr trunc indent nindent split splitList join`),
//! defaults (`default empty coalesce ternary`), lists and dicts (`list
//! first last dict get hasKey keys`), numbers (`add sub mul div mod max
//! min int atoi toString`), encodings (`toJson fromJson b64enc b64dec`), and `uuidv4` (from the system's
//! random source: it makes CSP nonces).
//! Sprig's argument order: the piped value comes last (`replace old new
//! s`, `default "x" .V`).

use super::super::value::Value;
use super::{arity, sprint};
use base64::Engine as _;
use std::collections::BTreeMap;

/// A random (version 4) UUID, as Sprig's `uuidv4`.
fn uuid_v4() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| "uuidv4: no random source".to_string())?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn s(v: &Value) -> String {
    match v {
        Value::Nil | Value::Missing => String::new(),
        other => other.display(),
    }
}

fn list_of(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.to_vec(),
        Value::Nil | Value::Missing => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Sprig functions; `None` for other names.
pub fn call(name: &str, a: &[Value]) -> Option<Result<Value, String>> {
    let str1 = |f: fn(&str) -> String| arity(a, 1).map(|_| Value::str(f(&s(&a[0]))));
    let str2 = |f: fn(&str, &str) -> Value| arity(a, 2).map(|_| f(&s(&a[0]), &s(&a[1])));
    Some(match name {
        "upper" => str1(|x| x.to_uppercase()),
        "lower" => str1(|x| x.to_lowercase()),
        "title" => str1(title),
        "trim" => str1(|x| x.trim().to_string()),
        "quote" => Ok(Value::str(
            a.iter()
                .map(|v| format!("{:?}", s(v)))
                .collect::<Vec<_>>()
                .join(" "),
        )),
        "squote" => Ok(Value::str(
            a.iter()
                .map(|v| format!("'{}'", s(v)))
                .collect::<Vec<_>>()
                .join(" "),
        )),
        "cat" => Ok(Value::str(
            a.iter()
                .filter(|v| !matches!(v, Value::Nil))
                .map(s)
                .collect::<Vec<_>>()
                .join(" "),
        )),
        "trimAll" => str2(|cut, x| Value::str(x.trim_matches(|c| cut.contains(c)))),
        "trimPrefix" => str2(|p, x| Value::str(x.strip_prefix(p).unwrap_or(x))),
        "trimSuffix" => str2(|p, x| Value::str(x.strip_suffix(p).unwrap_or(x))),
        "contains" => str2(|sub, x| Value::Bool(x.contains(sub))),
        "hasPrefix" => str2(|p, x| Value::Bool(x.starts_with(p))),
        "hasSuffix" => str2(|p, x| Value::Bool(x.ends_with(p))),
        "splitList" => str2(|sep, x| Value::list(x.split(sep).map(Value::str).collect())),
        "split" => str2(|sep, x| {
            Value::map(
                x.split(sep)
                    .enumerate()
                    .map(|(i, p)| (format!("_{i}"), Value::str(p)))
                    .collect(),
            )
        }),
        "replace" => arity(a, 3).map(|_| Value::str(s(&a[2]).replace(&s(&a[0]), &s(&a[1])))),
        "repeat" => arity(a, 2).and_then(|_| {
            let n = usize::try_from(a[0].as_int()?).map_err(|_| "negative count")?;
            Ok(Value::str(s(&a[1]).repeat(n)))
        }),
        "substr" => arity(a, 3).and_then(|_| {
            let x: Vec<char> = s(&a[2]).chars().collect();
            let (lo, hi) = (a[0].as_int()?.max(0) as usize, a[1].as_int()?);
            let hi = if hi < 0 {
                x.len()
            } else {
                (hi as usize).min(x.len())
            };
            Ok(Value::str(
                x.get(lo.min(hi)..hi)
                    .unwrap_or(&[])
                    .iter()
                    .collect::<String>(),
            ))
        }),
        "trunc" => arity(a, 2).and_then(|_| {
            let n = a[0].as_int()?;
            let x: Vec<char> = s(&a[1]).chars().collect();
            let kept = if n >= 0 {
                &x[..(n as usize).min(x.len())]
            } else {
                &x[x.len().saturating_sub(n.unsigned_abs() as usize)..]
            };
            Ok(Value::str(kept.iter().collect::<String>()))
        }),
        "indent" | "nindent" => arity(a, 2).and_then(|_| {
            let pad = " ".repeat(usize::try_from(a[0].as_int()?).unwrap_or(0));
            let body = format!("{pad}{}", s(&a[1]).replace('\n', &format!("\n{pad}")));
            Ok(Value::str(if name == "nindent" {
                format!("\n{body}")
            } else {
                body
            }))
        }),
        "join" => arity(a, 2).map(|_| {
            Value::str(
                list_of(&a[1])
                    .iter()
                    .map(s)
                    .collect::<Vec<_>>()
                    .join(&s(&a[0])),
            )
        }),
        "default" => arity(a, 2).map(|_| {
            if a[1].truthy() {
                a[1].clone()
            } else {
                a[0].clone()
            }
        }),
        "empty" => arity(a, 1).map(|_| Value::Bool(!a[0].truthy())),
        "coalesce" => Ok(a.iter().find(|v| v.truthy()).cloned().unwrap_or_default()),
        "ternary" => arity(a, 3).map(|_| {
            if a[2].truthy() {
                a[0].clone()
            } else {
                a[1].clone()
            }
        }),
        "list" => Ok(Value::list(a.to_vec())),
        "first" => arity(a, 1).map(|_| list_of(&a[0]).first().cloned().unwrap_or_default()),
        "last" => arity(a, 1).map(|_| list_of(&a[0]).last().cloned().unwrap_or_default()),
        "dict" => Ok(Value::map(
            a.chunks(2)
                .map(|kv| (s(&kv[0]), kv.get(1).cloned().unwrap_or(Value::str(""))))
                .collect(),
        )),
        "get" => arity(a, 2).and_then(|_| match &a[0] {
            Value::Map(m) => Ok(m.get(&s(&a[1])).cloned().unwrap_or(Value::str(""))),
            other => Err(format!("get: expected a map; found {}", other.kind())),
        }),
        "hasKey" => arity(a, 2).and_then(|_| match &a[0] {
            Value::Map(m) => Ok(Value::Bool(m.contains_key(&s(&a[1])))),
            other => Err(format!("hasKey: expected a map; found {}", other.kind())),
        }),
        "keys" => Ok(Value::list(
            a.iter()
                .filter_map(|m| match m {
                    Value::Map(m) => {
                        Some(m.keys().map(|k| Value::str(k.as_str())).collect::<Vec<_>>())
                    }
                    _ => None,
                })
                .flatten()
                .collect(),
        )),
        "add" | "sub" | "mul" | "div" | "mod" | "max" | "min" => arith(name, a),
        "int" | "atoi" => arity(a, 1).map(|_| Value::Int(a[0].as_int().unwrap_or(0))),
        "toString" => Ok(Value::str(sprint(a))),
        "toJson" => arity(a, 1).map(|_| Value::str(a[0].to_json().to_string())),
        "fromJson" => arity(a, 1).map(|_| {
            serde_json::from_str(&s(&a[0]))
                .map_or(Value::map(BTreeMap::new()), |j| Value::from_json(&j))
        }),
        "b64enc" => str1(|x| base64::engine::general_purpose::STANDARD.encode(x)),
        "b64dec" => str1(|x| {
            base64::engine::general_purpose::STANDARD
                .decode(x)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|e| e.to_string())
        }),
        "uuidv4" => arity(a, 0).and_then(|_| uuid_v4().map(Value::str)),
        _ => return None,
    })
}

fn title(x: &str) -> String {
    let mut out = String::with_capacity(x.len());
    let mut start = true;
    for c in x.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c.is_whitespace();
    }
    out
}

/// Sprig's integer arithmetic (`add1`-style floats are not converted).
fn arith(name: &str, a: &[Value]) -> Result<Value, String> {
    let nums: Vec<i64> = a.iter().map(Value::as_int).collect::<Result<_, _>>()?;
    let Some((&first, rest)) = nums.split_first() else {
        return Err(format!("{name}: missing arguments"));
    };
    let mut acc = first;
    for &n in rest {
        acc = match name {
            "add" => acc.wrapping_add(n),
            "sub" => acc.wrapping_sub(n),
            "mul" => acc.wrapping_mul(n),
            "div" | "mod" if n == 0 => return Err("integer divide by zero".into()),
            "div" => acc / n,
            "mod" => acc % n,
            "max" => acc.max(n),
            _ => acc.min(n),
        };
    }
    Ok(Value::Int(acc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, a: &[Value]) -> String {
        call(name, a).unwrap().unwrap().display()
    }

    #[test]
    fn common_functions() {
        let st = |x: &str| Value::str(x);
        assert_eq!(run("replace", &[st("a"), st("b"), st("banana")]), "bbnbnb");
        assert_eq!(run("default", &[st("d"), st("")]), "d");
        assert_eq!(run("default", &[st("d"), st("v")]), "v");
        assert_eq!(run("join", &[st(","), run_list(&["x", "y"])]), "x,y");
        assert_eq!(run("split", &[st("/"), st("a/b")]), "map[_0:a _1:b]");
        assert_eq!(run("title", &[st("hello big world")]), "Hello Big World");
        assert_eq!(run("add", &[Value::Int(1), Value::Int(2), st("3")]), "6");
        assert_eq!(
            run("toJson", &[Value::list(vec![st("a"), Value::Int(1)])]),
            "[\"a\",1]"
        );
        assert_eq!(run("trunc", &[Value::Int(-2), st("hello")]), "lo");
        assert_eq!(run("nindent", &[Value::Int(2), st("a\nb")]), "\n  a\n  b");
        assert!(call("div", &[Value::Int(1), Value::Int(0)])
            .unwrap()
            .is_err());
    }

    fn run_list(items: &[&str]) -> Value {
        Value::list(items.iter().map(|s| Value::str(*s)).collect())
    }
}
