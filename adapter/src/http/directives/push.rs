//! `push` (HTTP/2 server push, `push` handler):
//!
//! ```text
//! push [<matcher>] [<resource>] {
//!     [GET|HEAD] <resource>
//!     headers {
//!         [+]<field> [<value|regexp> [<replacement>]]
//!         -<field>
//!     }
//! }
//! ```
//!
//! One resource may be given inline; the block lists more, one per line,
//! optionally preceded by the method. `headers` edits the headers of the
//! synthetic push requests with the `request_header` operations.

use super::header::ops::{self, HeaderOps};
use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let mut resources: Vec<Value> = Vec::new();
    let mut headers: Option<HeaderOps> = None;
    if h.next_arg() {
        resources.push(resource(None, h.val()));
    }
    while h.next_block(0) {
        match h.val() {
            "headers" => {
                if h.next_arg() {
                    return Err(h.arg_err());
                }
                parse_headers(h, &mut headers)?;
            }
            "GET" | "HEAD" => {
                let method = h.val().to_string();
                let Some(target) = h.next_arg_value() else {
                    return Err(h.arg_err());
                };
                resources.push(resource(Some(&method), &target));
            }
            other => {
                let target = other.to_string();
                resources.push(resource(None, &target));
            }
        }
    }
    Ok(Obj::handler("push")
        .opt("resources", Value::Array(resources))
        .some("headers", headers.map(|o| o.to_json()))
        .build())
}

fn resource(method: Option<&str>, target: &str) -> Value {
    Obj::new()
        .opt("method", method.unwrap_or_default())
        .opt("target", target)
        .build()
}

/// The `headers { … }` block: each line is `field [value [replacement]]`
/// (the operations exist once a line does).
fn parse_headers(h: &mut Helper, headers: &mut Option<HeaderOps>) -> Result<()> {
    let nesting = h.nesting();
    while h.next_block(nesting) {
        let mut args = vec![h.val().to_string()];
        args.extend(h.remaining_args());
        let (field, value, replacement) = match args.as_slice() {
            [f] => (f.as_str(), "", None),
            [f, v] => (f.as_str(), v.as_str(), None),
            [f, v, r] => (f.as_str(), v.as_str(), Some(r.as_str())),
            _ => return Err(h.arg_err()),
        };
        let target = headers.get_or_insert_with(HeaderOps::default);
        ops::apply(target, None, field, value, replacement).map_err(|m| h.error(m))?;
    }
    Ok(())
}
