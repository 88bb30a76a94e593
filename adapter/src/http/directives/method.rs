//! `method` (change the request's HTTP method; a `rewrite` handler):
//!
//! ```text
//! method [<matcher>] <method>
//! ```

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    if !h.next_arg() || h.next_arg() {
        return Err(h.arg_err());
    }
    Ok(Obj::handler("rewrite").set("method", h.val()).build())
}
