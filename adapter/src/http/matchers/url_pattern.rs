//! `url_pattern` matcher (`http.matchers.url_pattern`):
//!
//! ```text
//! url_pattern <pattern> {
//!     base_url <url>
//!     ignore_case
//! }
//! ```

use crate::error::Result;
use crate::http::obj::Obj;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let (mut pattern, mut base, mut ignore_case) = (String::new(), String::new(), false);
    while d.next() {
        if !pattern.is_empty() {
            return Err(d.err("url_pattern matcher can only be used once per named matcher"));
        }
        pattern = d.next_arg_value().ok_or_else(|| d.arg_err())?;
        if d.next_arg() {
            return Err(d.arg_err());
        }
        while d.next_block(0) {
            match d.val() {
                "base_url" => base = d.next_arg_value().ok_or_else(|| d.arg_err())?,
                "ignore_case" => ignore_case = true,
                other => return Err(d.err(format!("unrecognized subdirective: {other}"))),
            }
        }
    }
    Ok(Obj::new()
        .set("pattern", pattern)
        .opt("base_url", base)
        .opt("ignore_case", ignore_case)
        .build())
}
