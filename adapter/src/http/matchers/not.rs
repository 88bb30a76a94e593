//! `not` matcher (`http.matchers.not`): `not <matcher> <args...>` or
//! `not { <matchers...> }`; each instance is one negated matcher set.

use crate::error::Result;
use crate::http::value::matcher_set_json;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, def_name: &str) -> Result<Value> {
    let mut sets = Vec::new();
    while d.next() {
        let set = super::parse_set_body(d, def_name)?;
        sets.push(matcher_set_json(&set));
    }
    Ok(Value::Array(sets))
}
