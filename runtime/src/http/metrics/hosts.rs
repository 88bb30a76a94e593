//! Per-host metrics (`apps.http.metrics.per_host`): a `host` label on
//! every series, with Caddy's cardinality protection. A request's host
//! (its `Host`, lowercased, port included) is its own label when a
//! top-level route of some server names it in a host matcher without
//! wildcards or placeholders, when `observe_catchall_hosts` is set, or when
//! it came over TLS and some server speaks TLS (certificates bound those
//! names); any other host counts as `_other`, so arbitrary `Host` headers
//! cannot grow the series without bound.
//!
//! The series of the named hosts and `_other` are made when a handler is
//! provisioned and found without a lock; the others (TLS or catch-all
//! hosts) are looked up in a read-locked map, made on first sight.

use super::{Metrics, Series, SeriesRef};
use crate::config::HttpApp;
use crate::http::autohttps::Planned;
use crate::http::Cx;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// The label of hosts that may not have their own.
pub const OTHER: &str = "_other";

/// Which hosts get their own label.
#[derive(Debug)]
pub struct HostLabels {
    named: HashSet<Box<str>>,
    catchall: bool,
    tls_catchall: bool,
}

impl HostLabels {
    /// The labels `app` asks for, given the servers it will run; `None`
    /// without `per_host`.
    pub fn provision(app: &HttpApp, planned: &[Planned<'_>]) -> Option<Arc<HostLabels>> {
        let m = app.metrics.as_ref().filter(|m| m.per_host)?;
        let mut named = HashSet::new();
        for p in planned {
            for route in &p.config.routes {
                for set in &route.matchers {
                    let hosts = set.get("host").and_then(|h| h.as_array());
                    for h in hosts.into_iter().flatten().filter_map(|h| h.as_str()) {
                        // Caddy's `fuzzy`: wildcards and placeholders
                        // would let any name in.
                        if !h.contains(['*', '{']) {
                            named.insert(h.to_ascii_lowercase().into_boxed_str());
                        }
                    }
                }
            }
        }
        Some(Arc::new(HostLabels {
            named,
            catchall: m.observe_catchall_hosts,
            tls_catchall: planned.iter().any(|p| p.tls.is_some()),
        }))
    }

    /// The label of `host` (already lowercased), reached over TLS or not.
    fn label<'h>(&self, host: &'h str, tls: bool) -> &'h str {
        if self.catchall || self.named.contains(host) || (tls && self.tls_catchall) {
            host
        } else {
            OTHER
        }
    }
}

/// The series of one handler, per host.
pub struct HostSeries {
    labels: Arc<HostLabels>,
    fixed: HashMap<Box<str>, Arc<Series>>,
    seen: RwLock<HashMap<Box<str>, Arc<Series>>>,
    metrics: Arc<Metrics>,
    server: Box<str>,
    handler: Box<str>,
}

impl HostSeries {
    /// The series of `handler` in `server`, one per host label.
    pub fn provision(
        metrics: &Arc<Metrics>,
        labels: Arc<HostLabels>,
        server: &str,
        handler: &str,
    ) -> Self {
        let fixed = labels
            .named
            .iter()
            .map(|h| &**h)
            .chain([OTHER])
            .map(|h| (h.into(), metrics.host_series(server, handler, Some(h))))
            .collect();
        HostSeries {
            labels,
            fixed,
            seen: RwLock::default(),
            metrics: metrics.clone(),
            server: server.into(),
            handler: handler.into(),
        }
    }

    /// The series a request to `cx`'s host counts in.
    pub fn for_request(&self, cx: &Cx<'_>) -> SeriesRef<'_> {
        let host = cx.hostport().to_ascii_lowercase();
        let label = self.labels.label(&host, cx.conn.tls);
        if let Some(s) = self.fixed.get(label) {
            return SeriesRef::Borrowed(s);
        }
        if let Some(s) = self
            .seen
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(label)
        {
            return SeriesRef::Owned(s.clone());
        }
        let s = self
            .metrics
            .host_series(&self.server, &self.handler, Some(label));
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        seen.insert(label.into(), s.clone());
        SeriesRef::Owned(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Caddy's metrics_test.go TestMetricsHTTPSCatchAll: with a server
    /// speaking TLS, a request over TLS keeps its host; over plain HTTP
    /// the same host is `_other`.
    #[test]
    fn tls_requests_keep_their_host_when_a_server_speaks_tls() {
        let labels = HostLabels {
            named: HashSet::from(["allowed.com".into()]),
            catchall: false,
            tls_catchall: true,
        };
        assert_eq!(labels.label("unknown.com", true), "unknown.com");
        assert_eq!(labels.label("unknown.com", false), OTHER);
        assert_eq!(labels.label("allowed.com", false), "allowed.com");
        let plain = HostLabels {
            tls_catchall: false,
            ..labels
        };
        assert_eq!(plain.label("unknown.com", true), OTHER);
    }
}
