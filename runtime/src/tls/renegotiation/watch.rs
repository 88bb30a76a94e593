//! [`Watched`]: the byte stream under a TLS client, failing the read that
//! brings a renegotiation past what the client allows. Under OpenSSL with
//! `once` (Go's `RenegotiateOnceAsClient`), that is the second: OpenSSL
//! has no such limit of its own. Under rustls (`never`), the first:
//! rustls answers a `HelloRequest` with a warning the server may ignore
//! and wait on, where Go's `RenegotiateNever` fails the connection. The
//! stream reads the headers of the TLS records the server sends (TLS 1.2
//! leaves a record's content type in the clear; TLS 1.3 has no
//! renegotiation and its records all look like application data) and
//! fails before the TLS library sees the record.
//!
//! A renegotiation, as the server's records show it, starts with a
//! handshake record once the connection is established (its
//! `HelloRequest`) and ends with the handshake record that follows the
//! server's `ChangeCipherSpec` (its `Finished`), in a full handshake and
//! in an abbreviated one alike.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;

/// The record headers read so far, and the renegotiations they started.
#[derive(Debug, Default)]
pub struct Records {
    /// How many renegotiations the server may start (`None`: any).
    limit: Option<u32>,
    /// The first handshake is over: handshake records now renegotiate.
    established: bool,
    header: [u8; 5],
    have: usize,
    /// Bytes of the current record's body still to come.
    left: usize,
    started: u32,
    renegotiating: bool,
    after_ccs: bool,
    refused: bool,
}

impl Records {
    /// Watches for renegotiations past `limit`.
    pub fn new(limit: Option<u32>) -> Self {
        Records {
            limit,
            ..Default::default()
        }
    }

    /// Marks the end of the first handshake.
    pub fn established(&mut self) {
        self.established = true;
    }

    /// How many renegotiations the server has started.
    pub fn renegotiations(&self) -> u32 {
        self.started
    }

    /// Reads `bytes` from the server; fails once they start a
    /// renegotiation past the limit (and on every read after that).
    pub fn feed(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if self.limit.is_none() {
            return Ok(());
        }
        while !bytes.is_empty() && !self.refused {
            if self.left > 0 {
                let n = self.left.min(bytes.len());
                self.left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (5 - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have < 5 {
                break;
            }
            self.have = 0;
            self.left = u16::from_be_bytes([self.header[3], self.header[4]]) as usize;
            if self.established {
                self.record(self.header[0]);
            }
        }
        if self.refused {
            return Err(io::Error::other(if self.limit == Some(0) {
                "tls: the upstream asked to renegotiate, and renegotiation is `never`"
            } else {
                "tls: the upstream asked to renegotiate a second time, and renegotiation is `once`"
            }));
        }
        Ok(())
    }

    fn record(&mut self, content_type: u8) {
        match content_type {
            HANDSHAKE => {
                if !self.renegotiating {
                    self.started += 1;
                    if self.limit.is_some_and(|l| self.started > l) {
                        self.refused = true;
                        return;
                    }
                    self.renegotiating = true;
                }
                if self.after_ccs {
                    self.renegotiating = false;
                }
                self.after_ccs = false;
            }
            CHANGE_CIPHER_SPEC => self.after_ccs = true,
            _ => self.after_ccs = false,
        }
    }
}

/// A stream whose incoming records are watched.
#[derive(Debug)]
pub struct Watched<S> {
    pub io: S,
    pub records: Records,
}

impl<S> Watched<S> {
    /// Under a client that renegotiates `limit` times at most.
    pub fn new(io: S, limit: Option<u32>) -> Self {
        Watched {
            io,
            records: Records::new(limit),
        }
    }

    /// Under rustls, which cannot renegotiate: the first request to
    /// renegotiate fails the connection, as Go's `RenegotiateNever` does.
    pub fn never(io: S) -> Self {
        Self::new(io, Some(0))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        Poll::Ready(this.records.feed(&buf.filled()[before..]))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, b)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<S: Read> Read for Watched<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.io.read(buf)?;
        self.records.feed(&buf[..n])?;
        Ok(n)
    }
}

impl<S: Write> Write for Watched<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.io.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(content_type: u8, body: usize) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(body as u16).to_be_bytes());
        r.resize(5 + body, 0xaa);
        r
    }

    /// A full renegotiation as the server sends it: HelloRequest, then
    /// ServerHello..ServerHelloDone, then ChangeCipherSpec and Finished.
    fn full() -> Vec<u8> {
        [rec(22, 32), rec(22, 900), rec(20, 1), rec(22, 40)].concat()
    }

    /// An abbreviated one: HelloRequest, ServerHello, CCS, Finished.
    fn abbreviated() -> Vec<u8> {
        [rec(22, 32), rec(22, 90), rec(20, 1), rec(22, 40)].concat()
    }

    fn established(limit: Option<u32>) -> Records {
        let mut r = Records::new(limit);
        // The first handshake's records are not counted.
        r.feed(&[rec(22, 300), rec(20, 1), rec(22, 40)].concat())
            .unwrap();
        r.established();
        r
    }

    #[test]
    fn once_allows_one_renegotiation_and_refuses_the_second() {
        for first in [full(), abbreviated()] {
            let mut r = established(Some(1));
            r.feed(&rec(23, 100)).unwrap();
            r.feed(&first).unwrap();
            r.feed(&[rec(23, 500), rec(21, 2)].concat()).unwrap();
            assert_eq!(r.renegotiations(), 1);
            let e = r.feed(&rec(22, 32)).unwrap_err();
            assert!(e.to_string().contains("second time"), "{e}");
            assert!(r.feed(&rec(23, 1)).is_err(), "stays refused");
        }
    }

    #[test]
    fn headers_and_bodies_split_across_reads_are_followed() {
        let mut r = established(Some(1));
        let bytes = [rec(23, 70), full(), rec(23, 3), rec(22, 32)].concat();
        let mut failed_at = None;
        for (i, b) in bytes.chunks(1).enumerate() {
            if r.feed(b).is_err() {
                failed_at = Some(i);
                break;
            }
        }
        // The byte that completes the second HelloRequest's header fails.
        assert_eq!(failed_at, Some(bytes.len() - 32 - 1));
    }

    #[test]
    fn never_refuses_the_first() {
        let mut r = established(Some(0));
        r.feed(&rec(23, 100)).unwrap();
        let e = r.feed(&full()).unwrap_err();
        assert!(e.to_string().contains("`never`"), "{e}");
    }

    #[test]
    fn application_data_never_counts_and_freely_never_refuses() {
        let mut r = established(Some(1));
        for _ in 0..10 {
            r.feed(&[rec(23, 16384), rec(21, 2)].concat()).unwrap();
        }
        assert_eq!(r.renegotiations(), 0);
        let mut free = established(None);
        for _ in 0..5 {
            free.feed(&full()).unwrap();
        }
    }
}
