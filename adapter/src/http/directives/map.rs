//! `map` (map an input value to outputs in placeholders; `map` handler):
//!
//! ```text
//! map [<matcher>] <source> <destinations...> {
//!     [~]<input> <outputs...>
//!     default    <defaults...>
//! }
//! ```
//!
//! An input starting with `~` is a regular expression. Outputs are typed
//! as Caddy's `ScalarVal` types them (unquoted `3` is a number, `true` a
//! boolean, quoted text always a string); `-` is null (fall back to the
//! default). A line may have fewer outputs than destinations (nulls fill
//! the rest), never more. Defaults are strings, padded with `""`. A
//! destination may not be a placeholder shorthand such as `{host}`.

use crate::error::Result;
use crate::http::goconv::scalar_value;
use crate::http::helper::Helper;
use crate::http::obj::{strings, Obj};
use crate::http::shorthands;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let Some(source) = h.next_arg_value() else {
        return Err(h.arg_err());
    };
    let destinations = h.remaining_args();
    if destinations.is_empty() {
        return Err(h.error("missing destination argument(s)"));
    }
    for dest in &destinations {
        if let Some(short) = shorthands::was_replaced_shorthand(dest) {
            return Err(h.error(format!(
                "destination {short} conflicts with a Caddyfile placeholder shorthand"
            )));
        }
    }
    let mut defaults: Vec<String> = Vec::new();
    let mut mappings: Vec<Value> = Vec::new();
    while h.next_block(0) {
        if h.val() == "default" {
            if !defaults.is_empty() {
                return Err(h.error("defaults already defined"));
            }
            defaults = h.remaining_args();
            defaults.resize(defaults.len().max(destinations.len()), String::new());
            continue;
        }
        mappings.push(mapping(h, destinations.len())?);
    }
    Ok(Obj::handler("map")
        .opt("source", source)
        .opt("destinations", strings(&destinations))
        .opt("mappings", Value::Array(mappings))
        .opt("defaults", strings(&defaults))
        .build())
}

/// One `[~]<input> <outputs...>` line.
fn mapping(h: &mut Helper, destinations: usize) -> Result<Value> {
    let input = h.val().to_string();
    let mut outputs = Vec::new();
    while h.next_arg() {
        let Some(tok) = h.token() else { break };
        let v = scalar_value(tok);
        outputs.push(if v == Value::String("-".into()) {
            Value::Null
        } else {
            v
        });
    }
    if outputs.len() > destinations {
        return Err(h.error("too many outputs"));
    }
    outputs.resize(destinations, Value::Null);
    let m = match input.strip_prefix('~') {
        Some(re) => Obj::new().opt("input_regexp", re),
        None => Obj::new().opt("input", input.as_str()),
    };
    Ok(m.set("outputs", Value::Array(outputs)).build())
}
