//! `route` (keep directives in the order written):
//!
//! ```text
//! route [<matcher>] {
//!     <directives...>
//! }
//! ```
//!
//! Unlike `handle`, the block's directives are not sorted; only handler
//! directives (producing routes) may appear inside.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::subroute::{build_subroute, parse_segment_as_config};
use crate::http::value::{subroute_handler_owned, Payload};
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    let mut vals = parse_segment_as_config(h)?;
    if let Some(bad) = vals
        .iter()
        .find(|v| !matches!(v.value, Payload::Route(_) | Payload::Routes(_)))
    {
        return Err(h.error(format!(
            "{} directive returned something other than an HTTP route or subroute: {:?} (only handler directives can be used in routes)",
            bad.directive, bad.value
        )));
    }
    let routes = build_subroute(h, &mut vals, false)?;
    Ok(subroute_handler_owned(routes, None))
}
