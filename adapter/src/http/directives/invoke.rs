//! `invoke` (`invoke` handler: runs a named route):
//!
//! ```text
//! invoke [<matcher>] <route_name>
//! ```
//!
//! The named route (`&(name) { … }`) is recorded as used, so the server
//! that holds this site gets it in its `named_routes`; an undefined name
//! is reported when the servers are assembled. Nothing may follow the
//! name, not even a block.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let Some(name) = h.next_arg_value() else {
        return Err(h.arg_err());
    };
    if h.next() {
        return Err(h.arg_err());
    }
    h.state.invoked.insert(name.clone());
    Ok(Obj::handler("invoke").set("name", name).build())
}
