//! Go's `strconv` conversions as Caddy's Caddyfile parsers use them, with
//! Go's error wording (`strconv.Atoi: parsing "x": invalid syntax`), and
//! the dispenser's `ScalarVal` (a token as a JSON number, boolean or
//! string).

use crate::syntax::Token;
use serde_json::{Number, Value};

/// Go's `strconv.Atoi` (base 10, optional sign, no underscores), with its
/// error message on failure.
pub fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            quote(s)
        ));
    }
    s.trim_start_matches('+')
        .parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", quote(s)))
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal notation (`1.5`, `.5`,
/// `1e3`, `-2.`); special values (`inf`, `nan`) and hexadecimal floats
/// cannot be written as JSON numbers, so they are reported as `None`.
pub fn parse_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    if let Some(e) = exponent {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if e.is_empty() || !all_digits(e) {
            return None;
        }
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Caddy's `Dispenser.ScalarVal`: a quoted token is a string; otherwise
/// an integer, a float or a boolean if it parses as one, else a string.
pub fn scalar_value(tok: &Token) -> Value {
    let text = tok.text.as_str();
    if tok.was_quoted() {
        return Value::String(text.to_string());
    }
    if let Ok(n) = atoi(text) {
        return Value::from(n);
    }
    if let Some(f) = parse_float(text) {
        return float_value(f);
    }
    if let Some(b) = parse_bool(text) {
        return Value::Bool(b);
    }
    Value::String(text.to_string())
}

/// A float64 as Go's JSON encoder writes it and a JSON reader reads it
/// back: integral values below 1e21 are written without a fraction, so
/// they are integers.
fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e18 {
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Caddy's `WeakString` in JSON: a number when the text is one, else the
/// string.
pub fn weak_string(s: &str) -> Value {
    match atoi(s) {
        Ok(n) => Value::from(n),
        Err(_) => Value::String(s.to_string()),
    }
}

/// Go's `strconv.Quote` for the texts Caddyfile tokens hold.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// go-humanize's `ParseBytes` (which Caddy uses for sizes): a number
/// (commas ignored) and an optional SI (`kb`, `mb`, …) or IEC (`kib`,
/// `mib`, …) unit, case-insensitive, with Go's error wording.
pub fn parse_bytes_f64(s: &str) -> Result<f64, String> {
    let end = s
        .find(|c: char| !(c.is_numeric() || c == '.' || c == ','))
        .unwrap_or(s.len());
    let num = s[..end].replace(',', "");
    let f: f64 = num
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing {num:?}: invalid syntax"))?;
    let unit = s[end..].trim().to_lowercase();
    let power = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "ki" | "kib" => 1,
        "m" | "mb" | "mi" | "mib" => 2,
        "g" | "gb" | "gi" | "gib" => 3,
        "t" | "tb" | "ti" | "tib" => 4,
        "p" | "pb" | "pi" | "pib" => 5,
        "e" | "eb" | "ei" | "eib" => 6,
        _ => return Err(format!("unhandled size name: {unit}")),
    };
    let base: f64 = if unit.contains('i') { 1024.0 } else { 1000.0 };
    Ok(f * base.powi(power))
}

/// [`parse_bytes_f64`] truncated to a whole number of bytes, as
/// go-humanize returns it.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let v = parse_bytes_f64(s)?;
    if v >= u64::MAX as f64 {
        return Err(format!("too large: {s}"));
    }
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testutil::tokens;
    use serde_json::json;

    #[test]
    fn atoi_follows_go() {
        assert_eq!(atoi("+42"), Ok(42));
        assert_eq!(atoi("-7"), Ok(-7));
        assert_eq!(
            atoi("4x").unwrap_err(),
            "strconv.Atoi: parsing \"4x\": invalid syntax"
        );
        assert_eq!(
            atoi("").unwrap_err(),
            "strconv.Atoi: parsing \"\": invalid syntax"
        );
        assert!(atoi("99999999999999999999")
            .unwrap_err()
            .ends_with("value out of range"));
    }

    #[test]
    fn floats_and_bools() {
        assert_eq!(parse_float("123.456"), Some(123.456));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("inf"), None);
        assert_eq!(parse_float("1.2.3"), None);
        assert_eq!(parse_bool("T"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn scalar_values() {
        let toks = tokens("3 2.5 true \"5\" t foo 1e3");
        let vals: Vec<Value> = toks.iter().map(scalar_value).collect();
        assert_eq!(
            vals,
            vec![
                json!(3),
                json!(2.5),
                json!(true),
                json!("5"),
                json!(true),
                json!("foo"),
                json!(1000)
            ]
        );
    }

    #[test]
    fn weak_strings() {
        assert_eq!(weak_string("403"), json!(403));
        assert_eq!(weak_string("{env.X}"), json!("{env.X}"));
    }
}
