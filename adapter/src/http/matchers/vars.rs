//! `vars` matcher (`http.matchers.vars`): `vars <variable> <values...>`;
//! values of one variable merge.

use crate::error::Result;
use crate::http::obj::{sorted_map, strings};
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    while d.next() {
        let Some(field) = d.next_arg_value() else {
            return Err(d.err("malformed vars matcher: expected field name"));
        };
        let vals = d.remaining_args();
        if vals.is_empty() {
            return Err(
                d.err("malformed vars matcher: expected at least one value to match against")
            );
        }
        match out.iter_mut().find(|(f, _)| *f == field) {
            Some((_, v)) => v.extend(vals),
            None => out.push((field, vals)),
        }
        super::no_block(d, "vars")?;
    }
    Ok(sorted_map(
        out.into_iter().map(|(k, v)| (k, strings(&v))).collect(),
    ))
}
