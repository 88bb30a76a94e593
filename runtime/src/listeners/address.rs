//! Listen addresses as Caddy writes them: `[network/]host:port[-port]`.
//!
//! `:8080` (every interface), `127.0.0.1:8080`, `[::1]:80`,
//! `localhost:8000-8002` (a port range: one socket per port),
//! `tcp4/0.0.0.0:80`, `tcp6/[::]:80`, `unix//run/bellhop.sock` and
//! `unix//path|0660` (socket file mode). UDP and socket activation (`fd/N`)
//! are served by later parts of bellhop and rejected here with a clear error.

use crate::error::Error;

/// The transport of a listen address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    Tcp,
    Tcp4,
    Tcp6,
    Unix,
}

impl Network {
    fn name(self) -> &'static str {
        match self {
            Network::Tcp => "tcp",
            Network::Tcp4 => "tcp4",
            Network::Tcp6 => "tcp6",
            Network::Unix => "unix",
        }
    }
}

/// One socket to listen on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListenAddr {
    pub network: Network,
    /// Host (empty: every interface) or, for unix sockets, the path.
    pub host: String,
    pub port: u16,
    /// File mode of a unix socket (`|0660`).
    pub mode: Option<u32>,
}

impl ListenAddr {
    /// The pool key: `tcp/127.0.0.1:80`, `unix//path`.
    pub fn key(&self) -> String {
        match self.network {
            Network::Unix => format!("unix/{}", self.host),
            n if self.host.contains(':') => format!("{}/[{}]:{}", n.name(), self.host, self.port),
            n => format!("{}/{}:{}", n.name(), self.host, self.port),
        }
    }
}

/// Parses one listen address into the sockets it stands for.
pub fn parse(addr: &str) -> Result<Vec<ListenAddr>, Error> {
    let bad = |m: &str| Error::Listen {
        address: addr.to_string(),
        message: m.to_string(),
    };
    let (network, rest) = match addr.split_once('/') {
        Some((n, rest)) if !n.contains(':') && !n.is_empty() => {
            (n.trim().to_ascii_lowercase(), rest)
        }
        _ => ("tcp".to_string(), addr),
    };
    let network = match network.as_str() {
        "tcp" => Network::Tcp,
        "tcp4" => Network::Tcp4,
        "tcp6" => Network::Tcp6,
        "unix" => Network::Unix,
        other => {
            return Err(bad(&format!(
                "network {other:?} is not supported by bellhop's HTTP server"
            )))
        }
    };
    if network == Network::Unix {
        let (path, mode) = match rest.rsplit_once('|') {
            Some((p, m)) => (
                p,
                Some(u32::from_str_radix(m, 8).map_err(|_| bad("invalid unix socket file mode"))?),
            ),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(bad("missing unix socket path"));
        }
        return Ok(vec![ListenAddr {
            network,
            host: path.to_string(),
            port: 0,
            mode,
        }]);
    }
    let (host, ports) = split_host_port(rest).ok_or_else(|| bad("missing port in address"))?;
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (parse_port(a, addr)?, parse_port(b, addr)?),
        None => {
            let p = parse_port(ports, addr)?;
            (p, p)
        }
    };
    if end < start {
        return Err(bad("end port is before start port"));
    }
    Ok((start..=end)
        .map(|port| ListenAddr {
            network,
            host: host.to_string(),
            port,
            mode: None,
        })
        .collect())
}

fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')?));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') {
        return None;
    }
    Some((host, port))
}

fn parse_port(p: &str, addr: &str) -> Result<u16, Error> {
    p.trim().parse().map_err(|_| Error::Listen {
        address: addr.to_string(),
        message: format!("invalid port {p:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caddy_address_forms() {
        let a = parse(":8080").unwrap();
        assert_eq!(
            (a[0].host.as_str(), a[0].port, a[0].network),
            ("", 8080, Network::Tcp)
        );
        let a = parse("[::1]:80").unwrap();
        assert_eq!(a[0].key(), "tcp/[::1]:80");
        assert_eq!(parse("localhost:8000-8002").unwrap().len(), 3);
        assert_eq!(parse("tcp4/0.0.0.0:80").unwrap()[0].network, Network::Tcp4);
        let u = parse("unix//tmp/x.sock|0600").unwrap();
        assert_eq!(
            (u[0].host.as_str(), u[0].mode),
            ("/tmp/x.sock", Some(0o600))
        );
        assert!(parse("localhost").is_err());
        assert!(parse("udp/:443").is_err());
        assert!(parse(":99999").is_err());
    }
}
