//! `caddy.logging.writers.net`: log lines sent to a TCP, UDP or unix
//! socket address, as Caddy's `NetWriter` does it: dialed when the config
//! loads (a failure fails the load, unless `soft_start`, which reports it
//! and starts anyway), written through the writer's own thread, redialed
//! at most every 10 s after a write fails, and a line that cannot be sent
//! goes to standard error instead of being lost.

use crate::config::CaddyDuration;
use crate::error::Error;
use serde::Deserialize;
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long after a failed write the next dial may be tried.
const REDIAL_EVERY: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NetConfig {
    #[allow(dead_code)]
    output: String,
    address: String,
    dial_timeout: Option<CaddyDuration>,
    #[serde(default)]
    soft_start: bool,
}

#[derive(Debug, Clone)]
enum Target {
    Tcp(String),
    Udp(String),
    Unix(PathBuf),
}

enum Conn {
    Tcp(TcpStream),
    Udp(UdpSocket),
    Unix(UnixStream),
}

/// A connected (or, after `soft_start`, still unconnected) net writer.
pub(super) struct Net {
    target: Target,
    timeout: Option<Duration>,
    conn: Option<Conn>,
    last_dial: Instant,
}

impl Net {
    /// Parses and dials the writer at `path`.
    pub(super) fn open(v: &serde_json::Value, path: &str) -> Result<Net, Error> {
        let c: NetConfig = crate::config::decode(v, path)?;
        let apath = format!("{path}.address");
        let address = crate::listeners::address::expand_env(&c.address)?;
        let target = target(&address).map_err(|e| Error::config(&apath, e))?;
        let timeout = c.dial_timeout.map(|d| d.0).filter(|d| !d.is_zero());
        let mut net = Net {
            target,
            timeout,
            conn: None,
            last_dial: Instant::now(),
        };
        match net.dial() {
            Ok(conn) => net.conn = Some(conn),
            Err(e) if c.soft_start => eprintln!(
                "[ERROR] net log writer failed to connect: {e} (will retry connection and print errors here in the meantime)"
            ),
            Err(e) => return Err(Error::config(apath, format!("dialing {address}: {e}"))),
        }
        Ok(net)
    }

    fn dial(&self) -> io::Result<Conn> {
        match &self.target {
            Target::Tcp(a) => {
                let addr = a
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| io::Error::other(format!("{a}: no address")))?;
                let s = match self.timeout {
                    Some(t) => TcpStream::connect_timeout(&addr, t)?,
                    None => TcpStream::connect(addr)?,
                };
                Ok(Conn::Tcp(s))
            }
            Target::Udp(a) => {
                let addr = a
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| io::Error::other(format!("{a}: no address")))?;
                let local = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let s = UdpSocket::bind(local)?;
                s.connect(addr)?;
                Ok(Conn::Udp(s))
            }
            Target::Unix(p) => Ok(Conn::Unix(UnixStream::connect(p)?)),
        }
    }

    fn send(&mut self, b: &[u8]) -> io::Result<()> {
        match self.conn.as_mut() {
            Some(Conn::Tcp(s)) => s.write_all(b),
            Some(Conn::Unix(s)) => s.write_all(b),
            Some(Conn::Udp(s)) => s.send(b).map(drop),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }
}

impl Write for Net {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.send(b).is_ok() {
            return Ok(b.len());
        }
        if self.last_dial.elapsed() >= REDIAL_EVERY {
            self.last_dial = Instant::now();
            if let Ok(conn) = self.dial() {
                self.conn = Some(conn);
                if self.send(b).is_ok() {
                    return Ok(b.len());
                }
            }
        }
        // not lost: standard error has it
        let _ = io::stderr().write_all(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl super::Output for Net {}

/// A dial target from Caddy's network address syntax: `[tcp|tcp4|tcp6|
/// udp|udp4|udp6/]host:port` or `unix//path`; one port only.
fn target(address: &str) -> Result<Target, String> {
    let (network, rest) = match address.split_once('/') {
        Some((n, r))
            if matches!(
                n,
                "tcp" | "tcp4" | "tcp6" | "udp" | "udp4" | "udp6" | "unix"
            ) =>
        {
            (n, r)
        }
        _ => ("tcp", address),
    };
    if network == "unix" {
        return Ok(Target::Unix(PathBuf::from(rest)));
    }
    let port = rest.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
    if port.parse::<u16>().is_err() {
        return Err(match port.contains('-') {
            true => "multiple ports not supported".into(),
            false => format!("parsing network address '{address}': missing or bad port"),
        });
    }
    Ok(match network.starts_with("udp") {
        true => Target::Udp(rest.to_string()),
        false => Target::Tcp(rest.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::{target, Target};

    #[test]
    fn addresses() {
        assert!(matches!(target("localhost:9999"), Ok(Target::Tcp(a)) if a == "localhost:9999"));
        assert!(matches!(target("udp/127.0.0.1:514"), Ok(Target::Udp(a)) if a == "127.0.0.1:514"));
        assert!(
            matches!(target("unix//run/log.sock"), Ok(Target::Unix(p)) if p.to_str() == Some("/run/log.sock"))
        );
        assert!(target("tcp/127.0.0.1:1-3")
            .unwrap_err()
            .contains("multiple ports"));
        assert!(target("127.0.0.1").is_err());
    }
}
