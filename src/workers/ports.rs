//! The supervisor's side of port ownership: which addresses a config
//! listens on (after automatic HTTPS has added its own), whether they can
//! be shared by workers at all, and the exclusive probe that tells
//! whether another process owns one.
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

/// The addresses `config` listens on, checked for sharing by workers; an
/// error is the reason the config cannot be served by workers (decoding
/// and provisioning errors included, prefixed `loading config:`).
pub fn addresses(config: &Config) -> Result<Vec<ListenAddr>, String> {
    let instance = Instance::provision(config, &Registry::standard(), None)
        .map_err(|e| format!("loading config: {e}"))?;
    let mut out: Vec<ListenAddr> = Vec::new();
    for server in &instance.servers {
        for addr in &server.listen {
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
            if !out.iter().any(|a| a.key() == key) {
                out.push(addr.clone());
            }
        }
    }
    Ok(out)
}

/// Fails when another process owns `addr` (see the module docs).
pub fn probe(addr: &ListenAddr) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("listen {}: {e}", addr.key());
    let sa = resolve(addr).map_err(fail)?;
    let sock =
        Socket::new(Domain::for_address(sa), Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
    sock.set_reuse_address(true).map_err(fail)?;
    if sa.is_ipv6() {
        sock.set_only_v6(addr.network == Network::Tcp6 || !addr.host.is_empty())
            .map_err(fail)?;
    }
    sock.bind(&sa.into()).map_err(|e| match e.kind() {
        // Name the owner, as a bind of the listener pool does.
        std::io::ErrorKind::AddrInUse => format!(
            "listen tcp {sa}: {}",
            owner::in_use_message(owner::Proto::Tcp, sa)
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

    fn addr(port: u16) -> ListenAddr {
        bellhop_runtime::listeners::address::parse(&format!("127.0.0.1:{port}"))
            .unwrap()
            .remove(0)
    }

    #[test]
    fn probe_sees_a_listener_of_another_socket_and_reuseport_groups() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let err = probe(&addr(port)).unwrap_err();
        assert!(err.contains("address already in use by pid"), "{err}");
        drop(l);
        probe(&addr(port)).unwrap();
        // A SO_REUSEPORT listener does not let the probe in either.
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&SocketAddr::from(([127, 0, 0, 1], port)).into())
            .unwrap();
        s.listen(16).unwrap();
        assert!(probe(&addr(port)).is_err());
    }
}
