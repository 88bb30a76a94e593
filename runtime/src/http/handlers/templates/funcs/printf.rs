//! `printf`: Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d
//! %f %e %g %t %q %x %X %o %b %c %%`, with flags (`-`, `0`, `+`, space),
//! width and precision. A bad verb or missing operand prints as Go does
//! (`%!d(string=x)`, `%!v(MISSING)`), extra operands as `%!(EXTRA …)`.

use super::super::value::{go_float, Value};

/// Formats `args` by `f`.
pub fn format(f: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        spec.width = digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(digits(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let body = match render(verb, &spec, arg) {
            Some(b) => b,
            None => format!("%!{verb}({}={})", arg.kind(), arg.display()),
        };
        out.push_str(&pad(
            body,
            &spec,
            matches!(verb, 'd' | 'f' | 'e' | 'g' | 'x' | 'X' | 'o' | 'b'),
        ));
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", a.kind(), a.display()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0) * 10 + d as usize);
        chars.next();
    }
    n
}

fn sign(spec: &Spec, negative: bool, body: String) -> String {
    match (negative, spec.plus, spec.space) {
        (true, _, _) => body,
        (false, true, _) => format!("+{body}"),
        (false, false, true) => format!(" {body}"),
        _ => body,
    }
}

fn render(verb: char, spec: &Spec, arg: &Value) -> Option<String> {
    Some(match (verb, arg) {
        ('v', _) => arg.display(),
        ('s', Value::Str(s)) => match spec.prec {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        },
        ('s', v) if !matches!(v, Value::Int(_) | Value::Float(_) | Value::Bool(_)) => v.display(),
        ('q', Value::Str(s)) => serde_json::to_string(&**s).unwrap_or_default(),
        ('t', Value::Bool(b)) => b.to_string(),
        ('d', Value::Int(n)) => sign(spec, *n < 0, n.to_string()),
        ('x', Value::Int(n)) => format!("{n:x}"),
        ('X', Value::Int(n)) => format!("{n:X}"),
        ('o', Value::Int(n)) => format!("{n:o}"),
        ('b', Value::Int(n)) => format!("{n:b}"),
        ('c', Value::Int(n)) => char::from_u32(*n as u32)?.to_string(),
        ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('f' | 'e' | 'g', v) => {
            let f = v.as_f64()?;
            let body = match verb {
                'f' => format!("{f:.*}", spec.prec.unwrap_or(6)),
                'e' => {
                    let s = format!("{f:.*e}", spec.prec.unwrap_or(6));
                    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                    let e: i32 = e.parse().unwrap_or(0);
                    format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
                }
                _ => go_float(f),
            };
            sign(spec, f < 0.0, body)
        }
        _ => return None,
    })
}

fn pad(body: String, spec: &Spec, numeric: bool) -> String {
    let Some(w) = spec.width else { return body };
    let len = body.chars().count();
    if len >= w {
        return body;
    }
    let fill = w - len;
    if spec.left {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, digits) = match body.strip_prefix(['-', '+']) {
            Some(d) => (&body[..1], d),
            None => ("", body.as_str()),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let args = [Value::str("a"), Value::Int(-7), Value::Float(4.25613)];
        assert_eq!(
            format("%s|%05d|%.2f|%v", &args),
            "a|-0007|4.26|%!v(MISSING)"
        );
        assert_eq!(format("%-4s|%3d%%", &args[..2]), "a   | -7%");
        assert_eq!(format("%d", &[Value::str("x")]), "%!d(string=x)");
        assert_eq!(format("%s %s", &[Value::str("x")]), "x %!s(MISSING)");
        assert_eq!(
            format("%q %x", &[Value::str("a\"b"), Value::Int(255)]),
            "\"a\\\"b\" ff"
        );
    }
}
