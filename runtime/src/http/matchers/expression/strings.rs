//! The string functions of CEL's `ext.Strings()` library, which Caddy's
//! expression environment includes: `charAt`, `indexOf`, `lastIndexOf`,
//! `replace`, `split`, `substring`, `join` (on a list), `reverse`, and
//! `strings.quote`. Indexes count code points, as CEL's do.

use super::eval::Val;

/// The names handled here, callable as methods.
pub const NAMES: &[&str] = &[
    "charAt",
    "indexOf",
    "lastIndexOf",
    "replace",
    "split",
    "substring",
    "join",
    "reverse",
];

type Res = Result<Val, String>;

/// Calls `name` (one of [`NAMES`]) on `recv` with `args`.
pub fn call(name: &str, recv: Val, args: &[Val]) -> Res {
    match (name, recv) {
        ("join", Val::List(items)) => join(items, args),
        (_, Val::Str(s)) => on_str(name, &s, args),
        (_, other) => Err(format!("no such overload: {}.{name}()", other.type_name())),
    }
}

fn int(args: &[Val], i: usize) -> Result<i64, String> {
    match args.get(i) {
        Some(Val::Num(n)) if n.fract() == 0.0 => Ok(*n as i64),
        _ => Err(format!("argument {i} must be an int")),
    }
}

fn text(args: &[Val], i: usize) -> Result<&str, String> {
    match args.get(i) {
        Some(Val::Str(s)) => Ok(s),
        _ => Err(format!("argument {i} must be a string")),
    }
}

/// The code point index `i` as a byte offset (the end when `i` is the
/// length); an error out of range.
fn offset(s: &str, i: i64) -> Result<usize, String> {
    let n = s.chars().count() as i64;
    if i < 0 || i > n {
        return Err(format!("index out of range: {i}"));
    }
    Ok(s.char_indices().nth(i as usize).map_or(s.len(), |(b, _)| b))
}

fn on_str(name: &str, s: &str, args: &[Val]) -> Res {
    let chars = |b: usize| s[..b].chars().count() as f64;
    Ok(match (name, args.len()) {
        ("charAt", 1) => {
            let b = offset(s, int(args, 0)?)?;
            Val::Str(s[b..].chars().next().map(String::from).unwrap_or_default())
        }
        ("indexOf", 1 | 2) => {
            let from = if args.len() == 2 {
                offset(s, int(args, 1)?)?
            } else {
                0
            };
            let sub = text(args, 0)?;
            s[from..]
                .find(sub)
                .map_or(Val::Num(-1.0), |b| Val::Num(chars(from + b)))
        }
        ("lastIndexOf", 1) => {
            let sub = text(args, 0)?;
            s.rfind(sub).map_or(Val::Num(-1.0), |b| Val::Num(chars(b)))
        }
        ("replace", 2 | 3) => {
            let (from, to) = (text(args, 0)?, text(args, 1)?);
            match args.len() {
                3 if int(args, 2)? >= 0 => Val::Str(s.replacen(from, to, int(args, 2)? as usize)),
                _ => Val::Str(s.replace(from, to)),
            }
        }
        ("split", 1 | 2) => {
            let sep = text(args, 0)?;
            let parts: Vec<Val> = match args.len() {
                2 if int(args, 1)? == 0 => Vec::new(),
                2 if int(args, 1)? > 0 => s
                    .splitn(int(args, 1)? as usize, sep)
                    .map(|p| Val::Str(p.into()))
                    .collect(),
                _ if sep.is_empty() => s.chars().map(|c| Val::Str(c.into())).collect(),
                _ => s.split(sep).map(|p| Val::Str(p.into())).collect(),
            };
            Val::List(parts)
        }
        ("substring", 1 | 2) => {
            let a = offset(s, int(args, 0)?)?;
            let b = match args.len() {
                2 => offset(s, int(args, 1)?)?,
                _ => s.len(),
            };
            if b < a {
                return Err("substring: end before start".into());
            }
            Val::Str(s[a..b].to_string())
        }
        ("reverse", 0) => Val::Str(s.chars().rev().collect()),
        _ => return Err(format!("no such overload: string.{name}/{}", args.len())),
    })
}

fn join(items: Vec<Val>, args: &[Val]) -> Res {
    let sep = match args.len() {
        0 => "",
        _ => text(args, 0)?,
    };
    let mut parts = Vec::with_capacity(items.len());
    for v in items {
        match v {
            Val::Str(s) => parts.push(s),
            _ => return Err("join: the list must hold strings".into()),
        }
    }
    Ok(Val::Str(parts.join(sep)))
}
