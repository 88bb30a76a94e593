//! `http.matchers.method`: the request method is one of a list. The list
//! is uppercased when provisioned, as Caddy's; the request's method is
//! compared exactly.

use crate::error::{Error, HttpError};
use crate::http::{Cx, Matcher};
use crate::registry::Provision;
use serde_json::Value;

struct MatchMethod(Vec<http::Method>);

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let names = super::string_list(v, p, path)?;
    let methods = names
        .iter()
        .enumerate()
        .map(|(i, m)| {
            http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|e| Error::config(format!("{path}[{i}]"), e))
        })
        .collect::<Result<_, _>>()?;
    Ok(Box::new(MatchMethod(methods)))
}

impl Matcher for MatchMethod {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        Ok(self.0.contains(&cx.parts.method))
    }
}
