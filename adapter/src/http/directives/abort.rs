//! `abort` (close the connection without a response; a
//! `static_response` handler with `abort`):
//!
//! ```text
//! abort [<matcher>]
//! ```
//!
//! No arguments (besides the matcher) and no block.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    if h.next() || h.next_block(0) {
        return Err(h.arg_err());
    }
    Ok(Obj::handler("static_response").set("abort", true).build())
}
