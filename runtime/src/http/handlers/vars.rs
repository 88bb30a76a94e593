//! `http.handlers.vars`: sets request variables, read back through
//! `{http.vars.NAME}` and the `vars` matchers. Keys and string values may
//! hold placeholders; other JSON values are stored as their JSON text.
//! Caddyfile: `vars [<matcher>] <name> <value>` and `root` (which sets `root`).

use crate::error::Error;
use crate::http::replacer::Template;
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use serde_json::value::RawValue;
use serde_json::Value;

struct Vars {
    pairs: Vec<(Template, Template)>,
}

pub fn new(v: &RawValue, _p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let map: serde_json::Map<String, Value> =
        serde_json::from_str(v.get()).map_err(|_| Error::config(path, "vars must be an object"))?;
    let pairs = map
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => Template::parse(s),
                Value::Null => Template::parse(""),
                other => Template::parse(&other.to_string()),
            };
            (Template::parse(k), value)
        })
        .collect();
    Ok(Box::new(Vars { pairs }))
}

impl Handler for Vars {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        for (k, v) in &self.pairs {
            let key = k.render(cx).into_owned();
            let value = v.render(cx).into_owned();
            cx.set_var(&key, value);
        }
        Step::Next
    }
}
