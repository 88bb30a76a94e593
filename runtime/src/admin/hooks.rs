//! Hooks other parts of the runtime fill for the admin API.
//!
//! Upstreams (`GET /reverse_proxy/upstreams`): read from the reverse
//! proxy's upstream pool, which is keyed by address and outlives any one
//! config (an entry disappears when no config holds it any more).
//!
//! Certificate authorities (`GET /pki/ca/<id>`, `/pki/ca/<id>/certificates`)
//! come from the serving config's TLS state, which implements
//! [`CaSource`]; an unknown ID is a 404 with a clear error.

use serde::Serialize;

/// One upstream as the admin API reports it (Caddy's fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamStatus {
    pub address: String,
    pub num_requests: usize,
    pub fails: usize,
}

/// Every upstream some config's reverse proxy holds, sorted by address
/// (the proxy's upstream pool, which outlives any one config).
pub fn upstreams_status() -> Vec<UpstreamStatus> {
    crate::http::handlers::reverse_proxy::upstreams_status()
        .into_iter()
        .map(|u| UpstreamStatus {
            address: u.address,
            num_requests: u.num_requests,
            fails: u.fails,
        })
        .collect()
}

/// A certificate authority as the admin API reports it (Caddy's fields).
#[derive(Debug, Clone, Serialize)]
pub struct CaInfo {
    pub id: String,
    pub name: String,
    pub root_common_name: String,
    pub intermediate_common_name: String,
    /// PEM.
    pub root_certificate: String,
    /// PEM.
    pub intermediate_certificate: String,
}

/// Whatever knows the configured CAs.
pub trait CaSource: Send + Sync {
    /// The CA with this ID, if configured.
    fn ca(&self, id: &str) -> Option<CaInfo>;
}
