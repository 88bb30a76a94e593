//! Dialing an upstream: TCP (with `local_address`, TCP keep-alive probes
//! and the dial timeout) or a unix socket, then the PROXY protocol header
//! (v1 or v2) when configured, then TLS. [`UpStream`] is the resulting
//! byte stream, with the transport's read and write timeouts.

use super::upstreams::DialAddr;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream, UnixStream};
use tokio::time::Sleep;

/// How to open sockets.
#[derive(Clone, Debug, Default)]
pub struct DialOpts {
    pub timeout: Duration,
    pub local: Option<IpAddr>,
    pub keepalive_probe: Option<Duration>,
    pub proxy_protocol: u8,
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
}

/// An error while dialing (always safe to retry).
#[derive(Debug, thiserror::Error)]
#[error("dialing {addr}: {source}")]
pub struct DialError {
    pub addr: String,
    pub source: io::Error,
}

/// A plain connection.
pub enum Raw {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Opens a connection to `addr`; `client` is the address the PROXY
/// protocol header announces.
pub async fn dial(addr: &DialAddr, o: &DialOpts, client: SocketAddr) -> Result<Raw, DialError> {
    let err = |source| DialError {
        addr: addr.hostport(),
        source,
    };
    let fut = async {
        let mut raw = match addr {
            DialAddr::Unix(p) => Raw::Unix(UnixStream::connect(p).await?),
            DialAddr::Tcp { host, port } => Raw::Tcp(tcp(host, *port, o).await?),
        };
        if o.proxy_protocol > 0 {
            let header = proxy_header(o.proxy_protocol, client);
            match &mut raw {
                Raw::Tcp(s) => s.write_all(&header).await?,
                Raw::Unix(s) => s.write_all(&header).await?,
            }
        }
        Ok::<_, io::Error>(raw)
    };
    match tokio::time::timeout(o.timeout, fut).await {
        Ok(r) => r.map_err(err),
        Err(_) => Err(err(io::Error::new(io::ErrorKind::TimedOut, "dial timeout"))),
    }
}

async fn tcp(host: &str, port: u16, o: &DialOpts) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
    for sa in tokio::net::lookup_host((host, port)).await? {
        let sock = if sa.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = o.local {
            sock.bind(SocketAddr::new(ip, 0))?;
        }
        match sock.connect(sa).await {
            Ok(s) => {
                s.set_nodelay(true)?;
                if let Some(p) = o.keepalive_probe {
                    let ka = socket2::TcpKeepalive::new().with_time(p).with_interval(p);
                    socket2::SockRef::from(&s).set_tcp_keepalive(&ka)?;
                }
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The PROXY protocol header announcing `client` (destination unknown:
/// zeros of the same family, as Caddy sends).
pub fn proxy_header(version: u8, client: SocketAddr) -> Vec<u8> {
    let client = SocketAddr::new(crate::http::conn::canonical_ip(client.ip()), client.port());
    if version == 1 {
        let (fam, dst) = match client.ip() {
            IpAddr::V4(_) => ("TCP4", IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            IpAddr::V6(_) => ("TCP6", IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        };
        return format!("PROXY {fam} {} {dst} {} 0\r\n", client.ip(), client.port()).into_bytes();
    }
    let mut h = b"\r\n\r\n\x00\r\nQUIT\n\x21".to_vec();
    match client.ip() {
        IpAddr::V4(ip) => {
            h.push(0x11);
            h.extend_from_slice(&12u16.to_be_bytes());
            h.extend_from_slice(&ip.octets());
            h.extend_from_slice(&[0; 4]);
        }
        IpAddr::V6(ip) => {
            h.push(0x21);
            h.extend_from_slice(&36u16.to_be_bytes());
            h.extend_from_slice(&ip.octets());
            h.extend_from_slice(&[0; 16]);
        }
    }
    h.extend_from_slice(&client.port().to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h
}

/// A connection to an upstream, maybe TLS, with read/write timeouts.
pub struct UpStream {
    inner: Inner,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
}

enum Inner {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<tokio_rustls::client::TlsStream<Raw>>),
}

impl UpStream {
    /// A plain stream.
    pub fn plain(raw: Raw, o: &DialOpts) -> Self {
        Self::new(
            match raw {
                Raw::Tcp(s) => Inner::Tcp(s),
                Raw::Unix(s) => Inner::Unix(s),
            },
            o,
        )
    }

    /// A TLS stream.
    pub fn tls(s: tokio_rustls::client::TlsStream<Raw>, o: &DialOpts) -> Self {
        Self::new(Inner::Tls(Box::new(s)), o)
    }

    fn new(inner: Inner, o: &DialOpts) -> Self {
        UpStream {
            inner,
            read_timeout: o.read_timeout,
            write_timeout: o.write_timeout,
            read_timer: None,
            write_timer: None,
        }
    }
}

fn timed<T>(
    timer: &mut Option<Pin<Box<Sleep>>>,
    limit: Option<Duration>,
    cx: &mut Context<'_>,
    polled: Poll<io::Result<T>>,
) -> Poll<io::Result<T>> {
    let Some(limit) = limit else { return polled };
    if polled.is_ready() {
        *timer = None;
        return polled;
    }
    let t = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    match t.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "upstream i/o timeout",
        ))),
        Poll::Pending => Poll::Pending,
    }
}

use std::future::Future;

macro_rules! each {
    ($s:expr, $v:ident => $e:expr) => {
        match $s {
            Inner::Tcp($v) => $e,
            Inner::Unix($v) => $e,
            Inner::Tls($v) => $e,
        }
    };
}

macro_rules! raw_each {
    ($s:expr, $v:ident => $e:expr) => {
        match $s {
            Raw::Tcp($v) => $e,
            Raw::Unix($v) => $e,
        }
    };
}

impl AsyncRead for UpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = each!(&mut this.inner, s => Pin::new(s).poll_read(cx, buf));
        timed(&mut this.read_timer, this.read_timeout, cx, polled)
    }
}

impl AsyncWrite for UpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = each!(&mut this.inner, s => Pin::new(s).poll_write(cx, b));
        timed(&mut this.write_timer, this.write_timeout, cx, polled)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        each!(&mut this.inner, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(&mut self.get_mut().inner, s => Pin::new(s).poll_shutdown(cx))
    }
}

impl AsyncRead for Raw {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        raw_each!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Raw {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        raw_each!(self.get_mut(), s => Pin::new(s).poll_write(cx, b))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        raw_each!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        raw_each!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}
