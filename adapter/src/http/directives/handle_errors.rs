//! `handle_errors` (routes run when a handler returns an error):
//!
//! ```text
//! handle_errors [<status_codes...>] {
//!     <directives...>
//! }
//! ```
//!
//! The block becomes one route whose handler is the block's subroute (as
//! Caddy 2.11 writes it). Codes are three digits, or `4xx`-style ranges;
//! they become that route's CEL `expression` matcher. The route goes to the
//! server's `errors` routes (class `error_route`).

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::matchers;
use crate::http::subroute::parse_segment_as_routes;
use crate::http::value::{class, subroute_handler, ConfigValue, MatcherSet, Payload, Route};

pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    h.next();
    let args = h.remaining_args();
    let expression = if args.is_empty() {
        h.prev();
        String::new()
    } else {
        let e = status_expression(h, &args)?;
        h.reset();
        h.next();
        h.remaining_args();
        h.prev();
        e
    };
    // Caddy 2.11 wraps the block in one route whose handler is the block's
    // subroute; status codes become that route's expression matcher.
    let routes = parse_segment_as_routes(h)?;
    let matcher = (!expression.is_empty()).then(|| {
        let mut set = MatcherSet::new();
        set.insert(
            "expression".into(),
            matchers::expression_json(&expression, ""),
        );
        set
    });
    let route = Route::with_handler(matcher, subroute_handler(&routes, None));
    Ok(vec![ConfigValue::new(
        class::ERROR_ROUTE,
        Payload::Routes(vec![route]),
    )])
}

/// The CEL expression matching the given codes and `Nxx` ranges.
fn status_expression(h: &Helper, args: &[String]) -> Result<String> {
    let mut expr = String::new();
    let mut codes = Vec::new();
    for val in args {
        if val.len() != 3 {
            return Err(h.error(format!("bad status value '{val}'")));
        }
        if let Some(d) = val.strip_suffix("xx") {
            if d.parse::<i64>().is_err() {
                return Err(h.error(format!(
                    "bad status value '{d}': strconv.Atoi: parsing \"{d}\": invalid syntax"
                )));
            }
            if !expr.is_empty() {
                expr.push_str(" || ");
            }
            expr.push_str(&format!(
                "{{http.error.status_code}} >= {d}00 && {{http.error.status_code}} <= {d}99"
            ));
            continue;
        }
        if val.parse::<i64>().is_err() {
            return Err(h.error(format!(
                "bad status value '{val}': strconv.Atoi: parsing \"{val}\": invalid syntax"
            )));
        }
        codes.push(val.as_str());
    }
    if !codes.is_empty() {
        if !expr.is_empty() {
            expr.push_str(" || ");
        }
        expr.push_str(&format!(
            "{{http.error.status_code}} in [{}]",
            codes.join(", ")
        ));
    }
    Ok(expr)
}
