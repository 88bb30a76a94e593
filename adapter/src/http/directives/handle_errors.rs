//! `handle_errors` (routes run when a handler returns an error):
//!
//! ```text
//! handle_errors [<status_codes...>] {
//!     <directives...>
//! }
//! ```
//!
//! Codes are three digits, or `4xx`-style ranges; they become one CEL
//! `expression` matcher on every route of the block. The routes go to the
//! server's `errors` routes (class `error_route`).

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::matchers;
use crate::http::subroute::parse_segment_as_routes;
use crate::http::value::{class, ConfigValue, MatcherSet, Payload};

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
    let mut routes = parse_segment_as_routes(h)?;
    if !expression.is_empty() {
        let mut set = MatcherSet::new();
        set.insert(
            "expression".into(),
            matchers::expression_json(&expression, ""),
        );
        for r in &mut routes {
            r.matchers = vec![set.clone()];
        }
    }
    Ok(vec![ConfigValue::new(
        class::ERROR_ROUTE,
        Payload::Routes(routes),
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
