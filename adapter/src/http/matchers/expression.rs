//! `expression` matcher (`http.matchers.expression`): `expression <cel>`.
//! One argument: the expression, named after the named matcher (so
//! printed as `{"expr", "name"}`); several arguments are joined raw, with
//! no name (printed as just the string).

use crate::error::Result;
use crate::http::obj::Obj;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, def_name: &str) -> Result<Value> {
    d.next();
    if d.count_remaining_args() > 1 {
        return Ok(json(&d.remaining_args_raw().join(" "), ""));
    }
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    Ok(json(d.val(), def_name))
}

/// The matcher's JSON: a bare string without a name.
pub fn json(expr: &str, name: &str) -> Value {
    if name.is_empty() {
        return Value::String(expr.to_string());
    }
    Obj::new().opt("expr", expr).set("name", name).build()
}
