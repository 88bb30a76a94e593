//! `handle` (mutually exclusive groups of routes):
//!
//! ```text
//! handle [<matcher>] {
//!     <directives...>
//! }
//! ```
//!
//! The block's directives are sorted by directive order into a subroute;
//! several `handle` blocks of one scope share a group, so only the first
//! matching one runs.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::subroute::parse_segment_as_subroute;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    parse_segment_as_subroute(h)
}
