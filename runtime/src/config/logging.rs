//! The `logging` and `admin` sections of the config model.

use super::CaddyDuration;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `logging`: named loggers, each with a writer, an encoder and a level.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    pub(crate) sink: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) logs: BTreeMap<String, LogConfig>,
}

/// `logging.logs.NAME`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A `caddy.logging.writers` module, keyed by `output`.
    pub(crate) writer: Option<Map<String, Value>>,
    /// A `caddy.logging.encoders` module, keyed by `format`.
    pub(crate) encoder: Option<Map<String, Value>>,
    pub(crate) core: Option<Map<String, Value>>,
    pub(crate) level: Option<String>,
    pub(crate) sampling: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) include: Vec<String>,
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
}

/// `admin`: the admin endpoint (served by a later part of bellhop).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    #[serde(default)]
    pub(crate) disabled: bool,
    pub(crate) listen: Option<String>,
    #[serde(default)]
    pub(crate) enforce_origin: bool,
    #[serde(default)]
    pub(crate) origins: Vec<String>,
    pub(crate) config: Option<AdminConfigPersist>,
    pub(crate) identity: Option<Map<String, Value>>,
    pub(crate) remote: Option<Map<String, Value>>,
}

/// `admin.config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfigPersist {
    pub(crate) persist: Option<bool>,
    pub(crate) load: Option<Map<String, Value>>,
    pub(crate) load_delay: Option<CaddyDuration>,
}
