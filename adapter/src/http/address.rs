//! Site addresses: `[scheme://]host[:port][/path]` as Caddy parses them
//! (`ParseAddress`, `Normalize`), Go's `net.SplitHostPort` rules included,
//! and the listener address a key implies.

use crate::error::Error;
use std::net::IpAddr;

/// A parsed site address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Address {
    pub original: String,
    pub scheme: String,
    pub host: String,
    pub port: String,
    pub path: String,
}

impl Address {
    /// Parses a site block key (Caddy's `ParseAddress`).
    pub fn parse(s: &str) -> Result<Self, Error> {
        let remaining = s.trim();
        let mut a = Address {
            original: remaining.to_string(),
            ..Self::default()
        };
        let rest = match remaining.split_once("://") {
            Some((scheme, rest)) => {
                a.scheme = scheme.to_string();
                rest
            }
            None => remaining,
        };
        let (hostport, path) = match rest.split_once('/') {
            Some((hp, p)) => (hp, Some(p)),
            None => (rest, None),
        };
        match split_host_port(hostport).or_else(|_| split_host_port(&format!("{hostport}:"))) {
            Ok((h, p)) => {
                a.host = h;
                a.port = p;
            }
            Err(_) => a.host = hostport.to_string(),
        }
        if let Some(p) = path {
            a.path = format!("/{p}");
        }
        if !a.port.is_empty() {
            check_port(&a.port)?;
        }
        Ok(a)
    }

    /// Lower-cases scheme and host (placeholders kept) and canonicalizes
    /// IPv6 hosts (Caddy's `Normalize`).
    pub fn normalize(mut self) -> Self {
        let host = self.host.trim().to_string();
        let host = match host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) if ip.to_ipv4_mapped().is_none() => ip.to_string(),
            _ => host,
        };
        self.scheme = lower_except_placeholders(&self.scheme);
        self.host = lower_except_placeholders(&host);
        self
    }

    /// The address as a string, as Caddy's `Address.String()` writes it.
    pub fn to_display(&self) -> String {
        if self.host.is_empty() && self.port.is_empty() {
            return String::new();
        }
        let scheme = if self.scheme.is_empty() {
            if self.port == "443" {
                "https"
            } else {
                "http"
            }
        } else {
            self.scheme.as_str()
        };
        let mut s = String::new();
        if !scheme.is_empty() {
            s.push_str(scheme);
            s.push_str("://");
        }
        s.push_str(&join_host_port(&self.host, &self.port, scheme));
        s.push_str(&self.path);
        s
    }
}

fn join_host_port(host: &str, port: &str, scheme: &str) -> String {
    let default = (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
    if port.is_empty() || default {
        return host.to_string();
    }
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn check_port(port: &str) -> Result<(), Error> {
    match port.parse::<i64>() {
        Ok(n) if !(0..=65535).contains(&n) => {
            Err(Error::plain(format!("port {n} is out of range")))
        }
        Ok(_) => Ok(()),
        Err(_) => Err(Error::plain(format!(
            "invalid port '{port}': strconv.Atoi: parsing \"{port}\": invalid syntax"
        ))),
    }
}

/// Lower-cases text outside `{…}` placeholders.
pub fn lower_except_placeholders(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `net.SplitHostPort`.
pub fn split_host_port(hp: &str) -> Result<(String, String), &'static str> {
    let i = hp.rfind(':').ok_or("missing port in address")?;
    let (host, j, k);
    if hp.starts_with('[') {
        let end = hp.find(']').ok_or("missing ']' in address")?;
        if end + 1 == hp.len() {
            return Err("missing port in address");
        } else if end + 1 != i {
            return Err(if hp.as_bytes()[end + 1] == b':' {
                "too many colons in address"
            } else {
                "missing port in address"
            });
        }
        host = &hp[1..end];
        j = 1;
        k = end + 1;
    } else {
        host = &hp[..i];
        if host.contains(':') {
            return Err("too many colons in address");
        }
        j = 0;
        k = 0;
    }
    if hp[j..].contains('[') {
        return Err("unexpected '[' in address");
    }
    if hp[k..].contains(']') {
        return Err("unexpected ']' in address");
    }
    Ok((host.to_string(), hp[i + 1..].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Address {
        Address::parse(s).unwrap().normalize()
    }

    #[test]
    fn forms() {
        let a = p("https://Example.COM:8443/foo");
        assert_eq!(
            (
                a.scheme.as_str(),
                a.host.as_str(),
                a.port.as_str(),
                a.path.as_str()
            ),
            ("https", "example.com", "8443", "/foo")
        );
        assert_eq!(p(":80").port, "80");
        assert_eq!(p("[::1]:2015").host, "::1");
        assert_eq!(p("[::1]").host, "::1");
        assert_eq!(p("*.example.com").host, "*.example.com");
        assert_eq!(p("localhost").port, "");
        assert_eq!(p("http://").scheme, "http");
    }

    #[test]
    fn port_errors() {
        let e = Address::parse(":70000").unwrap_err();
        assert!(e.message.contains("port 70000 is out of range"));
        let e = Address::parse("example.com:-1").unwrap_err();
        assert!(e.message.contains("port -1 is out of range"));
    }
}
