//! The supervisor's side of port ownership: which addresses a config
//! listens on (after automatic HTTPS has added its own), whether they can
//! be shared by workers at all, and the exclusive probe that tells
//! whether another process owns one.
//!
//! A server that serves HTTP/3 on an address has its workers bind the UDP
//! port beside it too, so that port is probed as well (UDP, as the pool
//! binds it: no `SO_REUSEADDR`, which on UDP would let two sockets share
//! the port).
//!
//! The probe binds the address as our listeners do (`SO_REUSEADDR`, the
//! same dual-stack rule) but without `SO_REUSEPORT`, and closes it at
//! once. Linux then refuses the bind when any other socket listens there,
//! including a `SO_REUSEPORT` group of another process (joining one needs
//! `SO_REUSEPORT` on every member), while `TIME_WAIT` leftovers of an
//! earlier run do not count. Why it is released rather than held, see the
//! parent module.

use bellhop_runtime::config::Config;
use bellhop_runtime::instance::Instance;
use bellhop_runtime::listeners::{owner, ListenAddr, Network};
use bellhop_runtime::registry::Registry;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// One port the workers bind: a TCP address, or the UDP socket of the
/// same host and port beside it (HTTP/3).
#[derive(Debug, Clone)]
pub struct Port {
    pub addr: ListenAddr,
    pub udp: bool,
}

impl Port {
    /// `tcp/127.0.0.1:443`, or `udp/127.0.0.1:443` for the UDP port (the
    /// listener pool's keys).
    pub fn key(&self) -> String {
        match self.udp {
            true => self.addr.key().replacen("tcp", "udp", 1),
            false => self.addr.key(),
        }
    }
}

/// The ports `config` listens on, checked for sharing by workers; an
/// error is the reason the config cannot be served by workers (decoding
/// and provisioning errors included, prefixed `loading config:`).
pub fn addresses(config: &Config) -> Result<Vec<Port>, String> {
    let instance = Instance::provision(config, &Registry::standard(), None)
        .map_err(|e| format!("loading config: {e}"))?;
    let mut out: Vec<Port> = Vec::new();
    for server in &instance.servers {
        for (j, addr) in server.listen.iter().enumerate() {
            let key = addr.key();
            if addr.network == Network::Unix {
                return Err(format!(
                    "loading config: listen {key}: unix sockets cannot be shared by workers; use a TCP address or --workers 1"
                ));
            }
            if addr.port == 0 {
                return Err(format!(
                    "loading config: listen {key}: port 0 gives every worker a port of its own; name a port or use --workers 1"
                ));
            }
            let h3 = server.quic.is_some() && server.listen_protocols[j].h3;
            let tcp = Port {
                addr: addr.clone(),
                udp: false,
            };
            let udp = h3.then(|| Port {
                addr: addr.clone(),
                udp: true,
            });
            for port in std::iter::once(tcp).chain(udp) {
                if !out.iter().any(|p| p.key() == port.key()) {
                    out.push(port);
                }
            }
        }
    }
    Ok(out)
}

/// Fails when another process owns `port` (see the module docs).
pub fn probe(port: &Port) -> Result<(), String> {
    let addr = &port.addr;
    let fail = |e: std::io::Error| format!("listen {}: {e}", port.key());
    let sa = resolve(addr).map_err(fail)?;
    let (ty, proto, owner) = match port.udp {
        true => (Type::DGRAM, Protocol::UDP, owner::Proto::Udp),
        false => (Type::STREAM, Protocol::TCP, owner::Proto::Tcp),
    };
    let sock = Socket::new(Domain::for_address(sa), ty, Some(proto)).map_err(fail)?;
    if !port.udp {
        sock.set_reuse_address(true).map_err(fail)?;
    }
    if sa.is_ipv6() {
        let only_v6 = match port.udp {
            true => !sa.ip().is_unspecified(),
            false => addr.network == Network::Tcp6 || !addr.host.is_empty(),
        };
        sock.set_only_v6(only_v6).map_err(fail)?;
    }
    sock.bind(&sa.into()).map_err(|e| match e.kind() {
        // Name the owner, as a bind of the listener pool does.
        std::io::ErrorKind::AddrInUse => format!(
            "listen {} {sa}: {}",
            owner.name(),
            owner::in_use_message(owner, sa)
        ),
        _ => fail(e),
    })
}

/// The socket address the listener pool binds for `addr`.
fn resolve(addr: &ListenAddr) -> std::io::Result<SocketAddr> {
    if addr.host.is_empty() {
        let v6 = Socket::new(Domain::IPV6, Type::STREAM, None).is_ok();
        let ip = match addr.network {
            Network::Tcp4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Network::Tcp6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            _ if v6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        return Ok(SocketAddr::new(ip, addr.port));
    }
    (addr.host.as_str(), addr.port)
        .to_socket_addrs()?
        .find(|a| match addr.network {
            Network::Tcp4 => a.is_ipv4(),
            Network::Tcp6 => a.is_ipv6(),
            _ => true,
        })
        .ok_or_else(|| std::io::Error::other("no address of the right family"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16, udp: bool) -> Port {
        let addr = bellhop_runtime::listeners::address::parse(&format!("127.0.0.1:{port}"))
            .unwrap()
            .remove(0);
        Port { addr, udp }
    }

    #[test]
    fn probe_sees_a_listener_of_another_socket_and_reuseport_groups() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let err = probe(&addr(port, false)).unwrap_err();
        assert!(err.contains("address already in use by pid"), "{err}");
        drop(l);
        probe(&addr(port, false)).unwrap();
        // A SO_REUSEPORT listener does not let the probe in either.
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&SocketAddr::from(([127, 0, 0, 1], port)).into())
            .unwrap();
        s.listen(16).unwrap();
        assert!(probe(&addr(port, false)).is_err());
    }

    #[test]
    fn probe_of_a_udp_port_sees_its_holder() {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        let err = probe(&addr(port, true)).unwrap_err();
        let want = format!("listen udp 127.0.0.1:{port}: address already in use by pid");
        assert!(err.starts_with(&want), "{err}");
        drop(u);
        probe(&addr(port, true)).unwrap();
        // A SO_REUSEPORT group of UDP sockets keeps it out as well.
        let s = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&SocketAddr::from(([127, 0, 0, 1], port)).into())
            .unwrap();
        assert!(probe(&addr(port, true)).is_err());
    }
}
