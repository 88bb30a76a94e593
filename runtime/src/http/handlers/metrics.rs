//! `http.handlers.metrics`: serves the config's HTTP metrics (see
//! `http::metrics`) in Prometheus' text exposition format, or in the
//! OpenMetrics text format when the client asks for
//! `application/openmetrics-text` (unless `disable_openmetrics`).
//!
//! Caddyfile: `metrics [<matcher>] { disable_openmetrics }`.

use crate::error::Error;
use crate::http::metrics::Metrics;
use crate::http::{Body, Cx, Handler, Step};
use crate::registry::Provision;
use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    disable_openmetrics: bool,
}

struct MetricsHandler {
    metrics: Arc<Metrics>,
    openmetrics: bool,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let metrics = p
        .metrics
        .clone()
        .ok_or_else(|| Error::config(path, "metrics are not collected in this config"))?;
    Ok(Box::new(MetricsHandler {
        metrics,
        openmetrics: !c.disable_openmetrics,
    }))
}

impl Handler for MetricsHandler {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        let om = self.openmetrics
            && cx
                .parts
                .headers
                .get_all(ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains("application/openmetrics-text"));
        let mut r = http::Response::new(Body::from_bytes(self.metrics.render(om)));
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(if om { OPENMETRICS } else { TEXT }),
        );
        Step::Respond(r)
    }
}
