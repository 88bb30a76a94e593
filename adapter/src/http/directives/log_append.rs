//! `log_append` (`log_append` handler: adds a field to the access log
//! entry of matching requests):
//!
//! ```text
//! log_append [<matcher>] <key> <value>
//! ```
//!
//! Arguments after the value are ignored, as in Caddy.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let Some(key) = h.next_arg_value() else {
        return Err(h.arg_err());
    };
    let Some(value) = h.next_arg_value() else {
        return Err(h.arg_err());
    };
    Ok(Obj::handler("log_append")
        .opt("key", key)
        .opt("value", value)
        .build())
}
