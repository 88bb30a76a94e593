//! Nested handler scopes: parsing a block whose lines are themselves
//! directives (`handle`, `route`, `handle_errors`, `handle_response`, named
//! routes) and building an orderly subroute from the resulting routes
//! (Caddy's `ParseSegmentAsSubroute`, `parseSegmentAsConfig`,
//! `buildSubroute`).

use super::helper::Helper;
use super::matchers;
use super::order::sort_routes;
use super::value::{consolidate_routes, subroute_handler_owned, ConfigValue, Payload, Route};
use crate::error::{Error, Result};
use crate::syntax::Token;
use serde_json::Value;
use std::rc::Rc;

/// Directives whose routes are mutually exclusive (only the first
/// matching one runs), so they go in one group; sorted by name, as Caddy
/// walks them to keep group numbers stable.
const MUTUALLY_EXCLUSIVE: &[&str] = &["handle", "rewrite", "root"];

/// Parses the block after the current line as directives and returns the
/// subroute handler JSON built from them.
pub fn parse_segment_as_subroute(h: &mut Helper) -> Result<Value> {
    let routes = parse_segment_as_routes(h)?;
    Ok(subroute_handler_owned(routes, None))
}

/// Like [`parse_segment_as_subroute`] but returns the routes.
pub fn parse_segment_as_routes(h: &mut Helper) -> Result<Vec<Route>> {
    let mut vals = parse_segment_as_config(h)?;
    build_subroute(h, &mut vals, true)
}

/// Parses the block(s) of the directive as directives: named matchers
/// defined inside are in scope for the block; each line runs its directive
/// (Caddy's `parseSegmentAsConfig`).
pub fn parse_segment_as_config(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    let mut all = Vec::new();
    while h.next() {
        if h.next_arg() {
            return Err(h.arg_err());
        }
        let mut segments: Vec<Vec<Token>> = Vec::new();
        let nesting = h.nesting();
        while h.next_block(nesting) {
            segments.push(h.next_segment());
        }
        let mut defs = (*h.matcher_defs).clone();
        let (matcher_segs, segments): (Vec<_>, Vec<_>) = segments.into_iter().partition(|seg| {
            seg.first()
                .is_some_and(|t| t.text.starts_with(matchers::PREFIX))
        });
        for seg in matcher_segs {
            matchers::parse_definition(seg, &mut defs)?;
        }
        let defs = Rc::new(defs);
        for seg in segments {
            all.extend(run_nested_directive(h, seg, &defs)?);
        }
    }
    Ok(all)
}

fn run_nested_directive(
    h: &mut Helper,
    seg: Vec<Token>,
    defs: &Rc<matchers::MatcherDefs>,
) -> Result<Vec<ConfigValue>> {
    let dir = seg.first().map(|t| t.text.clone()).unwrap_or_default();
    let env = h.env;
    let mut sub = h.sub(seg);
    sub.matcher_defs = Rc::clone(defs);
    let Some(result) = env.directives.run(&dir, &mut sub) else {
        let mut err = h.error(format!(
            "unrecognized directive: {dir} - are you sure your Caddyfile structure (nesting and braces) is correct?"
        ));
        if let Some(s) = env.directives.suggest(&dir) {
            err = err.with_help(format!("did you mean {s}?"));
        }
        return Err(err);
    };
    let results = result.map_err(|e| nest_error(h, &dir, e))?;
    let dir = normalize_directive_name(&dir);
    Ok(results
        .into_iter()
        .map(|mut r| {
            r.directive = dir.to_string();
            r
        })
        .collect())
}

/// Wraps a nested directive's error as Caddy does: `parsing caddyfile
/// tokens for 'DIR': MSG, at FILE:LINE` (the outer location appended).
fn nest_error(h: &Helper, dir: &str, mut inner: Error) -> Error {
    let loc = h.d.token().map(|t| t.location());
    inner.message = match loc {
        Some(loc) => format!(
            "parsing caddyfile tokens for '{dir}': {}, at {loc}",
            inner.message
        ),
        None => format!("parsing caddyfile tokens for '{dir}': {}", inner.message),
    };
    inner
}

/// `handle_path` sorts at the same level as `handle`.
pub fn normalize_directive_name(dir: &str) -> &str {
    if dir == "handle_path" {
        "handle"
    } else {
        dir
    }
}

/// Turns route config values into an orderly route list: checks every
/// directive is ordered, sorts (if asked), groups mutually exclusive
/// directives, flattens kept-together route lists and consolidates
/// (Caddy's `buildSubroute`).
pub fn build_subroute(
    h: &mut Helper,
    vals: &mut [ConfigValue],
    needs_sorting: bool,
) -> Result<Vec<Route>> {
    let order = &h.env.options.directive_order;
    if needs_sorting {
        for v in vals.iter() {
            if !order.contains(&v.directive) {
                return Err(Error::plain(format!(
                    "directive '{}' is not an ordered HTTP handler, so it cannot be used here - try placing within a route block or using the order global option",
                    v.directive
                )));
            }
        }
        sort_routes(vals, order);
    }
    let groups = exclusive_groups(h, vals);
    let mut routes = Vec::new();
    // The values are the caller's own copies: their routes are moved out.
    for v in vals.iter_mut() {
        match std::mem::replace(&mut v.value, Payload::Json(Value::Null)) {
            Payload::Route(mut r) => {
                if let Some((_, g)) = groups.iter().find(|(d, _)| *d == v.directive) {
                    r.group = g.clone();
                }
                routes.push(r);
            }
            Payload::Routes(rs) => routes.extend(rs),
            other => v.value = other,
        }
    }
    Ok(consolidate_routes(routes))
}

/// The group name of each mutually exclusive directive present (empty
/// when it appears once, except `rewrite`, which always gets a group).
fn exclusive_groups(h: &mut Helper, vals: &[ConfigValue]) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for &dir in MUTUALLY_EXCLUSIVE {
        let count = vals.iter().filter(|v| v.directive == dir).take(2).count();
        let name = if count > 1 || dir == "rewrite" {
            h.next_group()
        } else {
            String::new()
        };
        out.push((dir, name));
    }
    out
}
