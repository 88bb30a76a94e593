//! Go-compatible JSON printing: what `caddy adapt` prints, byte for byte.
//!
//! Caddy marshals its config with Go's `encoding/json` and, for
//! `--pretty`, re-indents it with `json.Indent(buf, "", "\t")`. The adapter
//! builds a [`serde_json::Value`] whose objects keep insertion order (the
//! adapter inserts keys in Caddy's struct field order), so only Go's
//! spelling remains to be reproduced:
//!
//! - strings: `"` and `\` escaped with a backslash; `\n`, `\r`, `\t` short;
//!   every other control character as `\u00xx` (lowercase hex, so `\b` and
//!   `\f` are `\u0008` and `\u000c`, as Go up to 1.21 and Caddy 2.6.2 write
//!   them); `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026` (Go's HTML-safe
//!   default); U+2028 and U+2029 as `\u2028` and `\u2029`.
//! - numbers: integers as they are; floats in Go's `float64` style, plain
//!   decimal unless the magnitude is below 1e-6 or at least 1e21, then
//!   exponent form with a sign and no padding for negative exponents
//!   (`1e+21`, `1e-7`, `1.5e-10`).
//! - layout: compact has no white space at all; pretty puts each element on
//!   its own line indented with tabs, `": "` after keys, and prints empty
//!   arrays and objects as `[]` and `{}`.
//!
//! Neither function appends a newline. `caddy adapt` prints its JSON (compact
//! or pretty) with `fmt.Println`, i.e. followed by exactly one `\n`; the CLI
//! does the same with `println!`.

use serde_json::{Number, Value};

/// Compact JSON, byte-identical to Go's `json.Marshal` of the same value.
pub fn to_go_string(v: &Value) -> String {
    let mut out = String::new();
    write_compact(&mut out, v);
    out
}

/// Indented JSON, byte-identical to Go's `json.Indent(dst, src, "", "\t")`
/// over `json.Marshal` output. No trailing newline (see the module doc).
pub fn to_go_pretty(v: &Value) -> String {
    let mut out = String::new();
    write_pretty(&mut out, v, 0);
    out
}

fn write_compact(out: &mut String, v: &Value) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_compact(out, item);
            }
            out.push('}');
        }
        scalar => write_scalar(out, scalar),
    }
}

fn write_pretty(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                new_line(out, depth + 1);
                write_pretty(out, item, depth + 1);
            }
            new_line(out, depth);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                new_line(out, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                write_pretty(out, item, depth + 1);
            }
            new_line(out, depth);
            out.push('}');
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
        scalar => write_scalar(out, scalar),
    }
}

fn new_line(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push('\t');
    }
}

/// Writes null, a boolean, a number or a string (never an array/object).
fn write_scalar(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(_) | Value::Object(_) => write_compact(out, v),
    }
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(f) = n.as_f64() {
        write_float(out, f);
    } else {
        // Only reachable with serde_json's arbitrary_precision: keep the text.
        out.push_str(&n.to_string());
    }
}

/// Go's float64 encoder: shortest digits that round-trip, in `'f'` format
/// unless the magnitude is below 1e-6 or at least 1e21, then `'e'` format
/// with `e-07` cleaned up to `e-7`.
fn write_float(out: &mut String, f: f64) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let exp_form = format!("{f:e}");
        let (mantissa, exponent) = exp_form
            .split_once('e')
            .expect("LowerExp output has an exponent");
        out.push_str(mantissa);
        out.push('e');
        match exponent.strip_prefix('-') {
            Some(digits) => {
                out.push('-');
                out.push_str(digits);
            }
            None => {
                out.push('+');
                if exponent.len() < 2 {
                    out.push('0');
                }
                out.push_str(exponent);
            }
        }
    } else {
        out.push_str(&f.to_string());
    }
}

/// Writes `s` as a JSON string with Go's escaping (HTML-safe).
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, ch) in s.char_indices() {
        let escape: Option<&str> = match ch {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '<' => Some("\\u003c"),
            '>' => Some("\\u003e"),
            '&' => Some("\\u0026"),
            '\u{2028}' => Some("\\u2028"),
            '\u{2029}' => Some("\\u2029"),
            c if (c as u32) < 0x20 => Some(""),
            _ => None,
        };
        let Some(escape) = escape else {
            continue;
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let b = ch as u32 as usize;
            out.push_str("\\u00");
            out.push(HEX[b >> 4] as char);
            out.push(HEX[b & 0xf] as char);
        } else {
            out.push_str(escape);
        }
        start = i + ch.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests;
