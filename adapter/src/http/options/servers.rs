//! `servers [<listener_address>] { … }`: options applied to the servers
//! whose listeners include the address (or all, without one): timeouts,
//! protocols, trusted proxies, `name`, … Parsing of the block fills a
//! [`ServerOptions`]; [`apply`] sets the fields and renames servers.

use super::{Options, ServerOptions};
use crate::error::{Error, Result};
use crate::http::assemble::Server;
use serde_json::Value;
use std::collections::HashSet;

/// Applies the `servers` options and returns the servers as JSON, renamed
/// where a `name` was given.
pub fn apply(servers: Vec<(String, Server)>, opts: &Options) -> Result<Vec<(String, Value)>> {
    let mut names = HashSet::new();
    for o in &opts.servers {
        if !o.name.is_empty() && !names.insert(o.name.clone()) {
            return Err(Error::plain(format!(
                "cannot use duplicate server name '{}'",
                o.name
            )));
        }
    }
    let mut out = Vec::with_capacity(servers.len());
    for (key, mut srv) in servers {
        let found = opts
            .servers
            .iter()
            .find(|o| o.listener_address.is_empty() || srv.listen.contains(&o.listener_address));
        let Some(o) = found else {
            out.push((key, srv.into_json()));
            continue;
        };
        apply_one(&mut srv, o);
        let name = if o.name.is_empty() {
            key
        } else {
            o.name.clone()
        };
        out.push((name, srv.into_json()));
    }
    Ok(out)
}

fn apply_one(srv: &mut Server, o: &ServerOptions) {
    for (k, v) in &o.fields {
        if k == "listener_wrappers" {
            if let Value::Array(a) = v {
                srv.listener_wrappers = a.clone();
            }
            continue;
        }
        srv.options.insert(k.clone(), v.clone());
    }
    if o.log_credentials {
        srv.logs
            .get_or_insert_with(Default::default)
            .should_log_credentials = true;
    }
}
