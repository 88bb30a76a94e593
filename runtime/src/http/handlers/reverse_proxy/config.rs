//! The JSON model of Caddy's `reverse_proxy` handler, decoded strictly:
//! the handler itself, load balancing, health checks and upstreams. The
//! transports' models are in `transport_http` and `transport_fastcgi`,
//! dynamic upstream sources in `dynamic`; module-valued fields (transport,
//! selection policy, dynamic upstreams, circuit breaker) stay JSON objects
//! here and are decoded by the module that owns their namespace.

use crate::config::{CaddyDuration, RouteConfig};
use crate::http::handlers::header_ops::{HeaderOpsConfig, ReplacementConfig};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// `http.handlers.reverse_proxy`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HandlerConfig {
    pub(crate) transport: Option<Map<String, Value>>,
    pub(crate) circuit_breaker: Option<Map<String, Value>>,
    pub(crate) load_balancing: Option<LoadBalancing>,
    pub(crate) health_checks: Option<HealthChecks>,
    #[serde(default)]
    pub(crate) upstreams: Vec<UpstreamConfig>,
    pub(crate) dynamic_upstreams: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) flush_interval: SignedDuration,
    #[serde(default)]
    pub(crate) trusted_proxies: Vec<String>,
    pub(crate) headers: Option<HeadersConfig>,
    #[serde(default)]
    pub(crate) request_buffers: i64,
    #[serde(default)]
    pub(crate) response_buffers: i64,
    pub(crate) stream_timeout: Option<CaddyDuration>,
    pub(crate) stream_close_delay: Option<CaddyDuration>,
    #[serde(default)]
    pub(crate) stream_buffer_size: i64,
    pub(crate) rewrite: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    pub(crate) handle_response: Vec<ResponseHandlerConfig>,
    #[serde(default)]
    pub(crate) verbose_logs: bool,
}

/// One static upstream.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    #[serde(default)]
    pub(crate) dial: String,
    #[serde(default)]
    pub(crate) lookup_srv: String,
    #[serde(default)]
    pub(crate) max_requests: usize,
}

/// `load_balancing`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancing {
    pub(crate) selection_policy: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) retries: u32,
    pub(crate) try_duration: Option<CaddyDuration>,
    pub(crate) try_interval: Option<CaddyDuration>,
    #[serde(default)]
    pub(crate) retry_match: Vec<Map<String, Value>>,
}

/// `health_checks`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HealthChecks {
    pub(crate) active: Option<ActiveConfig>,
    pub(crate) passive: Option<PassiveConfig>,
}

/// `health_checks.active`.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ActiveConfig {
    #[serde(default)]
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) uri: String,
    #[serde(default)]
    pub(crate) upstream: String,
    #[serde(default)]
    pub(crate) port: u16,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(crate) method: String,
    #[serde(default)]
    pub(crate) body: String,
    #[serde(default)]
    pub(crate) follow_redirects: bool,
    pub(crate) interval: Option<CaddyDuration>,
    pub(crate) timeout: Option<CaddyDuration>,
    #[serde(default)]
    pub(crate) passes: u32,
    #[serde(default)]
    pub(crate) fails: u32,
    #[serde(default)]
    pub(crate) max_size: i64,
    #[serde(default)]
    pub(crate) expect_status: u16,
    #[serde(default)]
    pub(crate) expect_body: String,
}

/// `health_checks.passive`.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct PassiveConfig {
    pub(crate) fail_duration: Option<CaddyDuration>,
    #[serde(default)]
    pub(crate) max_fails: usize,
    #[serde(default)]
    pub(crate) unhealthy_request_count: usize,
    #[serde(default)]
    pub(crate) unhealthy_status: Vec<u16>,
    pub(crate) unhealthy_latency: Option<CaddyDuration>,
}

/// `headers`: request and response operations (`header_up`/`header_down`).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HeadersConfig {
    pub(crate) request: Option<HeaderOpsConfig>,
    pub(crate) response: Option<RespHeadersConfig>,
}

/// Response header operations, with `require` conditions.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RespHeadersConfig {
    #[serde(default)]
    pub(crate) add: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(crate) set: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(crate) delete: Vec<String>,
    #[serde(default)]
    pub(crate) replace: BTreeMap<String, Vec<ReplacementConfig>>,
    pub(crate) require: Option<ResponseMatcherConfig>,
    #[serde(default)]
    pub(crate) deferred: bool,
}

/// Caddy's `ResponseMatcher`: status codes (`2` = any 2xx) and headers.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ResponseMatcherConfig {
    #[serde(default)]
    pub(crate) status_code: Vec<u16>,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, Option<Vec<String>>>,
}

/// One `handle_response` entry.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ResponseHandlerConfig {
    #[serde(rename = "match")]
    pub(crate) matcher: Option<ResponseMatcherConfig>,
    pub(crate) status_code: Option<WeakString>,
    #[serde(default)]
    pub(crate) routes: Vec<RouteConfig>,
}

/// A string that JSON may give as a number (Caddy's `WeakString`).
#[derive(Clone, Debug, Default)]
pub struct WeakString(pub String);

impl<'de> Deserialize<'de> for WeakString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(WeakString(match Value::deserialize(d)? {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "expected a string or number, got {other}"
                )))
            }
        }))
    }
}

/// A duration that may be negative (`flush_interval: -1`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignedDuration {
    pub negative: bool,
    pub abs: Duration,
}

impl<'de> Deserialize<'de> for SignedDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => {
                let n = n
                    .as_i64()
                    .ok_or_else(|| serde::de::Error::custom("duration out of range"))?;
                Ok(SignedDuration {
                    negative: n < 0,
                    abs: Duration::from_nanos(n.unsigned_abs()),
                })
            }
            Value::String(s) => {
                let (negative, rest) = match s.strip_prefix('-') {
                    Some(r) => (true, r),
                    None => (false, s.as_str()),
                };
                let abs = crate::util::parse_duration(rest).map_err(serde::de::Error::custom)?;
                Ok(SignedDuration { negative, abs })
            }
            other => Err(serde::de::Error::custom(format!(
                "expected a duration, got {other}"
            ))),
        }
    }
}
