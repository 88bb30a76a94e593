//! The hand-off conversation on the unix socket between the old process
//! (parent) and the new one (child):
//!
//! 1. parent → child: a 20-byte header (`BHUP`, the number of sockets, the
//!    length of the socket list, the length of the config) sent with
//!    `SCM_RIGHTS` carrying every listening socket; then the socket list
//!    (JSON: `[{"key": "tcp/127.0.0.1:8080", "kind": "tcp"}, …]`, in the
//!    order of the descriptors) and the running config's JSON.
//! 2. child → parent: `ready\n` once its first config serves, or
//!    `error: <why>\n`.
//! 3. parent → child: `go\n` once the parent has stopped accepting; the
//!    child then owns the pidfile.
//!
//! Descriptors travel with rustix's safe `sendmsg`/`recvmsg` wrappers,
//! which hand out `OwnedFd`s: no `unsafe` here.

use anyhow::{bail, Context, Result};
use bellhop_runtime::listeners::Inherited;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use std::io::{IoSlice, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

const MAGIC: &[u8; 4] = b"BHUP";
const HEADER_LEN: usize = 20;

/// The most sockets one hand-off carries (the kernel's `SCM_MAX_FD` is 253).
pub const MAX_SOCKETS: usize = 250;

/// One socket to hand over.
pub struct Outgoing<'a> {
    pub key: String,
    /// `tcp`, `unix` or `udp`.
    pub kind: &'static str,
    pub fd: BorrowedFd<'a>,
}

/// What the child receives.
pub struct Received {
    pub sockets: Vec<(String, Inherited)>,
    pub config: Vec<u8>,
}

/// The header and the socket list, the config's length included.
pub fn encode(sockets: &[Outgoing<'_>], config_len: usize) -> Result<(Vec<u8>, Vec<u8>)> {
    if sockets.len() > MAX_SOCKETS {
        bail!(
            "{} listening sockets; a hand-off carries at most {MAX_SOCKETS}",
            sockets.len()
        );
    }
    let list: Vec<serde_json::Value> = sockets
        .iter()
        .map(|s| serde_json::json!({"key": s.key, "kind": s.kind}))
        .collect();
    let list = serde_json::to_vec(&list)?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&(sockets.len() as u32).to_be_bytes());
    header.extend_from_slice(&(list.len() as u32).to_be_bytes());
    header.extend_from_slice(&(config_len as u64).to_be_bytes());
    Ok((header, list))
}

/// Sends `header` with the sockets' descriptors attached; returns how many
/// bytes of the header went out (the rest is sent as plain data).
pub fn send_header(
    stream: BorrowedFd<'_>,
    header: &[u8],
    sockets: &[Outgoing<'_>],
) -> std::io::Result<usize> {
    let fds: Vec<BorrowedFd<'_>> = sockets.iter().map(|s| s.fd).collect();
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(std::io::Error::other("descriptor buffer too small"));
    }
    let sent = rustix::net::sendmsg(
        stream,
        &[IoSlice::new(header)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(sent)
}

/// Receives a hand-off (the child's side; blocking).
pub fn receive(stream: &mut UnixStream) -> Result<Received> {
    let mut header = [0u8; HEADER_LEN];
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_SOCKETS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = rustix::net::recvmsg(
        &*stream,
        &mut [IoSliceMut::new(&mut header)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .context("receiving the sockets")?;
    if got.flags.contains(rustix::net::ReturnFlags::CTRUNC) {
        bail!("the sockets did not fit the descriptor buffer");
    }
    let mut fds: Vec<OwnedFd> = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = msg {
            fds.extend(rights);
        }
    }
    if got.bytes == 0 {
        bail!("the old process closed the hand-off socket");
    }
    stream
        .read_exact(&mut header[got.bytes..])
        .context("reading the hand-off header")?;
    let (count, list_len, config_len) = decode_header(&header)?;
    if fds.len() != count {
        bail!("expected {count} sockets, received {}", fds.len());
    }
    let mut list = vec![0u8; list_len];
    stream
        .read_exact(&mut list)
        .context("reading the socket list")?;
    let mut config = vec![0u8; config_len];
    stream
        .read_exact(&mut config)
        .context("reading the config")?;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&list).context("the socket list")?;
    let sockets = list
        .iter()
        .zip(fds)
        .map(|(entry, fd)| {
            let key = entry["key"].as_str().unwrap_or_default().to_string();
            let kind = entry["kind"].as_str().unwrap_or_default();
            match Inherited::of_kind(kind, fd) {
                Some(socket) => Ok((key, socket)),
                None => bail!("socket {key}: unknown kind {kind:?}"),
            }
        })
        .collect::<Result<_>>()?;
    Ok(Received { sockets, config })
}

fn decode_header(h: &[u8; HEADER_LEN]) -> Result<(usize, usize, usize)> {
    if &h[..4] != MAGIC {
        bail!("not a bellhop hand-off");
    }
    let count = u32::from_be_bytes(h[4..8].try_into()?) as usize;
    let list_len = u32::from_be_bytes(h[8..12].try_into()?) as usize;
    let config_len = u64::from_be_bytes(h[12..20].try_into()?) as usize;
    if count > MAX_SOCKETS || list_len > 16 << 20 {
        bail!("implausible hand-off header");
    }
    Ok((count, list_len, config_len))
}
