//! `order <directive> first|last|before <other>|after <other>`: moves a
//! directive within the directive order.

use super::Options;
use crate::error::Result;
use crate::http::registry::Directives;
use crate::syntax::Dispenser;

pub fn parse(d: &mut Dispenser, opts: &mut Options, reg: &Directives) -> Result<()> {
    d.next();
    if !d.next() {
        return Err(d.arg_err());
    }
    let dir = d.val().to_string();
    if !reg.contains(&dir) {
        return Err(d.err(format!("{dir} is not a registered directive")));
    }
    if !d.next() {
        return Err(d.arg_err());
    }
    let pos = d.val().to_string();
    let order = &mut opts.directive_order;
    order.retain(|x| *x != dir);
    match pos.as_str() {
        "first" | "last" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            if pos == "first" {
                order.insert(0, dir);
            } else {
                order.push(dir);
            }
            return Ok(());
        }
        "before" | "after" => {}
        _ => return Err(d.err(format!("unknown positional '{pos}'"))),
    }
    let Some(other) = d.next_arg_value() else {
        return Err(d.arg_err());
    };
    if d.next_arg() {
        return Err(d.arg_err());
    }
    let Some(mut idx) = order.iter().position(|x| *x == other) else {
        return Err(d.err(format!("directive '{other}' not found")));
    };
    if pos == "after" {
        idx += 1;
    }
    order.insert(idx, dir);
    Ok(())
}
