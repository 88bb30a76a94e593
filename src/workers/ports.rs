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
//! The probe (`listeners::probe`) binds the address as our listeners do
//! (`SO_REUSEADDR`, the same dual-stack rule) but without `SO_REUSEPORT`,
//! and closes it at once. Linux then refuses the bind when any other socket listens there,
//! including a `SO_REUSEPORT` group of another process (joining one needs
//! `SO_REUSEPORT` on every member), while `TIME_WAIT` leftovers of an
//! earlier run do not count. Why it is released rather than held, see the
//! parent module.

use bellhop_runtime::config::Config;
use bellhop_runtime::instance::Instance;
use bellhop_runtime::listeners::{self, ListenAddr, Network};
use bellhop_runtime::registry::Registry;

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
            true => listeners::udp_key(&self.addr),
            false => self.addr.key(),
        }
    }
}

/// The ports `config` listens on, checked for sharing by workers, and its
/// session ticket key rotation (which the supervisor applies to the keys
/// it hands out once the config is live); an error is the reason the
/// config cannot be served by workers (decoding and provisioning errors
/// included, prefixed `loading config:`).
pub fn addresses(
    config: &Config,
) -> Result<(Vec<Port>, Option<bellhop_runtime::tls::tickets::Rotation>), String> {
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
    Ok((out, instance.ticket_rotation()))
}

/// Fails when another process owns `port` (see the module docs): the
/// listener pool's own probe, so the bind rules and the error naming the
/// owner are the pool's.
pub fn probe(port: &Port) -> Result<(), String> {
    listeners::probe(&port.addr, port.udp).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Socket, Type};
    use std::net::SocketAddr;

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
