//! `http.handlers.log_append`: adds a field to the request's access-log
//! entry. The value may hold placeholders; it is rendered when the handler
//! runs (Caddy renders it after the rest of the chain, so placeholders that
//! only exist then render empty here).
//! Caddyfile: `log_append [<matcher>] <key> <value>`.

use crate::error::Error;
use crate::http::replacer::Template;
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    key: String,
    #[serde(default)]
    value: String,
}

struct LogAppend {
    key: Box<str>,
    value: Template,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    if c.key.is_empty() {
        return Err(Error::config(format!("{path}.key"), "key is required"));
    }
    Ok(Box::new(LogAppend {
        key: c.key.into(),
        value: Template::parse(&c.value),
    }))
}

impl Handler for LogAppend {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        let value = self.value.render(cx).into_owned();
        match cx.log_fields.iter_mut().find(|(k, _)| *k == self.key) {
            Some(slot) => slot.1 = value,
            None => cx.log_fields.push((self.key.clone(), value)),
        }
        Step::Next
    }
}
