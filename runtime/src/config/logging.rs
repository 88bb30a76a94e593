//! The `logging` and `admin` sections of the config model.

use super::CaddyDuration;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `logging`: named loggers, each with a writer, an encoder and a level.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    pub sink: Option<Map<String, Value>>,
    #[serde(default)]
    pub logs: BTreeMap<String, LogConfig>,
}

/// `logging.logs.NAME`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A `caddy.logging.writers` module, keyed by `output`.
    pub writer: Option<Map<String, Value>>,
    /// A `caddy.logging.encoders` module, keyed by `format`.
    pub encoder: Option<Map<String, Value>>,
    pub core: Option<Map<String, Value>>,
    pub level: Option<String>,
    pub sampling: Option<Map<String, Value>>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// `admin`: the admin endpoint (served by a later part of bellhop).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    #[serde(default)]
    pub disabled: bool,
    pub listen: Option<String>,
    #[serde(default)]
    pub enforce_origin: bool,
    #[serde(default)]
    pub origins: Vec<String>,
    pub config: Option<AdminConfigPersist>,
    pub identity: Option<Map<String, Value>>,
    pub remote: Option<Map<String, Value>>,
}

/// `admin.config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfigPersist {
    pub persist: Option<bool>,
    pub load: Option<Map<String, Value>>,
    pub load_delay: Option<CaddyDuration>,
}
