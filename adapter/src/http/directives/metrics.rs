//! `metrics` (`metrics` handler: serves Prometheus metrics):
//!
//! ```text
//! metrics [<matcher>] {
//!     disable_openmetrics
//! }
//! ```
//!
//! The directive takes no arguments besides the matcher. (The `metrics`
//! global option, which turns metrics collection on, is separate.)

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    if h.next_arg() {
        return Err(h.arg_err());
    }
    let mut disable_openmetrics = false;
    while h.next_block(0) {
        match h.val() {
            "disable_openmetrics" => disable_openmetrics = true,
            other => return Err(h.error(format!("unrecognized subdirective {other:?}"))),
        }
    }
    Ok(Obj::handler("metrics")
        .opt("disable_openmetrics", disable_openmetrics)
        .build())
}
