//! `tracing` (`tracing` handler: OpenTelemetry spans):
//!
//! ```text
//! tracing [<matcher>] {
//!     span <span_name>
//! }
//! ```
//!
//! No arguments besides the matcher; `span` takes exactly one. Any other
//! subdirective is an argument error, as in Caddy. The `span` field is
//! always written (`""` when not set), as Caddy's struct has no
//! `omitempty` on it.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    if h.next_arg() {
        return Err(h.arg_err());
    }
    let mut span = String::new();
    while h.next_block(0) {
        if h.val() != "span" {
            return Err(h.arg_err());
        }
        let Some(name) = h.next_arg_value() else {
            return Err(h.arg_err());
        };
        if h.next_arg() {
            return Err(h.arg_err());
        }
        span = name;
    }
    // the span name has no `omitempty`: an empty one is written too
    Ok(Obj::handler("tracing").set("span", span).build())
}
