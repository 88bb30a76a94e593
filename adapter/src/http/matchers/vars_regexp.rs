//! `vars_regexp` matcher (`http.matchers.vars_regexp`):
//! `vars_regexp [<name>] <variable> <regexp>`; one per variable per named
//! matcher; the name defaults to the named matcher's name.

use crate::error::Result;
use crate::http::obj::sorted_map;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, def_name: &str) -> Result<Value> {
    let fields = super::header_regexp::parse_fields(d, def_name, "vars_regexp", "vars field")?;
    Ok(sorted_map(fields))
}
