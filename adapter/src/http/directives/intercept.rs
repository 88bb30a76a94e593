//! `intercept` (act on the response of later handlers; `intercept`
//! handler):
//!
//! ```text
//! intercept [<matcher>] {
//!     @name {
//!         status <code...>
//!         header <field> [<value>]
//!     }
//!     replace_status [<matcher>] <status_code>
//!     handle_response [<matcher>] {
//!         <directives...>
//!     }
//! }
//! ```
//!
//! `@name` lines define response matchers for the other two
//! subdirectives (a matcher argument must be one of them).
//! `replace_status` only changes the status code; `handle_response` runs
//! its directives (sorted as in a site) instead of writing the original
//! response. Response handlers with a matcher are tried before those
//! without; otherwise the order is kept (`replace_status` ones first, as
//! `handle_response` blocks are parsed last).

use crate::error::Result;
use crate::http::goconv::weak_string;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use crate::http::response_matchers::{self, ResponseMatcherDefs};
use crate::http::subroute::parse_segment_as_routes;
use crate::http::value::routes_json;
use crate::syntax::{Dispenser, Token};
use serde_json::Value;

/// One response handler: its matcher (if any) and JSON.
type ResponseHandler = (Option<Value>, Obj);

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let mut defs = ResponseMatcherDefs::new();
    let mut handlers: Vec<ResponseHandler> = Vec::new();
    let mut segments: Vec<Vec<Token>> = Vec::new();
    while h.next_block(0) {
        if h.val().starts_with('@') {
            response_matchers::parse_named(Dispenser::new(h.next_segment()), &mut defs)?;
            continue;
        }
        match h.val() {
            "handle_response" => segments.push(h.next_segment()),
            "replace_status" => handlers.push(replace_status(h, &defs)?),
            other => return Err(h.error(format!("unrecognized subdirective {other}"))),
        }
    }
    for seg in segments {
        handlers.push(handle_response(h, seg, &defs)?);
    }
    let (with, without): (Vec<_>, Vec<_>) = handlers.into_iter().partition(|(m, _)| m.is_some());
    let list: Vec<Value> = with
        .into_iter()
        .chain(without)
        .map(|(m, obj)| obj.some("match", m).build())
        .collect();
    Ok(Obj::handler("intercept")
        .opt("handle_response", Value::Array(list))
        .build())
}

/// `replace_status [<matcher>] <status_code>`.
fn replace_status(h: &mut Helper, defs: &ResponseMatcherDefs) -> Result<ResponseHandler> {
    let args = h.remaining_args();
    let (matcher, status) =
        match args.as_slice() {
            [status] => (None, status.clone()),
            [name, status] => (Some(lookup(&h.d, defs, name)?), status.clone()),
            _ => return Err(h.error(
                "must have one or two arguments: an optional response matcher, and a status code",
            )),
        };
    let nesting = h.nesting();
    if h.next_block(nesting) {
        return Err(
            h.error("cannot define routes for 'replace_status', use 'handle_response' instead.")
        );
    }
    let status = (!status.is_empty()).then(|| weak_string(&status));
    Ok((matcher, Obj::new().some("status_code", status)))
}

/// `handle_response [<matcher>] { … }` (Caddy's
/// `FinalizeUnmarshalCaddyfile`).
fn handle_response(
    h: &mut Helper,
    seg: Vec<Token>,
    defs: &ResponseMatcherDefs,
) -> Result<ResponseHandler> {
    let mut d = Dispenser::new(seg);
    d.next();
    let args = d.remaining_args();
    if args.len() == 2 {
        return Err(d.err("configuring 'handle_response' for status code replacement is no longer supported. Use 'replace_status' instead."));
    }
    if args.len() > 1 {
        return Err(d.err(format!(
            "too many arguments for 'handle_response': [{}]",
            args.join(" ")
        )));
    }
    let matcher = match args.first() {
        Some(name) => Some(lookup(&d, defs, name)?),
        None => None,
    };
    let mut sub = h.sub(d.next_segment());
    let routes = parse_segment_as_routes(&mut sub)?;
    Ok((matcher, Obj::new().opt("routes", routes_json(&routes))))
}

/// The response matcher a `@name` argument refers to.
fn lookup(d: &Dispenser, defs: &ResponseMatcherDefs, name: &str) -> Result<Value> {
    let Some(short) = name.strip_prefix('@') else {
        return Err(d.err("must use a named response matcher, starting with '@'"));
    };
    defs.get(name).cloned().ok_or_else(|| {
        d.err(format!(
            "no named response matcher defined with name '{short}'"
        ))
    })
}
