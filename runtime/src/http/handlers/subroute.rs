//! `http.handlers.subroute`: a nested list of routes, with optional error
//! routes of its own. Caddyfile: `route`, `handle`, `handle_path` and
//! `handle_errors` produce it.

use crate::config::ErrorsConfig;
use crate::error::Error;
use crate::http::routes::RouteList;
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    routes: Vec<crate::config::RouteConfig>,
    errors: Option<ErrorsConfig>,
}

struct Subroute {
    routes: RouteList,
    errors: Option<RouteList>,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let routes = RouteList::provision(&c.routes, p, &format!("{path}.routes"))?;
    let errors = match &c.errors {
        Some(e) if !e.routes.is_empty() => Some(RouteList::provision(
            &e.routes,
            p,
            &format!("{path}.errors.routes"),
        )?),
        _ => None,
    };
    Ok(Box::new(Subroute { routes, errors }))
}

impl Handler for Subroute {
    fn handle(&self, _cx: &mut Cx<'_>) -> Step {
        Step::Routes
    }

    fn routes(&self) -> Option<&RouteList> {
        Some(&self.routes)
    }

    fn error_routes(&self) -> Option<&RouteList> {
        self.errors.as_ref()
    }

    fn cleanup(&self) {
        self.routes.for_each_handler(&mut |h| h.cleanup());
        if let Some(e) = &self.errors {
            e.for_each_handler(&mut |h| h.cleanup());
        }
    }
}
