//! `reverse_proxy` (basic form; subdirectives are added in
//! `reverse_proxy/`):
//!
//! ```text
//! reverse_proxy [<matcher>] [<upstreams...>] {
//!     to <upstreams...>
//! }
//! ```
//!
//! Upstreams: `host:port`, `scheme://host[:port]` (`http`, `https`,
//! `h2c`), `unix//path`, placeholders. An `https://` upstream adds an HTTP
//! transport with TLS, `h2c://` one with versions `h2c` and `2`.

use crate::error::Result;
use crate::http::address::split_host_port;
use crate::http::helper::Helper;
use crate::http::obj::{strings, Obj};
use serde_json::Value;

#[derive(Default)]
struct Upstreams {
    dials: Vec<String>,
    scheme: Option<String>,
}

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let mut ups = Upstreams::default();
    for arg in h.remaining_args() {
        add_upstream(h, &mut ups, &arg)?;
    }
    while h.next_block(0) {
        match h.val() {
            "to" => {
                let args = h.remaining_args();
                if args.is_empty() {
                    return Err(h.arg_err());
                }
                for arg in args {
                    add_upstream(h, &mut ups, &arg)?;
                }
            }
            other => return Err(h.error(format!("unrecognized subdirective {other}"))),
        }
    }
    let upstreams: Vec<Value> = ups
        .dials
        .iter()
        .map(|d| Obj::new().set("dial", d.as_str()).build())
        .collect();
    let transport = match ups.scheme.as_deref() {
        Some("https") => Some(
            Obj::module("protocol", "http")
                .set("tls", Obj::new())
                .build(),
        ),
        Some("h2c") => Some(
            Obj::module("protocol", "http")
                .set("versions", strings(&["h2c", "2"]))
                .build(),
        ),
        _ => None,
    };
    Ok(Obj::handler("reverse_proxy")
        .some("transport", transport)
        .opt("upstreams", Value::Array(upstreams))
        .build())
}

fn add_upstream(h: &Helper, ups: &mut Upstreams, addr: &str) -> Result<()> {
    let (scheme, dial) = dial_address(addr).map_err(|m| h.error(m))?;
    if let Some(s) = scheme {
        match &ups.scheme {
            Some(prev) if *prev != s => {
                return Err(h.error(format!(
                    "upstream address scheme is different from previous upstream: {prev} vs {s}"
                )))
            }
            _ => ups.scheme = Some(s),
        }
    }
    ups.dials.push(dial);
    Ok(())
}

/// The scheme (if any) and dial address of an upstream (Caddy's
/// `parseUpstreamDialAddress` + `dialAddr`).
pub fn dial_address(addr: &str) -> Result<(Option<String>, String), String> {
    if let Some((scheme, rest)) = addr.split_once("://") {
        if addr.contains('{') {
            return Err("due to parsing difficulties, placeholders are not allowed when an upstream address contains a scheme".into());
        }
        if rest.contains(['/', '?', '#']) {
            return Err(
                "for now, URLs for proxy upstreams only support scheme, host, and port components"
                    .into(),
            );
        }
        let (host, port) = split_host_port(rest).unwrap_or((rest.to_string(), String::new()));
        check_conflict(scheme, &port)?;
        let port = if port.is_empty() {
            if scheme == "https" { "443" } else { "80" }.to_string()
        } else {
            port
        };
        return Ok((Some(scheme.to_string()), join(&host, &port)));
    }
    let (network, host, port) = split_network(addr);
    if network == "unix" || network == "unix+h2c" || network.starts_with("fd") {
        let scheme = (network == "unix+h2c").then(|| "h2c".to_string());
        return Ok((scheme, format!("unix/{host}")));
    }
    let port = if port.is_empty() && !host.contains('{') {
        "80".to_string()
    } else {
        port
    };
    let dial = if port.is_empty() {
        host
    } else {
        join(&host, &port)
    };
    let dial = if network.is_empty() {
        dial
    } else {
        format!("{network}/{dial}")
    };
    Ok((None, dial))
}

fn check_conflict(scheme: &str, port: &str) -> Result<(), String> {
    let msg = match (scheme, port) {
        ("http", "443") => {
            "upstream address has conflicting scheme (http://) and port (:443, the HTTPS port)"
        }
        ("https", "80") => {
            "upstream address has conflicting scheme (https://) and port (:80, the HTTP port)"
        }
        ("h2c", "443") => {
            "upstream address has conflicting scheme (h2c://) and port (:443, the HTTPS port)"
        }
        _ => return Ok(()),
    };
    Err(msg.to_string())
}

fn split_network(addr: &str) -> (String, String, String) {
    let (network, rest) = match addr.split_once('/') {
        Some((n, r)) if !n.is_empty() && !n.contains(':') => (n.to_string(), r),
        _ => (String::new(), addr),
    };
    if network.starts_with("unix") {
        return (network, rest.to_string(), String::new());
    }
    match split_host_port(rest) {
        Ok((h, p)) => (network, h, p),
        Err(_) => (network, rest.to_string(), String::new()),
    }
}

fn join(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
