//! `copy_response` (`http.handlers.copy_response`), for use inside
//! `reverse_proxy`'s `handle_response` blocks:
//!
//! ```text
//! copy_response [<matcher>] [<status>] {
//!     status <status>
//! }
//! ```
//!
//! Writes the upstream's response (as received by the proxy) to the
//! client, optionally with another status code. As in Caddy, a positive
//! number argument is the status and ends parsing; other arguments are
//! ignored.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let args = h.remaining_args();
    let mut status: Option<Value> = None;
    if let [one] = args.as_slice() {
        if one.parse::<i64>().is_ok_and(|n| n > 0) {
            return Ok(Obj::handler("copy_response")
                .set("status_code", weak_string(one))
                .build());
        }
    }
    while h.next_block(0) {
        match h.val() {
            "status" => {
                if !h.next_arg() {
                    return Err(h.arg_err());
                }
                status = Some(weak_string(h.val()));
            }
            other => return Err(h.error(format!("unrecognized subdirective '{other}'"))),
        }
    }
    Ok(Obj::handler("copy_response")
        .some(
            "status_code",
            status.filter(|s| !crate::http::obj::is_empty(s)),
        )
        .build())
}

/// Caddy's `WeakString`: a number when it is one.
fn weak_string(s: &str) -> Value {
    match s.parse::<i64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::String(s.to_string()),
    }
}
