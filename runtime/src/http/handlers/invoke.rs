//! `http.handlers.invoke`: runs one of the server's `named_routes`, then
//! goes on. Caddyfile: `invoke <name>` with `&(name) { ... }` blocks.

use crate::error::Error;
use crate::http::routes::{RouteList, SharedRoutes};
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
}

struct Invoke {
    route: SharedRoutes,
}

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode(v, path)?;
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
        Step::Routes
    }

    fn routes(&self) -> Option<&RouteList> {
        Some(&self.route)
    }
}
