//! `log_skip` (a `vars` handler: matching requests are not access-logged),
//! also accepted under its deprecated name `skip_log` (with a warning):
//!
//! ```text
//! log_skip [<matcher>]
//! ```

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    if h.val() == "skip_log" {
        h.warn("the 'skip_log' directive is deprecated, please use 'log_skip' instead!");
    }
    if h.next_arg() {
        return Err(h.arg_err());
    }
    Ok(Obj::handler("vars").set("log_skip", true).build())
}
