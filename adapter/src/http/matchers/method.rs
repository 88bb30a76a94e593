//! `method` matcher (`http.matchers.method`): `method <verbs...>`;
//! several instances merge into one list.

use crate::error::Result;
use crate::http::obj::strings;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let mut methods = Vec::new();
    while d.next() {
        methods.extend(d.remaining_args());
        super::no_block(d, "method")?;
    }
    Ok(strings(&methods))
}
