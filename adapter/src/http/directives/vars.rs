//! `vars` (`vars` handler: sets request variables):
//!
//! ```text
//! vars [<matcher>] [<name> <value>] {
//!     <name> <value>
//!     ...
//! }
//! ```
//!
//! Values are typed as Caddy's `ScalarVal` types them: a quoted token is
//! a string; otherwise an integer, a float, or a Go boolean (`true`,
//! `t`, `FALSE`, …) when it parses as one, else a string. Among `vars`
//! routes, the route sorting is reversed (least specific path first), so
//! more specific values are set last and win.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use crate::syntax::Token;
use serde_json::{Number, Value};

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let mut vars = Obj::handler("vars");
    if h.next_arg() {
        next_var(h, &mut vars)?;
    }
    while h.next_block(0) {
        next_var(h, &mut vars)?;
    }
    Ok(vars.build())
}

/// One `<name> <value>` pair; the cursor is on the name.
fn next_var(h: &mut Helper, vars: &mut Obj) -> Result<()> {
    let name = h.val().to_string();
    if !h.next_arg() {
        return Err(h.arg_err());
    }
    let value = match h.token() {
        Some(t) => scalar(t).map_err(|m| h.error(m))?,
        None => return Err(h.arg_err()),
    };
    vars.put(&name, value);
    if h.next_arg() {
        return Err(h.arg_err());
    }
    Ok(())
}

/// A token as a typed JSON value (Caddy's `Dispenser.ScalarVal`). Floats
/// Go could not encode as JSON (infinities, NaN) are an error.
pub fn scalar(tok: &Token) -> std::result::Result<Value, String> {
    let text = tok.text.as_str();
    if tok.was_quoted() {
        return Ok(Value::String(text.to_string()));
    }
    if is_go_int(text) {
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Value::from(n));
        }
    }
    if let Some(f) = go_float(text) {
        return float_value(f).ok_or_else(|| format!("json: unsupported value: {text}"));
    }
    Ok(match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Value::Bool(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Value::Bool(false),
        _ => Value::String(text.to_string()),
    })
}

/// A float as JSON. Go prints integral floats below 1e21 without a
/// fraction (`1e3` → `1000`), so those that fit an integer type are kept
/// as integers (same text, and equal to what a JSON reader makes of it).
fn float_value(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    let integral = f.fract() == 0.0 && !(f == 0.0 && f.is_sign_negative());
    if integral && f >= 0.0 && f < u64::MAX as f64 {
        return Some(Value::from(f as u64));
    }
    if integral && f < 0.0 && f >= i64::MIN as f64 {
        return Some(Value::from(f as i64));
    }
    Number::from_f64(f).map(Value::Number)
}

/// Go's `strconv.Atoi` syntax: an optional sign and decimal digits.
fn is_go_int(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Go's `strconv.ParseFloat` for decimal input (digits, one point, an
/// exponent) and the special names `inf`, `infinity`, `nan`.
fn go_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let special = ["inf", "infinity", "nan"]
        .iter()
        .any(|n| body.eq_ignore_ascii_case(n));
    let decimal = body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !(special || decimal) {
        return None;
    }
    // out of range (`1e400`) is an error in Go, so the text stays a string
    s.parse::<f64>().ok().filter(|f| special || f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{Quote, SourceFile};
    use serde_json::json;

    fn tok(text: &str, quote: Quote) -> Token {
        let file = SourceFile::new("Caddyfile", text);
        let mut t = Token::synthetic(text, &file, 1);
        t.quote = quote;
        t
    }

    fn val(text: &str) -> Value {
        scalar(&tok(text, Quote::None)).unwrap()
    }

    #[test]
    fn scalar_types() {
        assert_eq!(val("5"), json!(5));
        assert_eq!(val("-5"), json!(-5));
        assert_eq!(val("2.5"), json!(2.5));
        assert_eq!(val("1e3"), json!(1000));
        assert_eq!(val("-2.0"), json!(-2));
        assert_eq!(val("true"), json!(true));
        assert_eq!(val("F"), json!(false));
        assert_eq!(val("yes"), json!("yes"));
        assert_eq!(val("1.2.3"), json!("1.2.3"));
        assert_eq!(val("0x10"), json!("0x10"));
        assert_eq!(scalar(&tok("5", Quote::Double)).unwrap(), json!("5"));
        assert_eq!(
            scalar(&tok("true", Quote::Backtick)).unwrap(),
            json!("true")
        );
        assert!(scalar(&tok("NaN", Quote::None)).is_err());
        assert!(scalar(&tok("-Inf", Quote::None)).is_err());
        assert_eq!(val("1e400"), json!("1e400"));
    }

    #[test]
    fn large_integers_become_floats() {
        assert_eq!(val("99999999999999999999"), json!(1e20));
        assert_eq!(
            val("10000000000000000000"),
            json!(10_000_000_000_000_000_000u64)
        );
    }
}
