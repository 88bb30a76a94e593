//! CEL's `ext.Math()` and `ext.Lists()` libraries, which Caddy's
//! expression environment includes, plus `strings.quote` of
//! `ext.Strings()`: `math.greatest`, `math.least`, `math.ceil`,
//! `math.floor`, `math.round`, `math.trunc`, `math.abs`, `math.sign`,
//! `math.sqrt`, `math.isNaN`, `math.isInf`, `math.isFinite`, the
//! `math.bit*` operations, `lists.range`, and the list methods `slice`,
//! `flatten`, `distinct`, `reverse` and `sort`. Numbers are one type here
//! (CEL's int and double both), so an integral double counts as an int.

use super::eval::Val;

/// Namespaced global functions.
pub const GLOBALS: &[&str] = &[
    "math.greatest",
    "math.least",
    "math.ceil",
    "math.floor",
    "math.round",
    "math.trunc",
    "math.abs",
    "math.sign",
    "math.sqrt",
    "math.isNaN",
    "math.isInf",
    "math.isFinite",
    "math.bitAnd",
    "math.bitOr",
    "math.bitXor",
    "math.bitNot",
    "math.bitShiftLeft",
    "math.bitShiftRight",
    "lists.range",
    "strings.quote",
];

/// List methods.
pub const LIST_METHODS: &[&str] = &["slice", "flatten", "distinct", "sort"];

type Res = Result<Val, String>;

fn num(v: &Val, name: &str) -> Result<f64, String> {
    match v {
        Val::Num(n) | Val::Dbl(n) => Ok(*n),
        other => Err(format!("no such overload: {name}({})", other.type_name())),
    }
}

fn int(v: &Val, name: &str) -> Result<i64, String> {
    match v {
        Val::Num(n) if n.fract() == 0.0 => Ok(*n as i64),
        other => Err(format!("no such overload: {name}({})", other.type_name())),
    }
}

/// Calls a namespaced function.
pub fn global(name: &str, args: Vec<Val>) -> Res {
    let one = |args: &[Val]| -> Result<f64, String> {
        match args {
            [v] => num(v, name),
            _ => Err(format!("no such overload: {name}/{}", args.len())),
        }
    };
    Ok(match name {
        "math.greatest" | "math.least" => extreme(name, args)?,
        "math.ceil" => Val::Dbl(one(&args)?.ceil()),
        "math.floor" => Val::Dbl(one(&args)?.floor()),
        "math.round" => Val::Dbl(one(&args)?.round()),
        "math.trunc" => Val::Dbl(one(&args)?.trunc()),
        "math.abs" => same_kind(&args, one(&args)?.abs()),
        "math.sign" => {
            let n = one(&args)?;
            same_kind(
                &args,
                if n == 0.0 || n.is_nan() {
                    n
                } else {
                    n.signum()
                },
            )
        }
        "math.sqrt" => Val::Dbl(one(&args)?.sqrt()),
        "math.isNaN" => Val::Bool(one(&args)?.is_nan()),
        "math.isInf" => Val::Bool(one(&args)?.is_infinite()),
        "math.isFinite" => Val::Bool(one(&args)?.is_finite()),
        "math.bitNot" => match args.as_slice() {
            [v] => Val::Num(!int(v, name)? as f64),
            _ => return Err(format!("no such overload: {name}/{}", args.len())),
        },
        "math.bitAnd" | "math.bitOr" | "math.bitXor" | "math.bitShiftLeft"
        | "math.bitShiftRight" => bits(name, &args)?,
        "lists.range" => match args.as_slice() {
            [v] => Val::List(
                (0..int(v, name)?.max(0))
                    .map(|i| Val::Num(i as f64))
                    .collect(),
            ),
            _ => return Err(format!("no such overload: {name}/{}", args.len())),
        },
        "strings.quote" => match args.as_slice() {
            [Val::Str(s)] => Val::Str(quote(s)),
            _ => return Err(format!("no such overload: {name}")),
        },
        _ => return Err(format!("unknown function {name}")),
    })
}

/// `n` as the kind of number `args[0]` is (an int stays an int).
fn same_kind(args: &[Val], n: f64) -> Val {
    match args.first() {
        Some(Val::Dbl(_)) => Val::Dbl(n),
        _ => Val::Num(n),
    }
}

/// `math.greatest(a, b, …)` or `math.greatest([a, b, …])`.
fn extreme(name: &str, args: Vec<Val>) -> Res {
    let items = match args.as_slice() {
        [Val::List(l)] => l.clone(),
        _ => args,
    };
    let mut best: Option<(f64, &Val)> = None;
    for v in &items {
        let n = num(v, name)?;
        let better = match best {
            None => true,
            Some((b, _)) if name == "math.greatest" => n > b,
            Some((b, _)) => n < b,
        };
        if better {
            best = Some((n, v));
        }
    }
    best.map(|(_, v)| v.clone())
        .ok_or_else(|| format!("{name}: no arguments"))
}

fn bits(name: &str, args: &[Val]) -> Res {
    let [a, b] = args else {
        return Err(format!("no such overload: {name}/{}", args.len()));
    };
    let (a, b) = (int(a, name)?, int(b, name)?);
    let shift = |b: i64| -> Result<u32, String> {
        u32::try_from(b).map_err(|_| format!("{name}: negative offset"))
    };
    Ok(Val::Num(match name {
        "math.bitAnd" => a & b,
        "math.bitOr" => a | b,
        "math.bitXor" => a ^ b,
        "math.bitShiftLeft" => a.checked_shl(shift(b)?).unwrap_or(0),
        _ => a
            .checked_shr(shift(b)?)
            .unwrap_or(if a < 0 { -1 } else { 0 }),
    } as f64))
}

/// `strings.quote`: a CEL string literal for `s`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A list method (the receiver is a list; `reverse` on a string is
/// `ext.Strings`'s).
pub fn list_method(name: &str, items: Vec<Val>, args: &[Val]) -> Res {
    Ok(match (name, args) {
        ("slice", [a, b]) => {
            let (a, b) = (int(a, name)?, int(b, name)?);
            if a < 0 || b < a || b as usize > items.len() {
                return Err(format!(
                    "slice({a}, {b}) out of range of {} items",
                    items.len()
                ));
            }
            Val::List(items[a as usize..b as usize].to_vec())
        }
        ("flatten", []) => Val::List(flatten(items, 1)),
        ("flatten", [d]) => {
            let depth = int(d, name)?;
            if depth < 0 {
                return Err("flatten: depth must be non-negative".into());
            }
            Val::List(flatten(items, depth as usize))
        }
        ("distinct", []) => {
            let mut out: Vec<Val> = Vec::with_capacity(items.len());
            for v in items {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Val::List(out)
        }
        ("reverse", []) => Val::List(items.into_iter().rev().collect()),
        ("sort", []) => Val::List(sorted(items)?),
        _ => return Err(format!("no such overload: list.{name}/{}", args.len())),
    })
}

fn flatten(items: Vec<Val>, depth: usize) -> Vec<Val> {
    let mut out = Vec::with_capacity(items.len());
    for v in items {
        match v {
            Val::List(inner) if depth > 0 => out.extend(flatten(inner, depth - 1)),
            other => out.push(other),
        }
    }
    out
}

/// Sorts numbers, strings or bools; a mixed list is an error, as in CEL.
fn sorted(mut items: Vec<Val>) -> Result<Vec<Val>, String> {
    let kind = items.first().map(Val::type_name);
    if items.iter().any(|v| Some(v.type_name()) != kind)
        || matches!(kind, Some("list" | "null_type"))
    {
        return Err("sort: the list must hold comparable values of one type".into());
    }
    items.sort_by(|a, b| match (a, b) {
        (Val::Num(x), Val::Num(y)) | (Val::Dbl(x), Val::Dbl(y)) => x.total_cmp(y),
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    });
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(x: f64) -> Val {
        Val::Num(x)
    }

    #[test]
    fn math_functions() {
        assert_eq!(
            global("math.greatest", vec![n(1.0), n(7.0), n(3.0)]),
            Ok(n(7.0))
        );
        assert_eq!(
            global("math.least", vec![Val::List(vec![n(4.0), n(-2.0)])]),
            Ok(n(-2.0))
        );
        let d = Val::Dbl;
        assert_eq!(global("math.ceil", vec![d(1.2)]), Ok(d(2.0)));
        assert_eq!(global("math.round", vec![d(-1.5)]), Ok(d(-2.0)));
        assert_eq!(global("math.sign", vec![n(-4.0)]), Ok(n(-1.0)));
        assert_eq!(global("math.sign", vec![d(-4.5)]), Ok(d(-1.0)));
        assert_eq!(global("math.abs", vec![n(-3.0)]), Ok(n(3.0)));
        assert_eq!(global("math.sqrt", vec![n(4.0)]), Ok(d(2.0)));
        // greatest and least give the winning argument, int or double
        assert_eq!(global("math.greatest", vec![n(1.0), d(1.5)]), Ok(d(1.5)));
        assert_eq!(
            global("math.bitShiftLeft", vec![n(1.0), n(4.0)]),
            Ok(n(16.0))
        );
        assert_eq!(global("math.bitXor", vec![n(6.0), n(3.0)]), Ok(n(5.0)));
        assert!(global("math.bitAnd", vec![n(1.5), n(1.0)]).is_err());
        assert!(global("math.greatest", vec![]).is_err());
    }

    #[test]
    fn list_functions() {
        let l = |v: &[f64]| Val::List(v.iter().map(|x| n(*x)).collect());
        assert_eq!(global("lists.range", vec![n(3.0)]), Ok(l(&[0.0, 1.0, 2.0])));
        assert_eq!(
            list_method("slice", vec![n(1.0), n(2.0), n(3.0)], &[n(1.0), n(3.0)]),
            Ok(l(&[2.0, 3.0]))
        );
        assert!(list_method("slice", vec![n(1.0)], &[n(0.0), n(2.0)]).is_err());
        let nested = vec![n(1.0), Val::List(vec![n(2.0), Val::List(vec![n(3.0)])])];
        assert_eq!(
            list_method("flatten", nested.clone(), &[]),
            Ok(Val::List(vec![n(1.0), n(2.0), Val::List(vec![n(3.0)])]))
        );
        assert_eq!(
            list_method("flatten", nested, &[n(2.0)]),
            Ok(l(&[1.0, 2.0, 3.0]))
        );
        assert_eq!(
            list_method("distinct", vec![n(1.0), n(1.0), n(2.0)], &[]),
            Ok(l(&[1.0, 2.0]))
        );
        assert_eq!(
            list_method("sort", vec![n(3.0), n(1.0)], &[]),
            Ok(l(&[1.0, 3.0]))
        );
        assert!(list_method("sort", vec![n(3.0), Val::Str("a".into())], &[]).is_err());
    }

    #[test]
    fn quote_escapes() {
        assert_eq!(
            global("strings.quote", vec![Val::Str("a\"b\n".into())]),
            Ok(Val::Str("\"a\\\"b\\n\"".into()))
        );
    }
}
