//! A server's `logs.trace` (Caddy's experimental handler trace): each
//! handler module, as a request enters it, writes a DEBUG entry to the
//! `http.log.trace` logger whose message is the module's ID
//! (`http.handlers.static_response`) and whose `module` field is its
//! config (as Caddy logs the module itself; mind secrets in configs).
//! Only servers with `trace` pay for it: others' handlers are not wrapped.

use super::metrics::SeriesRef;
use super::{Cx, Handler, Step};
use crate::logging::{Level, Logging};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A handler that logs each entry, then runs the handler it wraps.
pub struct Traced {
    inner: Box<dyn Handler>,
    id: String,
    /// `"module":{…}`: the entry's field, made once.
    fields: String,
    logging: Arc<Logging>,
}

impl Traced {
    /// Wraps the handler `name` (its config object is `body`).
    pub fn wrap(
        inner: Box<dyn Handler>,
        name: &str,
        body: &str,
        logging: Arc<Logging>,
    ) -> Box<dyn Handler> {
        let mut config: Map<String, Value> = serde_json::from_str(body).unwrap_or_default();
        config.remove("handler");
        Box::new(Traced {
            inner,
            id: format!("http.handlers.{name}"),
            fields: format!("\"module\":{}", Value::Object(config)),
            logging,
        })
    }
}

impl Handler for Traced {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        self.logging
            .log("http.log.trace", Level::Debug, &self.id, &self.fields);
        self.inner.handle(cx)
    }

    fn series(&self, cx: &Cx<'_>) -> Option<SeriesRef<'_>> {
        self.inner.series(cx)
    }

    super::forward_handler!(inner);
}
