//! Shared by the regexp matchers: Caddy's `MatchRegexp` JSON
//! (`{"name": …, "pattern": …}`, name omitted when empty).

use crate::http::obj::Obj;
use serde_json::Value;

/// The JSON of a `MatchRegexp`.
pub fn json(name: &str, pattern: &str) -> Value {
    Obj::new().opt("name", name).set("pattern", pattern).build()
}
