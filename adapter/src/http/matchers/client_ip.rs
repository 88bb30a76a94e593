//! `client_ip` matcher (`http.matchers.client_ip`):
//! `client_ip <ranges...>` (`private_ranges` allowed); several instances
//! merge.

use crate::error::Result;
use crate::http::obj::{strings, Obj};
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let ranges = super::remote_ip::parse_ranges(d, "client_ip", false)?;
    Ok(Obj::new().opt("ranges", strings(&ranges)).build())
}
