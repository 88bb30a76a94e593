//! `log_name` (a `vars` handler naming the access loggers to use for
//! matching requests):
//!
//! ```text
//! log_name [<matcher>] <names...>
//! ```
//!
//! Sets the `access_logger_names` variable to the list of names (an
//! empty list when none is given).

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::{strings, Obj};
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let names = h.remaining_args();
    Ok(Obj::handler("vars")
        .set("access_logger_names", strings(&names))
        .build())
}
