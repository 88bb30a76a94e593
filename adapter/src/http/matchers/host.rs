//! `host` matcher (`http.matchers.host`): `host <hosts...>`; several
//! instances merge into one list.

use crate::error::Result;
use crate::http::obj::strings;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let mut hosts = Vec::new();
    while d.next() {
        hosts.extend(d.remaining_args());
        super::no_block(d, "host")?;
    }
    Ok(strings(&hosts))
}
