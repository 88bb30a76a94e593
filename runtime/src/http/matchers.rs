//! Request matcher modules (`http.matchers.*`), one file each.

pub mod header;
mod host;
mod method;
mod path;

use crate::registry::{Module, Registry};

/// Registers the matcher modules.
pub fn register(r: &mut Registry) {
    r.register("http.matchers.header", Module::Matcher(header::new));
    r.register("http.matchers.host", Module::Matcher(host::new));
    r.register("http.matchers.method", Module::Matcher(method::new));
    r.register("http.matchers.path", Module::Matcher(path::new));
}

/// Decodes a list of strings, the shape of most simple matchers.
pub(crate) fn string_list(
    v: &serde_json::Value,
    p: &crate::registry::Provision<'_>,
    path: &str,
) -> Result<Vec<String>, crate::error::Error> {
    p.decode(v, path)
}
