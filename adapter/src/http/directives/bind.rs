//! `bind` (the listener addresses of the site's server):
//!
//! ```text
//! bind <hosts...> {
//!     protocols [h1|h2|h2c|h3] [...]
//! }
//! ```
//!
//! Hosts may carry a network (`tcp4/`, `unix/`, `fd/`, `fdgram/`). The
//! value (class `bind`) is `{"addresses": [...], "protocols": [...]}`.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::strings;
use crate::http::value::{class, ConfigValue};
use crate::syntax::Dispenser;
use serde_json::{json, Value};

pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    let v = parse_bind(&mut h.d)?;
    Ok(vec![ConfigValue::json(class::BIND, v)])
}

/// Shared with the `default_bind` global option.
pub fn parse_bind(d: &mut Dispenser) -> Result<Value> {
    d.next();
    let addresses = d.remaining_args();
    let mut protocols = Vec::new();
    while d.next_block(0) {
        match d.val() {
            "protocols" => {
                protocols = d.remaining_args();
                if protocols.is_empty() {
                    return Err(d.err("protocols requires one or more arguments"));
                }
            }
            other => return Err(d.err(format!("unknown subdirective: {other}"))),
        }
    }
    Ok(json!({"addresses": strings(&addresses), "protocols": strings(&protocols)}))
}
