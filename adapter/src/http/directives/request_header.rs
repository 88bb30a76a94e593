//! `request_header` (request header manipulation, `headers` handler with
//! `request` operations):
//!
//! ```text
//! request_header [<matcher>] [[+|-|>]<field> [<value|regexp>] [<replacement>]]
//! ```
//!
//! Exactly one field per directive; `+` adds, `-` deletes, a third
//! argument makes the value a regular expression to replace. `?` (default
//! values) exists only for response headers. A trailing `:` on the field
//! is ignored.

use super::header::ops::{self, HeaderOps};
use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use crate::http::value::ConfigValue;

pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    h.next();
    let matcher = h.extract_matcher_set()?;
    h.next();
    let Some(field) = h.next_arg_value() else {
        return Err(h.arg_err());
    };
    let field = field.strip_suffix(':').unwrap_or(&field).to_string();
    let value = h.next_arg_value().unwrap_or_default();
    let replacement = h.next_arg_value();
    if replacement.is_some() && h.next_arg() {
        return Err(h.arg_err());
    }
    let mut request = HeaderOps::default();
    ops::apply(&mut request, None, &field, &value, replacement.as_deref())
        .map_err(|m| h.error(m))?;
    let handler = Obj::handler("headers")
        .set("request", request.to_json())
        .build();
    let out = h.new_route(matcher, handler);
    if h.next_arg() {
        return Err(h.arg_err());
    }
    Ok(out)
}
