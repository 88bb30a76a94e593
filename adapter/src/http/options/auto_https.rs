//! `auto_https off|disable_redirects|disable_certs|ignore_loaded_certs|prefer_wildcard`
//! (several allowed, but `off` only alone).

use super::Options;
use crate::error::Result;
use crate::http::obj::strings;
use crate::http::registry::Directives;
use crate::syntax::Dispenser;

const VALID: &[&str] = &[
    "off",
    "disable_redirects",
    "disable_certs",
    "ignore_loaded_certs",
    "prefer_wildcard",
];

pub fn parse(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let vals = d.remaining_args();
    if vals.is_empty() {
        return Err(d.arg_err());
    }
    for v in &vals {
        if !VALID.contains(&v.as_str()) {
            return Err(d.err(
                "auto_https must be one of 'off', 'disable_redirects', 'disable_certs', 'ignore_loaded_certs', or 'prefer_wildcard'",
            ));
        }
    }
    if vals.len() > 1 && vals.iter().any(|v| v == "off") {
        return Err(d.err("auto_https off cannot be combined with other values"));
    }
    opts.values.insert("auto_https".into(), strings(&vals));
    Ok(())
}
