//! The admin endpoint's defences against browsers, as Caddy's and a bit
//! stricter:
//! - WebSocket upgrades, `Origin: null` and `Sec-Fetch-Mode: no-cors` are
//!   refused (400): no page has any business sending them here.
//! - DNS rebinding: unless the endpoint listens on every interface, the
//!   `Host` must be one of the allowed origins (403).
//! - Cross-site requests: an `Origin` header, when present (or required by
//!   `enforce_origin`, with `Referer` as fallback), must be allowed (403);
//!   `Sec-Fetch-Site: cross-site`/`same-site` without an allowed `Origin`
//!   is refused (403).
//!
//! Allowed origins default to the listen address (plus `localhost`,
//! `127.0.0.1` and `[::1]` on its port when it is a loopback address;
//! `127.0.0.1`, `::1` and the empty host for a unix socket).

use super::ApiError;
use crate::config::AdminConfig;
use crate::listeners::{ListenAddr, Network};
use http::header::{HOST, ORIGIN, REFERER, UPGRADE};
use http::StatusCode;
use std::net::{IpAddr, SocketAddr};

/// One allowed origin: a host (with port) and, optionally, a scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    scheme: Option<String>,
    host: String,
}

/// The checks of one admin server.
#[derive(Debug, Clone)]
pub struct Checks {
    enforce_host: bool,
    enforce_origin: bool,
    allowed: Vec<Allowed>,
    /// The remote endpoint: its client certificates authenticate, so
    /// Host and Origin are not checked (as Caddy's).
    remote: bool,
}

/// Splits `scheme://host[:port][/…]` (or a bare `host[:port]`).
fn parse_origin(s: &str) -> Allowed {
    let (scheme, rest) = match s.split_once("://") {
        Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
        None => (None, s),
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    Allowed {
        scheme,
        host: host.to_ascii_lowercase(),
    }
}

fn join(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn is_loopback(addr: &ListenAddr) -> bool {
    addr.network == Network::Unix
        || addr.host.eq_ignore_ascii_case("localhost")
        || addr.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Checks {
    /// The checks for a server listening on `addr` (bound at `local`).
    pub fn new(addr: &ListenAddr, local: Option<SocketAddr>, cfg: Option<&AdminConfig>) -> Self {
        let port = local.map_or(addr.port, |l| l.port());
        let mut origins: Vec<String> = cfg.map(|c| c.origins.clone()).unwrap_or_default();
        if origins.is_empty() {
            let unix = addr.network == Network::Unix;
            if is_loopback(addr) && unix {
                origins.extend(["", "127.0.0.1", "::1"].map(String::from));
            } else if is_loopback(addr) {
                origins.extend(["localhost", "::1", "127.0.0.1"].map(|h| join(h, port)));
            }
            if !unix {
                origins.push(join(&addr.host, port));
            }
        }
        let mut allowed: Vec<Allowed> = Vec::new();
        for o in origins.iter().map(|o| parse_origin(o)) {
            if !allowed.contains(&o) {
                allowed.push(o);
            }
        }
        let wildcard = addr.network != Network::Unix
            && (addr.host.is_empty()
                || addr
                    .host
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_unspecified()));
        Checks {
            enforce_host: !wildcard,
            enforce_origin: cfg.is_some_and(|c| c.enforce_origin),
            allowed,
            remote: false,
        }
    }

    /// The checks of the remote (mutual TLS) endpoint.
    pub fn remote() -> Self {
        Checks {
            enforce_host: false,
            enforce_origin: false,
            allowed: Vec::new(),
            remote: true,
        }
    }

    /// Checks a request; on success, returns the validated `Origin` (for
    /// `Access-Control-Allow-Origin`), if any.
    pub fn check(&self, parts: &http::request::Parts) -> Result<Option<String>, ApiError> {
        let h = &parts.headers;
        let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
        let refuse = |m: &str| Err(ApiError::bad_request(m));
        let forbid = |m: String| Err(ApiError::new(StatusCode::FORBIDDEN, m));
        if text(UPGRADE.as_str()).is_some_and(|u| u.to_ascii_lowercase().contains("websocket")) {
            return refuse("websocket connections aren't allowed");
        }
        if text(ORIGIN.as_str()).is_some_and(|o| o.trim() == "null") {
            return refuse("requests with 'Origin: null' aren't allowed");
        }
        if text("sec-fetch-mode").is_some_and(|m| m.eq_ignore_ascii_case("no-cors")) {
            return refuse("no-cors requests aren't allowed");
        }
        if self.remote {
            return Ok(None);
        }
        if self.enforce_host {
            let host = text(HOST.as_str())
                .map(str::to_string)
                .or_else(|| parts.uri.authority().map(|a| a.to_string()))
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !self.allowed.iter().any(|a| a.host == host) {
                return forbid(format!("host not allowed: {host}"));
            }
        }
        let origin = match (text(ORIGIN.as_str()), self.enforce_origin) {
            (Some(o), _) => Some(o),
            (None, true) => text(REFERER.as_str()),
            (None, false) => None,
        };
        let Some(origin) = origin else {
            if self.enforce_origin {
                return forbid("required Origin header is missing or invalid".into());
            }
            let site = text("sec-fetch-site").unwrap_or("").to_ascii_lowercase();
            if site == "cross-site" || site == "same-site" {
                return forbid(format!("{site} request without an allowed Origin"));
            }
            return Ok(None);
        };
        let o = parse_origin(origin);
        let ok = self
            .allowed
            .iter()
            .any(|a| a.host == o.host && (a.scheme.is_none() || a.scheme == o.scheme));
        if !ok {
            return forbid(format!(
                "client is not allowed to access from origin '{origin}'"
            ));
        }
        Ok(Some(match &o.scheme {
            Some(s) => format!("{s}://{}", o.host),
            None => o.host,
        }))
    }
}

/// Headers whose values never reach the logs.
pub fn is_sensitive(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "x-api-key"
    )
}

/// The request headers as logged: sensitive values redacted.
pub fn loggable_headers(h: &http::HeaderMap) -> String {
    let mut out = String::new();
    for (name, value) in h {
        let v = if is_sensitive(name) {
            "REDACTED"
        } else {
            value.to_str().unwrap_or("(binary)")
        };
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(name.as_str());
        out.push_str(": ");
        out.push_str(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().uri("/config/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn loopback(port: u16) -> Checks {
        let addr = crate::listeners::address::parse("127.0.0.1:0")
            .unwrap()
            .remove(0);
        Checks::new(&addr, Some(SocketAddr::from(([127, 0, 0, 1], port))), None)
    }

    #[test]
    fn host_must_match_the_bound_port() {
        let c = loopback(4000);
        assert!(c.check(&parts(&[("host", "localhost:4000")])).is_ok());
        assert!(c.check(&parts(&[("host", "[::1]:4000")])).is_ok());
        let e = c
            .check(&parts(&[("host", "evil.example:4000")]))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn browsers_are_refused() {
        let c = loopback(4000);
        let h = ("host", "127.0.0.1:4000");
        let e = c.check(&parts(&[h, ("origin", "null")])).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = c
            .check(&parts(&[h, ("origin", "http://evil.example")]))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        let ok = c.check(&parts(&[h, ("origin", "http://127.0.0.1:4000")]));
        assert_eq!(ok.unwrap().as_deref(), Some("http://127.0.0.1:4000"));
        let e = c
            .check(&parts(&[h, ("sec-fetch-site", "cross-site")]))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn sensitive_headers_are_redacted() {
        let p = parts(&[("authorization", "Bearer s3cret"), ("x-ok", "fine")]);
        let logged = loggable_headers(&p.headers);
        assert!(!logged.contains("s3cret"), "{logged}");
        assert!(logged.contains("x-ok: fine"), "{logged}");
    }
}
