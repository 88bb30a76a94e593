//! `log_name` (a `vars` handler naming the access loggers to use for
//! matching requests):
//!
//! ```text
//! log_name [<matcher>] <names...>
//! ```
//!
//! Sets the `access_logger_names` variable to the list of names (`null`
//! when none is given, as Caddy writes a nil list).

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::{strings, Obj};
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let names = h.remaining_args();
    let names = if names.is_empty() {
        Value::Null
    } else {
        strings(&names)
    };
    Ok(Obj::handler("vars")
        .set("access_logger_names", names)
        .build())
}
