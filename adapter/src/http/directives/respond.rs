//! `respond` (`static_response` handler):
//!
//! ```text
//! respond [<matcher>] <status>|<body> [<status>] {
//!     body <text>
//!     close
//! }
//! ```
//!
//! A lone three-digit positive number is the status; otherwise the first
//! argument is the body and the second the status.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let args = h.remaining_args();
    let (mut body, status) = match args.as_slice() {
        [] => (String::new(), String::new()),
        [one] if is_status(one) => (String::new(), one.clone()),
        [one] => (one.clone(), String::new()),
        [b, s] => (b.clone(), s.clone()),
        _ => return Err(h.arg_err()),
    };
    let mut close = false;
    while h.next_block(0) {
        match h.val() {
            "body" => {
                if !body.is_empty() {
                    return Err(h.error("body already specified"));
                }
                let rest = h.remaining_args();
                let [b] = rest.as_slice() else {
                    return Err(h.arg_err());
                };
                body = b.clone();
            }
            "close" => {
                if close {
                    return Err(h.error("close already specified"));
                }
                close = true;
            }
            other => return Err(h.error(format!("unrecognized subdirective '{other}'"))),
        }
    }
    Ok(Obj::handler("static_response")
        .opt("status_code", weak_string(&status))
        .opt("body", body)
        .opt("close", close)
        .build())
}

fn is_status(s: &str) -> bool {
    s.len() == 3 && s.parse::<u16>().is_ok_and(|n| n > 0)
}

/// Caddy's `WeakString`: printed as a number when it is one.
pub fn weak_string(s: &str) -> Value {
    match s.parse::<i64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::String(s.to_string()),
    }
}
