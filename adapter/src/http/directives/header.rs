//! `header` (response header manipulation, `headers` handler):
//!
//! ```text
//! header [<matcher>] [[+|-|?|>]<field> [<value|regexp>] [<replacement>]] {
//!     [+]<field> [<value|regexp> [<replacement>]]
//!     ?<field> <default_value>
//!     -<field>
//!     ><field>
//!     [defer]
//!     match <inline_response_matcher>
//! }
//! ```
//!
//! One field may be given on the directive's line, or many in the block,
//! not both (`defer` and `match` may follow a one-line form). Deleting a
//! field, `>` and `defer` defer the operations until the response is
//! written. `?` lines in a block go to a second handler whose `require`
//! matcher checks the field is absent. A field in a block may end in `:`
//! (as if copied from a curl command). The operations themselves are in
//! [`ops`].

pub(super) mod ops;

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use crate::http::response_matchers;
use crate::http::value::ConfigValue;
use crate::syntax::Dispenser;
use ops::RespHeaderOps;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    h.next();
    let matcher = h.extract_matcher_set()?;
    h.next();
    let mut handler = RespHeaderOps::default();
    let mut with_require = RespHeaderOps::default();
    let mut has_args = false;
    if h.next_arg() {
        has_args = true;
        let (field, value, replacement) = line_args(h);
        apply(h, &mut handler, &field, &value, replacement.as_deref())?;
    }
    while h.next_block(0) {
        let field = h.val().to_string();
        if field == "defer" {
            handler.deferred = true;
            continue;
        }
        if field == "match" {
            let seg = Dispenser::new(h.next_segment());
            let m = response_matchers::parse_single(seg)?;
            handler.require = m.as_object().cloned();
            continue;
        }
        if has_args {
            return Err(h.error("cannot specify headers in both arguments and block"));
        }
        let field = field.strip_suffix(':').unwrap_or(&field).to_string();
        let (_, value, replacement) = line_args_after(h, field.clone());
        let target = if field.starts_with('?') {
            &mut with_require
        } else {
            &mut handler
        };
        apply(h, target, &field, &value, replacement.as_deref())?;
    }
    let mut out = Vec::new();
    for ops in [handler, with_require] {
        if ops != RespHeaderOps::default() {
            out.extend(h.new_route(matcher.clone(), handler_json(&ops)));
        }
    }
    Ok(out)
}

/// The current token as the field, then an optional value and an optional
/// replacement.
fn line_args(h: &mut Helper) -> (String, String, Option<String>) {
    let field = h.val().to_string();
    line_args_after(h, field)
}

fn line_args_after(h: &mut Helper, field: String) -> (String, String, Option<String>) {
    let value = h.next_arg_value().unwrap_or_default();
    let replacement = h.next_arg_value();
    (field, value, replacement)
}

fn apply(
    h: &Helper,
    target: &mut RespHeaderOps,
    field: &str,
    value: &str,
    replacement: Option<&str>,
) -> Result<()> {
    ops::apply(
        &mut target.ops,
        Some((&mut target.require, &mut target.deferred)),
        field,
        value,
        replacement,
    )
    .map_err(|m| h.error(m))
}

fn handler_json(resp: &RespHeaderOps) -> Value {
    Obj::handler("headers")
        .set("response", resp.to_json())
        .build()
}
