//! `path` matcher (`http.matchers.path`): `path <paths...>`; several
//! instances merge into one list.

use crate::error::Result;
use crate::http::obj::strings;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let mut paths = Vec::new();
    while d.next() {
        paths.extend(d.remaining_args());
        super::no_block(d, "path")?;
    }
    Ok(strings(&paths))
}
