//! Request matcher modules (`http.matchers.*`), one file each.

mod expression;
mod file;
pub mod header;
mod host;
mod method;
mod path;
pub mod regexp;
mod simple;
mod url_pattern;

use crate::registry::{Module, Registry};

/// Registers the matcher modules.
pub fn register(r: &mut Registry) {
    r.register("http.matchers.header", Module::Matcher(header::new));
    r.register("http.matchers.host", Module::Matcher(host::new));
    r.register("http.matchers.method", Module::Matcher(method::new));
    r.register("http.matchers.path", Module::Matcher(path::new));
    r.register(
        "http.matchers.client_ip",
        Module::Matcher(simple::new_client_ip),
    );
    r.register("http.matchers.expression", Module::Matcher(expression::new));
    r.register("http.matchers.file", Module::Matcher(file::new));
    r.register(
        "http.matchers.header_regexp",
        Module::Matcher(regexp::new_header),
    );
    r.register("http.matchers.not", Module::Matcher(simple::new_not));
    r.register(
        "http.matchers.path_regexp",
        Module::Matcher(regexp::new_path),
    );
    r.register(
        "http.matchers.protocol",
        Module::Matcher(simple::new_protocol),
    );
    r.register("http.matchers.query", Module::Matcher(simple::new_query));
    r.register("http.matchers.tls", Module::Matcher(simple::new_tls));
    r.register(
        "http.matchers.remote_ip",
        Module::Matcher(simple::new_remote_ip),
    );
    r.register(
        "http.matchers.url_pattern",
        Module::Matcher(url_pattern::new),
    );
    r.register("http.matchers.vars", Module::Matcher(simple::new_vars));
    r.register(
        "http.matchers.vars_regexp",
        Module::Matcher(regexp::new_vars),
    );
}

/// Decodes a list of strings, the shape of most simple matchers.
pub(crate) fn string_list(
    v: &serde_json::Value,
    p: &crate::registry::Provision<'_>,
    path: &str,
) -> Result<Vec<String>, crate::error::Error> {
    p.decode(v, path)
}
