//! `request_body` (`request_body` handler):
//!
//! ```text
//! request_body [<matcher>] {
//!     max_size      <size>
//!     read_timeout  <duration>
//!     write_timeout <duration>
//!     set           <body_content>
//! }
//! ```
//!
//! Sizes are go-humanize byte sizes (`1MB` = 1000000, `1MiB` = 1048576);
//! timeouts are Go durations (`time.ParseDuration`: no day unit), printed
//! as nanoseconds. Each subdirective takes exactly one argument.

use crate::error::Result;
use crate::http::goconv::parse_bytes;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let mut rb = Obj::handler("request_body");
    while h.next_block(0) {
        let sub = h.val().to_string();
        let known = matches!(
            sub.as_str(),
            "max_size" | "read_timeout" | "write_timeout" | "set"
        );
        if !known {
            return Err(h.error(format!("unrecognized request_body subdirective '{sub}'")));
        }
        let arg = one_arg(h)?;
        match sub.as_str() {
            "max_size" => {
                let size =
                    parse_bytes(&arg).map_err(|e| h.error(format!("parsing max_size: {e}")))?;
                rb.put("max_size", size);
            }
            "set" => rb.put("set", arg),
            timeout => {
                let ns = parse_go_duration(&arg)
                    .map_err(|e| h.error(format!("parsing {timeout}: {e}")))?;
                rb.put(timeout, ns);
            }
        }
    }
    // omitempty: zero sizes and durations, an empty body
    let fields: Vec<(String, Value)> = rb.0.into_iter().collect();
    let mut out = Obj::new();
    for (k, v) in fields {
        out.put_opt(&k, v);
    }
    Ok(out.build())
}

/// Exactly one argument on the line (Caddy's `AllArgs` with one target).
fn one_arg(h: &mut Helper) -> Result<String> {
    let args = h.remaining_args();
    match <[String; 1]>::try_from(args) {
        Ok([a]) => Ok(a),
        Err(_) => Err(h.arg_err()),
    }
}

/// Go's `time.ParseDuration`: a signed sequence of decimal numbers with
/// units `ns`, `us` (`µs`, `μs`), `ms`, `s`, `m`, `h`; `0` alone needs no
/// unit. Returns nanoseconds.
pub fn parse_go_duration(s: &str) -> std::result::Result<i64, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let scale = match unit {
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let ns = total.round() as i64;
    Ok(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_sizes() {
        assert_eq!(parse_bytes("1MB"), Ok(1_000_000));
        assert_eq!(parse_bytes("1MiB"), Ok(1_048_576));
        assert_eq!(parse_bytes("1.5 kb"), Ok(1500));
        assert_eq!(parse_bytes("1,000"), Ok(1000));
        assert_eq!(parse_bytes("42"), Ok(42));
        assert_eq!(parse_bytes("10X").unwrap_err(), "unhandled size name: x");
        assert!(parse_bytes("MB").is_err());
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_go_duration("-2us"), Ok(-2000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(
            parse_go_duration("10").unwrap_err(),
            "time: missing unit in duration \"10\""
        );
        assert_eq!(
            parse_go_duration("1d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("1..2s").is_err());
    }
}
