//! `error` (trigger an error for the error routes; `error` handler):
//!
//! ```text
//! error [<matcher>] <status>|<message> [<status>] {
//!     message <text>
//! }
//! ```
//!
//! A lone argument is the status if it is a positive three-digit number,
//! otherwise the message. The status may be a placeholder; at least one
//! argument is required.

use crate::error::Result;
use crate::http::goconv::{atoi, weak_string};
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let args = h.remaining_args();
    let (mut message, status) = match args.as_slice() {
        [one] if is_status(one) => (String::new(), one.clone()),
        [one] => (one.clone(), String::new()),
        [m, s] => (m.clone(), s.clone()),
        _ => return Err(h.arg_err()),
    };
    while h.next_block(0) {
        match h.val() {
            "message" => {
                if !message.is_empty() {
                    return Err(h.error("message already specified"));
                }
                let rest = h.remaining_args();
                let [m] = rest.as_slice() else {
                    return Err(h.arg_err());
                };
                message = m.clone();
            }
            other => return Err(h.error(format!("unrecognized subdirective '{other}'"))),
        }
    }
    let status = (!status.is_empty()).then(|| weak_string(&status));
    Ok(Obj::handler("error")
        .opt("error", message)
        .some("status_code", status)
        .build())
}

fn is_status(s: &str) -> bool {
    s.len() == 3 && atoi(s).is_ok_and(|n| n > 0)
}
