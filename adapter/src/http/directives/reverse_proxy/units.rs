//! Value parsers shared by the proxy directives, with the error wording of
//! the Go functions Caddy uses: `strconv.Atoi`, go-humanize's `ParseBytes`
//! and `caddy.ParseDuration` (see [`crate::http::duration`]).

use crate::error::Result;
use crate::http::duration::parse_duration;
pub use crate::http::goconv::{atoi, parse_bytes};
use crate::syntax::Dispenser;

/// The next argument, or Caddy's argument-count error.
pub fn one_arg(d: &mut Dispenser) -> Result<String> {
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    Ok(d.val().to_string())
}

/// The next argument as a duration in nanoseconds; `what` names the value
/// in the error (`bad WHAT value 'X': …`).
pub fn duration_arg(d: &mut Dispenser, what: &str) -> Result<i64> {
    let v = one_arg(d)?;
    parse_duration(&v).map_err(|e| d.err(format!("bad {what} value '{v}': {e}")))
}

/// Like [`duration_arg`], the value unquoted in the error (`bad WHAT
/// value X: …`), as some of Caddy's messages have it.
pub fn duration_arg_unquoted(d: &mut Dispenser, what: &str) -> Result<i64> {
    let v = one_arg(d)?;
    parse_duration(&v).map_err(|e| d.err(format!("bad {what} value {v}: {e}")))
}

/// A duration that may also be a bare integer (nanoseconds), as
/// `flush_interval` and the stream options take it.
pub fn int_or_duration_arg(d: &mut Dispenser) -> Result<i64> {
    let v = one_arg(d)?;
    if let Ok(n) = atoi(&v) {
        return Ok(n);
    }
    parse_duration(&v).map_err(|e| d.err(format!("bad duration value '{v}': {e}")))
}

/// The next argument as an integer; `msg` prefixes the error
/// (`MSG 'X': strconv.Atoi: …`).
pub fn int_arg(d: &mut Dispenser, msg: &str) -> Result<i64> {
    let v = one_arg(d)?;
    atoi(&v).map_err(|e| d.err(format!("{msg} '{v}': {e}")))
}

/// The next argument as a byte size; `what` names it in the error.
pub fn size_arg(d: &mut Dispenser, what: &str) -> Result<u64> {
    let v = one_arg(d)?;
    parse_bytes(&v).map_err(|e| d.err(format!("invalid {what} '{v}': {e}")))
}

/// A status code or class (`404`, `5xx` → 5).
pub fn status_code(arg: &str) -> std::result::Result<i64, String> {
    let a = if arg.len() == 3 && arg.ends_with("xx") {
        &arg[..1]
    } else {
        arg
    };
    atoi(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_sizes() {
        assert_eq!(parse_bytes("4KB").unwrap(), 4000);
        assert_eq!(parse_bytes("4 KiB").unwrap(), 4096);
        assert_eq!(parse_bytes("10MB").unwrap(), 10_000_000);
        assert_eq!(parse_bytes("1,000").unwrap(), 1000);
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
    }

    #[test]
    fn atoi_like_go() {
        assert_eq!(atoi("+5").unwrap(), 5);
        assert_eq!(atoi("-3").unwrap(), -3);
        assert_eq!(
            atoi("x").unwrap_err(),
            "strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(status_code("5xx").unwrap(), 5);
    }
}
