//! `header_regexp` matcher (`http.matchers.header_regexp`):
//! `header_regexp [<name>] <field> <regexp>`; one per field per named
//! matcher; the name defaults to the named matcher's name.

use crate::error::Result;
use crate::http::obj::sorted_map;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, def_name: &str) -> Result<Value> {
    let fields = parse_fields(d, def_name, "header_regexp", "header field")?;
    Ok(sorted_map(fields))
}

/// Shared with `vars_regexp`: `[<name>] <field> <regexp>` lines.
pub(super) fn parse_fields(
    d: &mut Dispenser,
    def_name: &str,
    matcher: &str,
    what: &str,
) -> Result<Vec<(String, Value)>> {
    let mut out: Vec<(String, Value)> = Vec::new();
    while d.next() {
        let Some(first) = d.args(2) else {
            return Err(d.arg_err());
        };
        let (name, field, pattern) = match d.next_arg_value() {
            Some(third) => (first[0].clone(), first[1].clone(), third),
            None => (String::new(), first[0].clone(), first[1].clone()),
        };
        let name = if name.is_empty() {
            def_name.to_string()
        } else {
            name
        };
        if out.iter().any(|(f, _)| *f == field) {
            return Err(d.err(format!(
                "{matcher} matcher can only be used once per named matcher, per {what}: {field}"
            )));
        }
        out.push((field, super::regexp::json(&name, &pattern)));
        super::no_block(d, matcher)?;
    }
    Ok(out)
}
