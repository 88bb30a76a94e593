//! `path_regexp` matcher (`http.matchers.path_regexp`):
//! `path_regexp [<name>] <regexp>`; the name defaults to the named
//! matcher's name. Only one per named matcher.

use crate::error::Result;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, def_name: &str) -> Result<Value> {
    let mut found: Option<(String, String)> = None;
    while d.next() {
        if found.is_some() {
            return Err(d.err("regular expression can only be used once per named matcher"));
        }
        let args = d.remaining_args();
        let (name, pattern) = match args.as_slice() {
            [p] => (String::new(), p.clone()),
            [n, p] => (n.clone(), p.clone()),
            _ => return Err(d.arg_err()),
        };
        let name = if name.is_empty() {
            def_name.to_string()
        } else {
            name
        };
        found = Some((name, pattern));
        super::no_block(d, "path_regexp")?;
    }
    let (name, pattern) = found.unwrap_or_default();
    Ok(super::regexp::json(&name, &pattern))
}
