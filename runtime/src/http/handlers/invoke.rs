//! `http.handlers.invoke`: runs one of the server's `named_routes`, then
//! goes on. Caddyfile: `invoke <name>` with `&(name) { ... }` blocks.
//!
//! The handler holds the route's index in its server, not the route, so
//! named routes may invoke each other; the interpreter looks the route up
//! and bounds the nesting (see `routes::MAX_INVOKE_DEPTH`).

use crate::error::Error;
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
}

struct Invoke {
    route: usize,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let route = p.named_route(&c.name).ok_or_else(|| {
        Error::config(
            format!("{path}.name"),
            format!(
                "cannot invoke named route '{}', which is not defined",
                c.name
            ),
        )
    })?;
    Ok(Box::new(Invoke { route }))
}

impl Handler for Invoke {
    fn handle(&self, _cx: &mut Cx<'_>) -> Step {
        Step::Invoke(self.route)
    }
}
