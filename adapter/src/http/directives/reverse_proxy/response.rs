//! Intercepting upstream responses in `reverse_proxy`:
//!
//! ```text
//! @name {
//!     status <code...>
//!     header <field> [<value>]
//! }
//! replace_status [<matcher>] <status_code>
//! handle_response [<matcher>] {
//!     <directives...>
//! }
//! ```
//!
//! Response matchers (`@name …` lines of the block) are named within the
//! proxy's block; `handle_response` blocks are parsed as subroutes after
//! the whole block is read (so they may use matchers defined later), and
//! handlers with a matcher are ordered before those without.

use super::units::status_code;
use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::matchers;
use crate::http::obj::Obj;
use crate::http::subroute::parse_segment_as_routes;
use crate::http::value::{routes_json, Route};
use crate::syntax::{Dispenser, Token};
use serde_json::Value;
use std::collections::HashMap;

/// Named response matchers: `@name` → matcher JSON.
pub type ResponseMatchers = HashMap<String, Value>;

/// One entry of `handle_response` (Caddy's `caddyhttp.ResponseHandler`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResponseHandler {
    pub matcher: Option<Value>,
    pub status_code: Option<Value>,
    pub routes: Option<Vec<Route>>,
}

impl ResponseHandler {
    pub fn to_json(&self) -> Value {
        Obj::new()
            .some("match", self.matcher.clone())
            .some("status_code", self.status_code.clone())
            .opt(
                "routes",
                self.routes.as_deref().map(routes_json).unwrap_or_default(),
            )
            .build()
    }
}

/// Parses an `@name …` segment into `defs` (Caddy's
/// `ParseNamedResponseMatcher`).
pub fn parse_matcher(tokens: Vec<Token>, defs: &mut ResponseMatchers) -> Result<()> {
    let mut d = Dispenser::new(tokens);
    d.next();
    let name = d.val().to_string();
    if defs.contains_key(&name) {
        return Err(d.err(format!("matcher is defined more than once: {name}")));
    }
    let mut statuses: Option<Vec<Value>> = None;
    let mut header_tokens: Vec<Token> = Vec::new();
    let nesting = d.nesting();
    while d.next_arg() || d.next_block(nesting) {
        match d.val() {
            "header" => header_tokens.extend(d.next_segment()),
            "status" => {
                let args = d.remaining_args();
                if args.is_empty() {
                    return Err(d.arg_err());
                }
                let list = statuses.get_or_insert_default();
                for a in args {
                    let n = status_code(&a)
                        .map_err(|e| d.err(format!("bad status value '{a}': {e}")))?;
                    list.push(n.into());
                }
            }
            other => return Err(d.err(format!("unrecognized response matcher {other}"))),
        }
    }
    let headers = match header_tokens.is_empty() {
        true => None,
        false => {
            let parse = matchers::lookup("header").unwrap_or_else(|| unreachable!("standard"));
            Some(parse(&mut Dispenser::new(header_tokens), "")?)
        }
    };
    let m = Obj::new()
        .some("status_code", statuses.map(Value::Array))
        .some("headers", headers)
        .build();
    defs.insert(name, m);
    Ok(())
}

/// Looks up a named response matcher given as an argument.
fn lookup(d: &Dispenser, defs: &ResponseMatchers, arg: &str) -> Result<Value> {
    if !arg.starts_with('@') {
        return Err(d.err("must use a named response matcher, starting with '@'"));
    }
    defs.get(arg).cloned().ok_or_else(|| {
        d.err(format!(
            "no named response matcher defined with name '{}'",
            &arg[1..]
        ))
    })
}

/// `replace_status [<matcher>] <status_code>` (cursor on the name).
pub fn parse_replace_status(d: &mut Dispenser, defs: &ResponseMatchers) -> Result<ResponseHandler> {
    let args = d.remaining_args();
    let mut rh = ResponseHandler::default();
    match args.as_slice() {
        [m, code] => {
            rh.matcher = Some(lookup(d, defs, m)?);
            rh.status_code = Some(weak_string(code));
        }
        [code] => rh.status_code = Some(weak_string(code)),
        _ => {
            return Err(d.err(
                "must have one or two arguments: an optional response matcher, and a status code",
            ))
        }
    }
    let nesting = d.nesting();
    if d.next_block(nesting) {
        return Err(
            d.err("cannot define routes for 'replace_status', use 'handle_response' instead.")
        );
    }
    Ok(rh)
}

/// Caddy's `WeakString`: a number when it is one.
fn weak_string(s: &str) -> Value {
    match s.parse::<i64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::String(s.to_string()),
    }
}

/// Parses the saved `handle_response` segments into handlers appended to
/// `out`, then orders those with a matcher first (Caddy's
/// `FinalizeUnmarshalCaddyfile`).
pub fn finalize(
    h: &mut Helper,
    segments: Vec<Vec<Token>>,
    defs: &ResponseMatchers,
    out: &mut Vec<ResponseHandler>,
) -> Result<()> {
    for seg in segments {
        let mut d = Dispenser::new(seg);
        d.next();
        let args = d.remaining_args();
        if args.len() > 1 {
            return Err(d.err(format!(
                "too many arguments for 'handle_response': only a single response matcher name is allowed, but got: [{}]",
                args.join(" ")
            )));
        }
        let matcher = match args.first() {
            Some(a) => Some(lookup(&d, defs, a)?),
            None => None,
        };
        let body = d.next_segment();
        let mut sub = h.sub(body);
        let routes = parse_segment_as_routes(&mut sub)?;
        out.push(ResponseHandler {
            matcher,
            status_code: None,
            routes: Some(routes),
        });
    }
    let (with, without): (Vec<_>, Vec<_>) = std::mem::take(out)
        .into_iter()
        .partition(|r| r.matcher.is_some());
    out.extend(with);
    out.extend(without);
    Ok(())
}
