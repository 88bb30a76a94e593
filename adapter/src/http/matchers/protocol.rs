//! `protocol` matcher (`http.matchers.protocol`): `protocol http|https|
//! grpc|http/<version>[+]`.

use crate::error::Result;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let mut proto = String::new();
    while d.next() {
        match d.args(1) {
            Some(mut a) => proto = a.remove(0),
            None => return Err(d.err("expected exactly one protocol")),
        }
    }
    Ok(Value::String(proto))
}
