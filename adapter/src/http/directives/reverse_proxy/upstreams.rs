//! Upstream addresses and dynamic upstream sources of `reverse_proxy`:
//!
//! ```text
//! reverse_proxy [<matcher>] [<upstreams...>] {
//!     to <upstreams...>
//! }
//! ```
//!
//! An upstream is a network address (`host:port`, `unix//path`,
//! `unix+h2c//path`, a port range `host:8000-8002` expanding to one
//! upstream per port, placeholders) or a URL with only scheme, host and
//! port (`http`, `https`, `h2c`); a missing port follows from the scheme.
//! Dynamic sources (`dynamic …`) are in [`super::dynamic`].

/// A parsed upstream address (Caddy's `parsedAddr`).
#[derive(Debug, Default, PartialEq)]
pub struct ParsedAddr {
    pub network: String,
    pub scheme: String,
    pub host: String,
    pub port: String,
}

impl ParsedAddr {
    /// The dial address: `network/host:port`, `host:port`, or a lone
    /// placeholder host.
    pub fn dial(&self) -> String {
        if !self.network.is_empty() {
            return join_network(&self.network, &self.host, &self.port);
        }
        if self.port.is_empty() && self.host.contains('{') {
            return self.host.clone();
        }
        join_host_port(&self.host, &self.port)
    }

    fn replaceable_port(&self) -> bool {
        self.port.contains('{') && self.port.contains('}')
    }
}

/// Parses one upstream address (Caddy's `parseUpstreamDialAddress`).
pub fn parse_address(addr: &str) -> std::result::Result<ParsedAddr, String> {
    let mut p = if addr.contains("://") {
        parse_url(addr)?
    } else {
        let (network, host, port) = split_network_address(addr).unwrap_or_default();
        let host = if host.is_empty() && port.is_empty() {
            addr.to_string()
        } else {
            host
        };
        let port = if port.is_empty()
            && !host.contains('{')
            && !is_unix(&network)
            && !network.starts_with("fd")
        {
            "80".to_string()
        } else {
            port
        };
        ParsedAddr {
            network,
            scheme: String::new(),
            host,
            port,
        }
    };
    if p.network == "unix+h2c" {
        p.network = "unix".into();
        p.scheme = "h2c".into();
    }
    Ok(p)
}

fn parse_url(addr: &str) -> std::result::Result<ParsedAddr, String> {
    if addr.contains('{') {
        return Err("due to parsing difficulties, placeholders are not allowed when an upstream address contains a scheme".into());
    }
    let (scheme, rest) = addr.split_once("://").unwrap_or_default();
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if authority_end < rest.len() {
        return Err(
            "for now, URLs for proxy upstreams only support scheme, host, and port components"
                .into(),
        );
    }
    let authority = rest.rsplit_once('@').map_or(rest, |(_, a)| a);
    let (host, mut port) = split_url_host(authority);
    if !port.is_empty() && !port.bytes().all(|b| b.is_ascii_digit()) {
        if !port.contains('-') {
            return Err(format!(
                "parsing upstream URL: parse \"{addr}\": invalid port \":{port}\" after host"
            ));
        }
        if port.matches('-').count() != 1 {
            return Err(format!(
                "parsing upstream URL: parse \"{addr}\": port range invalid: {port}"
            ));
        }
    }
    let conflict = match (scheme, port.as_str()) {
        ("http", "443") => Some("(http://) and port (:443, the HTTPS port)"),
        ("https", "80") => Some("(https://) and port (:80, the HTTP port)"),
        ("h2c", "443") => Some("(h2c://) and port (:443, the HTTPS port)"),
        _ => None,
    };
    if let Some(c) = conflict {
        return Err(format!("upstream address has conflicting scheme {c}"));
    }
    if port.is_empty() {
        port = match scheme {
            "" | "http" | "h2c" => "80".into(),
            "https" => "443".into(),
            _ => String::new(),
        };
    }
    Ok(ParsedAddr {
        network: String::new(),
        scheme: scheme.to_ascii_lowercase(),
        host,
        port,
    })
}

/// `host[:port]` or `[v6][:port]` of a URL authority.
fn split_url_host(authority: &str) -> (String, String) {
    if let Some(rest) = authority.strip_prefix('[') {
        if let Some((h, after)) = rest.split_once(']') {
            return (h.to_string(), after.trim_start_matches(':').to_string());
        }
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (authority.to_string(), String::new()),
    }
}

/// Caddy's `SplitNetworkAddress`: `network/host:port`; `None` when the
/// host and port cannot be split.
pub fn split_network_address(a: &str) -> Option<(String, String, String)> {
    let (network, rest) = match a.split_once('/') {
        Some((n, r)) => (n.trim().to_ascii_lowercase(), r),
        None => (String::new(), a),
    };
    if is_unix(&network) || network.starts_with("fd") {
        return Some((network, rest.to_string(), String::new()));
    }
    if let Some((h, p)) = split_host_port(rest) {
        return Some((network, h, p));
    }
    let bare = rest.trim_matches(|c| c == '[' || c == ']');
    let host = if bare.contains(['[', ']']) {
        return None;
    } else {
        bare.to_string()
    };
    Some((network, host, String::new()))
}

/// Go's `net.SplitHostPort` (`None` where it errors).
fn split_host_port(s: &str) -> Option<(String, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let p = after.strip_prefix(':')?;
        return Some((h.to_string(), p.to_string()));
    }
    let (h, p) = s.rsplit_once(':')?;
    if h.contains(':') {
        return None;
    }
    Some((h.to_string(), p.to_string()))
}

fn is_unix(network: &str) -> bool {
    network.starts_with("unix")
}

fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn join_network(network: &str, host: &str, port: &str) -> String {
    let mut a = String::new();
    if !network.is_empty() {
        a = format!("{network}/");
    }
    if (!host.is_empty() && port.is_empty()) || is_unix(network) || network.starts_with("fd") {
        a.push_str(host);
    } else if !port.is_empty() {
        a.push_str(&join_host_port(host, port));
    }
    a
}

/// The dial addresses an upstream stands for: one, or one per port of a
/// range (Caddy's `appendUpstream` after the scheme checks).
pub fn dials(p: &ParsedAddr) -> std::result::Result<Vec<String>, String> {
    let dial = p.dial();
    if p.replaceable_port() || is_unix(&p.network) || p.port.is_empty() {
        return Ok(vec![dial]);
    }
    let (start, end) = port_range(&p.port)?;
    if !p.port.contains('-') {
        return Ok(vec![dial]);
    }
    Ok((start..=end)
        .map(|i| join_host_port(&p.host, &i.to_string()))
        .collect())
}

fn port_range(port: &str) -> std::result::Result<(u32, u32), String> {
    let (before, after) = port.split_once('-').unwrap_or((port, port));
    let parse = |s: &str, which: &str| {
        s.parse::<u16>().map(u32::from).map_err(|_| {
            let why = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "value out of range"
            } else {
                "invalid syntax"
            };
            format!("invalid {which} port: strconv.ParseUint: parsing {s:?}: {why}")
        })
    };
    let start = parse(before, "start")?;
    let end = parse(after, "end")?;
    if end < start {
        return Err("end port must not be less than start port".into());
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dial(a: &str) -> Vec<String> {
        dials(&parse_address(a).unwrap()).unwrap()
    }

    #[test]
    fn addresses() {
        assert_eq!(dial("localhost"), ["localhost:80"]);
        assert_eq!(dial("https://example.com"), ["example.com:443"]);
        assert_eq!(dial("h2c://[::1]"), ["[::1]:80"]);
        assert_eq!(dial("unix//run/a.sock"), ["unix//run/a.sock"]);
        assert_eq!(dial("unix+h2c//run/a.sock"), ["unix//run/a.sock"]);
        assert_eq!(dial("{up}"), ["{up}"]);
        assert_eq!(dial("{up}:80"), ["{up}:80"]);
        assert_eq!(dial("app:{port}"), ["app:{port}"]);
        assert_eq!(dial("h:8000-8002"), ["h:8000", "h:8001", "h:8002"]);
        assert_eq!(dial("http://h:8000-8001"), ["h:8000", "h:8001"]);
        assert_eq!(dial("::1"), ["[::1]:80"]);
    }

    #[test]
    fn address_errors() {
        assert!(parse_address("http://h/path").is_err());
        assert!(parse_address("https://{x}").is_err());
        assert!(parse_address("http://h:443").is_err());
        let p = parse_address("h:9-1").unwrap();
        assert_eq!(
            dials(&p).unwrap_err(),
            "end port must not be less than start port"
        );
    }
}
