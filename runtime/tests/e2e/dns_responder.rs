//! A UDP DNS responder on loopback answering A 127.0.0.1 (or a chosen
//! address) for every name
//! (and no records for other types), for pebble's `-dnsserver`: the ACME
//! tests' names then resolve to the servers under test. Shared by the
//! runtime's ACME tests and the binary's fleet tests.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

/// Starts the responder; it runs until the process ends.
pub fn start_dns() -> SocketAddr {
    start_dns_answering(Ipv4Addr::LOCALHOST)
}

/// Starts a responder answering A `ip` for every name.
pub fn start_dns_answering(ip: Ipv4Addr) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            if let Some(reply) = dns_reply(&buf[..n], ip) {
                let _ = sock.send_to(&reply, peer);
            }
        }
    });
    addr
}

fn dns_reply(q: &[u8], ip: Ipv4Addr) -> Option<Vec<u8>> {
    // The question: labels up to the root label, then type and class.
    let mut i = 12;
    while *q.get(i)? != 0 {
        i += 1 + *q.get(i)? as usize;
    }
    let end = i + 5;
    let qtype = u16::from_be_bytes([*q.get(i + 1)?, *q.get(i + 2)?]);
    let answers = u16::from(qtype == 1);
    let mut r = q[..2].to_vec();
    r.extend([0x81, 0x80, 0, 1]);
    r.extend(answers.to_be_bytes());
    r.extend([0, 0, 0, 0]);
    r.extend(q.get(12..end)?);
    if answers == 1 {
        r.extend([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        r.extend(ip.octets());
    }
    Some(r)
}
