//! `timeouts` (`timeouts` handler, Caddy 2.11):
//!
//! ```text
//! timeouts [<matcher>] {
//!     read_timeout    <duration> [<min_rate>]
//!     write_timeout   <duration> [<min_rate>]
//!     max_write_chunk <size>
//! }
//! ```
//!
//! Durations are Go's (`time.ParseDuration`), printed as nanoseconds;
//! rates are bytes per second (`strconv.ParseInt`); the size is a
//! go-humanize byte size. Zero values are left out.

use super::request_body::parse_go_duration;
use crate::error::Result;
use crate::http::goconv::{atoi, parse_bytes};
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let mut t = Obj::handler("timeouts");
    while h.next_block(0) {
        let sub = h.val().to_string();
        match sub.as_str() {
            "read_timeout" | "write_timeout" => {
                let args = h.remaining_args();
                if args.is_empty() || args.len() > 2 {
                    return Err(h.arg_err());
                }
                let ns = parse_go_duration(&args[0])
                    .map_err(|e| h.error(format!("parsing {sub}: {e}")))?;
                set(&mut t, &sub, ns);
                if let Some(rate) = args.get(1) {
                    let rate = atoi(rate).map_err(|e| {
                        let e = e.replacen("strconv.Atoi", "strconv.ParseInt", 1);
                        h.error(format!("parsing {sub} min_rate: {e}"))
                    })?;
                    let field = sub.replace("_timeout", "_min_rate");
                    set(&mut t, &field, rate);
                }
            }
            "max_write_chunk" => {
                let args = h.remaining_args();
                let [size] = <[String; 1]>::try_from(args).map_err(|_| h.arg_err())?;
                let size = parse_bytes(&size)
                    .map_err(|e| h.error(format!("parsing max_write_chunk: {e}")))?;
                set(&mut t, "max_write_chunk", size as i64);
            }
            other => {
                return Err(h.error(format!("unrecognized timeouts subdirective '{other}'")));
            }
        }
    }
    Ok(t.build())
}

/// Sets `key` (a repeated subdirective replaces the earlier one); a zero
/// value is left out, as Go's `omitempty`.
fn set(t: &mut Obj, key: &str, v: i64) {
    t.0.remove(key);
    t.put_opt(key, Value::from(v));
}
