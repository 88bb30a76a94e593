//! Who owns a port: after a bind fails with `EADDRINUSE`, the socket in
//! `/proc/net/{tcp,tcp6,udp,udp6}` that holds the address (a TCP socket in
//! LISTEN state, or a bound UDP socket) gives an inode, and the process
//! with a `/proc/PID/fd` link `socket:[INODE]` is the owner; its program
//! name comes from `/proc/PID/comm`. Never its command line: arguments
//! can hold secrets, and the message reaches logs and the admin API.
//!
//! Another user's processes hide their descriptors, so the owner may stay
//! unknown; the message then says so instead of guessing.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// The transport of a conflicting address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// `tcp` or `udp`, as in the error message.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// The holder of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A process we can see: its PID and program name (empty when
    /// unreadable).
    Process { pid: u32, comm: String },
    /// A process we cannot see (another user's, or gone meanwhile).
    Hidden,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Process { pid, comm } if comm.is_empty() => write!(f, "pid {pid}"),
            Owner::Process { pid, comm } => write!(f, "pid {pid} ({comm})"),
            Owner::Hidden => f.write_str("another process (owner not visible)"),
        }
    }
}

/// The message for a bind of `addr` that failed with `EADDRINUSE`:
/// `address already in use by pid 4242 (caddy); stop it or pick another
/// port`.
pub fn in_use_message(proto: Proto, addr: SocketAddr) -> String {
    format!(
        "address already in use by {}; stop it or pick another port",
        find(proto, addr)
    )
}

/// Finds the owner of `addr` (see the module docs).
pub fn find(proto: Proto, addr: SocketAddr) -> Owner {
    let tables: [&str; 2] = match proto {
        Proto::Tcp => ["/proc/net/tcp", "/proc/net/tcp6"],
        Proto::Udp => ["/proc/net/udp", "/proc/net/udp6"],
    };
    let mut inodes = Vec::new();
    for table in tables {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        inodes.extend(holders(&text, proto, addr));
    }
    // Exact address matches first, then wildcard overlaps.
    inodes.sort_by_key(|(exact, _)| !exact);
    for (_, inode) in inodes {
        if let Some(pid) = pid_of_inode(Path::new("/proc"), inode) {
            return Owner::Process {
                pid,
                comm: comm(Path::new("/proc"), pid),
            };
        }
    }
    Owner::Hidden
}

/// One socket of a `/proc/net` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub local: SocketAddr,
    /// The kernel's state code (`0A` is TCP LISTEN).
    pub state: u8,
    pub inode: u64,
}

/// Parses the rows of a `/proc/net/{tcp,tcp6,udp,udp6}` table; malformed
/// rows are skipped.
pub fn parse_table(text: &str) -> Vec<Entry> {
    text.lines().skip(1).filter_map(parse_row).collect()
}

fn parse_row(line: &str) -> Option<Entry> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = parse_hex_addr(fields.get(1)?)?;
    let state = u8::from_str_radix(fields.get(3)?, 16).ok()?;
    let inode = fields.get(9)?.parse().ok()?;
    Some(Entry {
        local,
        state,
        inode,
    })
}

/// `0100007F:1F90` → `127.0.0.1:8080`. Each 32-bit word of the address is
/// printed as the kernel holds it in memory, so native byte order decodes
/// it; the port is printed in host order.
fn parse_hex_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = ip.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(w, 16).ok()?.to_ne_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Inodes of the sockets in `table` that hold `addr`, each flagged when
/// the address matches exactly (not through a wildcard).
fn holders(table: &str, proto: Proto, addr: SocketAddr) -> Vec<(bool, u64)> {
    const TCP_LISTEN: u8 = 0x0A;
    parse_table(table)
        .into_iter()
        .filter(|e| e.inode != 0 && e.local.port() == addr.port())
        .filter(|e| proto == Proto::Udp || e.state == TCP_LISTEN)
        .filter_map(|e| overlap(e.local.ip(), addr.ip()).map(|exact| (exact, e.inode)))
        .collect()
}

/// Whether two bound IPs collide: `Some(true)` when equal, `Some(false)`
/// through a wildcard, `None` when they do not.
fn overlap(a: IpAddr, b: IpAddr) -> Option<bool> {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let (a, b) = (canon(a), canon(b));
    if a == b {
        Some(true)
    } else if a.is_unspecified() || b.is_unspecified() {
        Some(false)
    } else {
        None
    }
}

/// The PID whose descriptor table (under `proc`) holds `socket:[inode]`.
pub fn pid_of_inode(proc: &Path, inode: u64) -> Option<u32> {
    let target = format!("socket:[{inode}]");
    let mut pids: Vec<u32> = std::fs::read_dir(proc)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find(|pid| {
        let Ok(fds) = std::fs::read_dir(proc.join(pid.to_string()).join("fd")) else {
            return false;
        };
        fds.filter_map(Result::ok)
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()))
    })
}

/// `/proc/PID/comm` (the kernel's name of the program, at most 15
/// bytes), control characters as spaces; "" when unreadable.
pub fn comm(proc: &Path, pid: u32) -> String {
    let raw = std::fs::read(proc.join(pid.to_string()).join("comm")).unwrap_or_default();
    String::from_utf8_lossy(&raw)
        .trim_end_matches(['\n', '\0'])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
#[path = "owner_tests.rs"]
mod tests;
