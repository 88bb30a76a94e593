//! `handle_path` (like `handle`, stripping the matched path prefix):
//!
//! ```text
//! handle_path <path_matcher> {
//!     <directives...>
//! }
//! ```
//!
//! Only a single path matcher is accepted. The prefix before a trailing
//! `*` (or `/*`) is stripped by a `rewrite` route placed first in the
//! subroute. Sorted at the same position as `handle`.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use crate::http::subroute::parse_segment_as_routes;
use crate::http::value::{subroute_handler, ConfigValue, MatcherSet, Route};
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    h.next();
    if !h.next_arg() {
        return Err(h.arg_err());
    }
    let path = h.val().to_string();
    if !path.starts_with('/') {
        return Err(h.error(format!("path matcher must begin with '/', got {path}")));
    }
    let prefix = path
        .strip_suffix("/*")
        .or_else(|| path.strip_suffix('*'))
        .unwrap_or(&path)
        .to_string();
    // drop the path token and rewind, so the block parser sees
    // `handle_path {` only
    h.delete();
    h.reset();
    let mut routes = parse_segment_as_routes(h)?;
    let strip = Obj::handler("rewrite")
        .set("strip_path_prefix", prefix)
        .build();
    routes.insert(0, Route::with_handler(None, strip));
    let mut set = MatcherSet::new();
    set.insert("path".into(), Value::Array(vec![Value::String(path)]));
    Ok(h.new_route(Some(set), subroute_handler(&routes, None)))
}
