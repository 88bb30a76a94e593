//! `tls` matcher (`http.matchers.tls`): `tls [early_data]`.

use crate::error::Result;
use crate::http::obj::Obj;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let mut out = Obj::new();
    while d.next() {
        if d.next_arg() && d.val() == "early_data" {
            out.put("handshake_complete", false);
        }
        if d.next_arg() {
            return Err(d.arg_err());
        }
        super::no_block(d, "tls")?;
    }
    Ok(out.build())
}
