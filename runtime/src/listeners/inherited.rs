//! Inherited sockets (socket activation): the listen addresses `fd/N`,
//! `fdgram/N` and systemd's named `fdname/NAME`, `fdgramname/NAME`.
//!
//! [`record`] notes, at start-up, which descriptors from 3 up this process
//! inherited as sockets (with the inode each refers to) and, when
//! `LISTEN_PID` is ours, the names systemd gave `LISTEN_FDS` of them in
//! `LISTEN_FDNAMES`. Only a recorded descriptor that still refers to the
//! same socket may be used, so a typo can never pick up a socket bellhop
//! opened itself. Using one duplicates it: the inherited descriptor stays
//! open for the life of the process, so a config that drops `fd/3` and a
//! later one that names it again both work.

use super::{ListenAddr, Listener, Network};
use socket2::{Socket, Type};
use std::collections::BTreeMap;
use std::io::{Error, ErrorKind, Result};
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::sync::OnceLock;

/// What this process inherited.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Inherited {
    /// Descriptor → inode of the socket it referred to at start-up.
    pub fds: BTreeMap<RawFd, u64>,
    /// systemd's names (`LISTEN_FDNAMES`), in descriptor order.
    pub names: Vec<(String, RawFd)>,
}

static RECORD: OnceLock<Inherited> = OnceLock::new();

/// Records the inherited sockets. Call it first thing, before this process
/// opens sockets of its own; later calls return the first record.
pub fn record() -> &'static Inherited {
    RECORD.get_or_init(|| {
        let mut fds = BTreeMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            for entry in dir.filter_map(|e| e.ok()) {
                let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                    continue;
                };
                if let (true, Some(inode)) = (fd >= 3, socket_inode(fd)) {
                    fds.insert(fd, inode);
                }
            }
        }
        let env = |k: &str| std::env::var(k).ok();
        let names = match systemd_names(
            env("LISTEN_PID").as_deref(),
            env("LISTEN_FDS").as_deref(),
            env("LISTEN_FDNAMES").as_deref(),
            std::process::id(),
        ) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring systemd's socket activation variables");
                Vec::new()
            }
        };
        Inherited { fds, names }
    })
}

/// The names systemd passed: `LISTEN_FDS` descriptors from 3, named by
/// the colon-separated `LISTEN_FDNAMES` (systemd's default name is
/// `unknown`). Nothing when `LISTEN_FDS` is unset; an error when
/// `LISTEN_PID` is another process's (the sockets were meant for it).
pub fn systemd_names(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    fd_names: Option<&str>,
    pid: u32,
) -> std::result::Result<Vec<(String, RawFd)>, String> {
    let Some(count) = listen_fds else {
        return Ok(Vec::new());
    };
    let count: RawFd = count
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_FDS={count:?} is not a number"))?;
    match listen_pid.map(|p| p.trim().parse::<u32>()) {
        Some(Ok(p)) if p == pid => {}
        Some(Ok(p)) => return Err(format!("LISTEN_PID={p} is not this process ({pid})")),
        Some(Err(_)) => return Err("LISTEN_PID is not a number".into()),
        None => return Err("LISTEN_FDS is set without LISTEN_PID".into()),
    }
    let names: Vec<&str> = fd_names.map(|n| n.split(':').collect()).unwrap_or_default();
    Ok((0..count)
        .map(|i| {
            let name = names.get(i as usize).copied().unwrap_or("unknown");
            (name.to_string(), 3 + i)
        })
        .collect())
}

/// The inode of the socket descriptor `fd` refers to now, if it is one.
fn socket_inode(fd: RawFd) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    let s = link.to_str()?;
    s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// The descriptor `addr` names, checked against the record.
fn resolve(addr: &ListenAddr, rec: &Inherited) -> Result<RawFd> {
    let fd = match addr.network {
        Network::FdName | Network::FdGramName => rec
            .names
            .iter()
            .find(|(n, _)| *n == addr.host)
            .map(|(_, fd)| *fd)
            .ok_or_else(|| {
                let known: Vec<&str> = rec.names.iter().map(|(n, _)| n.as_str()).collect();
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "no socket named {:?} in LISTEN_FDNAMES (names: {known:?})",
                        addr.host
                    ),
                )
            })?,
        _ => addr
            .host
            .parse()
            .map_err(|_| Error::new(ErrorKind::InvalidInput, "not a file descriptor number"))?,
    };
    match rec.fds.get(&fd) {
        Some(inode) if socket_inode(fd) == Some(*inode) => Ok(fd),
        _ => Err(Error::new(
            ErrorKind::NotFound,
            format!("descriptor {fd} is not a socket this process inherited"),
        )),
    }
}

/// A duplicate of the open descriptor `fd` (close-on-exec).
#[allow(unsafe_code)]
fn duplicate(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: `resolve` just checked that `fd` is open and refers to the
    // socket recorded at start-up. The borrow lives only for the
    // duplication below; the descriptor itself is never closed by bellhop.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    borrowed.try_clone_to_owned()
}

/// The inherited socket for `addr`, as a socket of the expected type.
fn take(addr: &ListenAddr, want: Type) -> Result<Socket> {
    let rec = RECORD.get().cloned().unwrap_or_default();
    let fd = resolve(addr, &rec)?;
    let sock = Socket::from(duplicate(fd)?);
    let ty = sock.r#type()?;
    if ty != want {
        let (is, use_) = if ty == Type::DGRAM {
            ("a datagram", "fdgram")
        } else {
            ("a stream", "fd")
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("descriptor {fd} is {is} socket; listen on {use_}/{fd}"),
        ));
    }
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// The inherited stream socket for `addr`, listening (TCP or unix).
/// Must be called within a Tokio runtime.
pub fn stream(addr: &ListenAddr) -> Result<(Listener, Option<SocketAddr>)> {
    let sock = take(addr, Type::STREAM)?;
    if !sock.is_listener()? {
        sock.listen(4096)?;
    }
    let local = sock.local_addr()?;
    if let Some(inet) = local.as_socket() {
        let l = tokio::net::TcpListener::from_std(sock.into())?;
        return Ok((Listener::Tcp(l), Some(inet)));
    }
    let l = std::os::unix::net::UnixListener::from(OwnedFd::from(sock));
    Ok((Listener::Unix(tokio::net::UnixListener::from_std(l)?), None))
}

/// The inherited datagram (UDP) socket for `addr` (`fdgram/N`), for the
/// HTTP/3 server.
pub fn datagram(addr: &ListenAddr) -> Result<std::net::UdpSocket> {
    take(addr, Type::DGRAM).map(Into::into)
}

impl super::Pool {
    /// A lease on the inherited datagram socket `addr` names (`fdgram/N`,
    /// `fdgramname/NAME`) for HTTP/3: pooled under its own key, never bound.
    pub fn obtain_datagram(
        &self,
        addr: &ListenAddr,
    ) -> std::result::Result<super::Lease, crate::Error> {
        self.obtain_with(addr, addr.key(), bind_datagram)
    }
}

/// The pool's binder of inherited datagram sockets: takes the descriptor.
fn bind_datagram(
    addr: &ListenAddr,
    _: &super::BindOptions,
) -> std::result::Result<(Listener, Option<SocketAddr>), crate::Error> {
    let udp = datagram(addr).map_err(|e| crate::Error::Listen {
        address: addr.key(),
        message: e.to_string(),
    })?;
    let local = udp.local_addr().ok();
    Ok((Listener::Udp(udp), local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_variables() {
        let n = systemd_names(Some("42"), Some("2"), Some("web:quic"), 42).unwrap();
        assert_eq!(n, vec![("web".to_string(), 3), ("quic".to_string(), 4)]);
        let n = systemd_names(Some("42"), Some("2"), None, 42).unwrap();
        assert_eq!(n[1], ("unknown".to_string(), 4));
        assert!(systemd_names(None, None, None, 42).unwrap().is_empty());
        let e = systemd_names(Some("41"), Some("1"), None, 42).unwrap_err();
        assert_eq!(e, "LISTEN_PID=41 is not this process (42)");
        assert!(systemd_names(None, Some("1"), None, 42).is_err());
        assert!(systemd_names(Some("42"), Some("x"), None, 42).is_err());
    }

    #[test]
    fn only_recorded_sockets_are_used() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&l);
        let addr = super::super::address::parse(&format!("fd/{fd}")).unwrap();
        let empty = Inherited::default();
        let e = resolve(&addr[0], &empty).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("descriptor {fd} is not a socket this process inherited")
        );
        let mut rec = Inherited::default();
        rec.fds.insert(fd, socket_inode(fd).unwrap());
        assert_eq!(resolve(&addr[0], &rec).unwrap(), fd);
        // Same number, another socket: refused.
        rec.fds.insert(fd, 1);
        assert!(resolve(&addr[0], &rec).is_err());
        rec.names.push(("web".into(), fd));
        rec.fds.insert(fd, socket_inode(fd).unwrap());
        let named = super::super::address::parse("fdname/web").unwrap();
        assert_eq!(resolve(&named[0], &rec).unwrap(), fd);
        let other = super::super::address::parse("fdname/api").unwrap();
        assert!(resolve(&other[0], &rec)
            .unwrap_err()
            .to_string()
            .contains("\"api\""));
    }
}
