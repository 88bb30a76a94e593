//! The hook behind `GET /pki/ca/<id>` and `/pki/ca/<id>/certificates`.
//!
//! Certificate authorities belong to the TLS/PKI part of the runtime; it
//! publishes them with [`set_ca_source`]. Until one is set (or when the ID
//! is unknown) the endpoints answer 404 with a clear error.

use serde::Serialize;
use std::sync::{Arc, RwLock};

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

static SOURCE: RwLock<Option<Arc<dyn CaSource>>> = RwLock::new(None);

/// Publishes (or, with `None`, withdraws) the CA source.
pub fn set_ca_source(source: Option<Arc<dyn CaSource>>) {
    *SOURCE.write().unwrap_or_else(|e| e.into_inner()) = source;
}

/// The CA with this ID, from the published source.
pub fn lookup(id: &str) -> Option<CaInfo> {
    let source = SOURCE.read().unwrap_or_else(|e| e.into_inner()).clone();
    source?.ca(id)
}
