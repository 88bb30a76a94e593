//! `copy_response_headers` (`http.handlers.copy_response_headers`), for
//! use inside `reverse_proxy`'s `handle_response` blocks:
//!
//! ```text
//! copy_response_headers [<matcher>] {
//!     include <fields...>
//!     exclude <fields...>
//! }
//! ```
//!
//! Copies the upstream response's headers onto the client's response:
//! only the `include`d ones if any are listed, never the `exclude`d ones.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::{strings, Obj};
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    if h.next_arg() {
        return Err(h.arg_err());
    }
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    while h.next_block(0) {
        match h.val() {
            "include" => include.extend(h.remaining_args()),
            "exclude" => exclude.extend(h.remaining_args()),
            other => return Err(h.error(format!("unrecognized subdirective '{other}'"))),
        }
    }
    Ok(Obj::handler("copy_response_headers")
        .opt("include", strings(&include))
        .opt("exclude", strings(&exclude))
        .build())
}
