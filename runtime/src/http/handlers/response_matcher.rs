//! Caddy's `ResponseMatcher`: conditions on a response's status code and
//! header fields, used by `headers` (`require`), `encode` (`match`) and the
//! proxy's response handlers.
//!
//! A status code below 100 stands for its class (`2` is any 2xx); header
//! criteria follow the `header` request matcher (`*` wildcards, `null` for
//! "absent").

use crate::error::Error;
use crate::http::matchers::header::HeaderCriteria;
use crate::http::Cx;
use http::header::HeaderName;
use http::HeaderMap;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The JSON of a response matcher.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseMatcherConfig {
    #[serde(default)]
    pub(crate) status_code: Vec<u16>,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, Option<Vec<String>>>,
}

/// A provisioned response matcher.
pub struct ResponseMatcher {
    status: Vec<u16>,
    headers: HeaderCriteria,
}

impl ResponseMatcher {
    /// Provisions `c`; `path` names the matcher for errors.
    pub fn provision(c: &ResponseMatcherConfig, path: &str) -> Result<Self, Error> {
        for name in c.headers.keys() {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| Error::config(format!("{path}.headers.{name}"), e))?;
        }
        Ok(ResponseMatcher {
            status: c.status_code.clone(),
            headers: HeaderCriteria::new(&c.headers),
        })
    }

    /// Whether a response with `status` and `headers` matches.
    pub fn matches(&self, cx: &Cx<'_>, status: u16, headers: &HeaderMap) -> bool {
        let status_ok = self.status.is_empty()
            || self
                .status
                .iter()
                .any(|&c| c == status || (c < 100 && status / 100 == c));
        status_ok && self.headers.matches(cx, headers, "")
    }
}
