//! Listen addresses as Caddy writes them: `[network/]host:port[-port]`.
//!
//! `:8080` (every interface), `127.0.0.1:8080`, `[::1]:80`,
//! `localhost:8000-8002` (a port range: one socket per port),
//! `tcp4/0.0.0.0:80`, `tcp6/[::]:80`, `unix//run/bellhop.sock` and
//! `unix//path|0660` (socket file mode), and inherited sockets (socket
//! activation): `fd/3`, `fdgram/4`, and systemd's named descriptors
//! `fdname/http`, `fdgramname/h3` (`LISTEN_FDNAMES`). `{env.VAR}`
//! placeholders are replaced first, as Caddy does (an unset or empty
//! variable is an error). UDP addresses are served by later parts of
//! bellhop and rejected here with a clear error.

use crate::error::Error;

/// The transport of a listen address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    Tcp,
    Tcp4,
    Tcp6,
    Unix,
    /// An inherited stream socket by number (`fd/3`) or name (`fdname/x`).
    Fd,
    FdName,
    /// An inherited datagram socket (`fdgram/4`, `fdgramname/x`).
    FdGram,
    FdGramName,
}

impl Network {
    fn name(self) -> &'static str {
        match self {
            Network::Tcp => "tcp",
            Network::Tcp4 => "tcp4",
            Network::Tcp6 => "tcp6",
            Network::Unix => "unix",
            Network::Fd => "fd",
            Network::FdName => "fdname",
            Network::FdGram => "fdgram",
            Network::FdGramName => "fdgramname",
        }
    }

    /// Whether the socket is inherited rather than bound.
    pub fn is_inherited(self) -> bool {
        matches!(
            self,
            Network::Fd | Network::FdName | Network::FdGram | Network::FdGramName
        )
    }

    /// Whether the socket is a datagram (UDP) socket.
    pub fn is_datagram(self) -> bool {
        matches!(self, Network::FdGram | Network::FdGramName)
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
    /// The pool key: `tcp/127.0.0.1:80`, `unix//path`, `fd/3`.
    pub fn key(&self) -> String {
        match self.network {
            Network::Unix => format!("unix/{}", self.host),
            n if n.is_inherited() => format!("{}/{}", n.name(), self.host),
            n if self.host.contains(':') => format!("{}/[{}]:{}", n.name(), self.host, self.port),
            n => format!("{}/{}:{}", n.name(), self.host, self.port),
        }
    }
}

/// Parses one listen address into the sockets it stands for.
pub fn parse(addr: &str) -> Result<Vec<ListenAddr>, Error> {
    let expanded = expand_env(addr)?;
    let addr = expanded.as_str();
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
        "fd" => Network::Fd,
        "fdname" => Network::FdName,
        "fdgram" => Network::FdGram,
        "fdgramname" => Network::FdGramName,
        other => {
            return Err(bad(&format!(
                "network {other:?} is not supported by bellhop's HTTP server"
            )))
        }
    };
    if network.is_inherited() {
        return parse_inherited(network, rest.trim(), addr);
    }
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

/// `fd/3` (a descriptor number) or `fdname/http` (a name).
fn parse_inherited(network: Network, rest: &str, addr: &str) -> Result<Vec<ListenAddr>, Error> {
    let named = matches!(network, Network::FdName | Network::FdGramName);
    let ok = if named {
        !rest.is_empty() && !rest.contains(':')
    } else {
        rest.parse::<u32>().is_ok()
    };
    if !ok {
        return Err(Error::Listen {
            address: addr.to_string(),
            message: if named {
                "expected a socket name from LISTEN_FDNAMES".into()
            } else {
                format!("{rest:?} is not a file descriptor number")
            },
        });
    }
    Ok(vec![ListenAddr {
        network,
        host: rest.to_string(),
        port: 0,
        mode: None,
    }])
}

/// Replaces `{env.VAR}` placeholders (Caddy's listener addresses allow
/// them); an unset or empty variable is an error naming it.
pub fn expand_env(addr: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(addr.len());
    let mut rest = addr;
    while let Some(start) = rest.find("{env.") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 5..start + len];
        let value = std::env::var(name).unwrap_or_default();
        if value.is_empty() {
            return Err(Error::Listen {
                address: addr.to_string(),
                message: format!(
                    "placeholder {{env.{name}}} is empty (environment variable {name} is not set)"
                ),
            });
        }
        out.push_str(&rest[..start]);
        out.push_str(&value);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
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

    #[test]
    fn inherited_socket_forms() {
        let a = parse("fd/3").unwrap();
        assert_eq!(
            (a[0].network, a[0].key()),
            (Network::Fd, "fd/3".to_string())
        );
        let a = parse("fdgram/4").unwrap();
        assert!(a[0].network.is_datagram() && a[0].network.is_inherited());
        assert_eq!(parse("fdname/web").unwrap()[0].key(), "fdname/web");
        assert_eq!(
            parse("fdgramname/h3").unwrap()[0].network,
            Network::FdGramName
        );
        let e = parse("fd/three").unwrap_err().to_string();
        assert_eq!(
            e,
            "listen fd/three: \"three\" is not a file descriptor number"
        );
        assert!(parse("fd/").is_err());
        assert!(parse("fdname/").is_err());
    }

    #[test]
    fn env_placeholders_are_replaced_or_named_when_unset() {
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand_env("a{env.PATH}b").unwrap(), format!("a{path}b"));
        assert_eq!(expand_env("fd/3").unwrap(), "fd/3");
        let e = parse("fd/{env.BELLHOP_SURELY_UNSET_FD}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("environment variable BELLHOP_SURELY_UNSET_FD is not set"),
            "{e}"
        );
    }
}
