//! Dialing an upstream: TCP (names resolved by the transport's `resolver`
//! or the system, with `local_address`, TCP keep-alive probes,
//! the dial timeout and Go's "happy eyeballs" fast fallback between the
//! address families a name resolves to, `dial_fallback_delay`) or a unix
//! socket, then the PROXY protocol header (v1 or v2) when configured.
//! TLS and the read/write timeouts are layered on by [`super::stream`].

use super::upstreams::DialAddr;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream, UnixStream};

/// Go's default fast-fallback delay (`net.Dialer.FallbackDelay` zero).
pub const DEFAULT_FALLBACK: Duration = Duration::from_millis(300);

/// How to open sockets.
#[derive(Clone, Debug)]
pub struct DialOpts {
    pub timeout: Duration,
    pub local: Option<IpAddr>,
    pub keepalive_probe: Option<Duration>,
    pub proxy_protocol: u8,
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
    /// Happy eyeballs: when to start the other address family; `None`
    /// dials the addresses one after another (a negative
    /// `dial_fallback_delay`).
    pub fallback: Option<Duration>,
    /// Bytes buffered before writing to the socket (`write_buffer_size`;
    /// 0 leaves buffering to hyper).
    pub write_buffer: usize,
    /// The transport's `resolver` for upstream host names (`None`: the
    /// system's lookup).
    pub resolver: Option<std::sync::Arc<super::resolver::DnsResolver>>,
}

impl Default for DialOpts {
    fn default() -> Self {
        DialOpts {
            timeout: Duration::from_secs(3),
            local: None,
            keepalive_probe: None,
            proxy_protocol: 0,
            read_timeout: None,
            write_timeout: None,
            fallback: Some(DEFAULT_FALLBACK),
            write_buffer: 0,
            resolver: None,
        }
    }
}

/// Maps Caddy's `dial_fallback_delay` (0 = default, negative = off).
pub fn fallback_delay(d: Option<super::config::SignedDuration>) -> Option<Duration> {
    match d {
        Some(d) if d.negative => None,
        Some(d) if !d.abs.is_zero() => Some(d.abs),
        _ => Some(DEFAULT_FALLBACK),
    }
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
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => match &o.resolver {
            Some(r) => r
                .lookup_ip(host)
                .await
                .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
            None => tokio::net::lookup_host((host, port)).await?.collect(),
        },
    };
    let s = happy_eyeballs(addrs, o.fallback, |sa| connect_one(sa, o)).await?;
    s.set_nodelay(true)?;
    if let Some(p) = o.keepalive_probe {
        let ka = socket2::TcpKeepalive::new().with_time(p).with_interval(p);
        socket2::SockRef::from(&s).set_tcp_keepalive(&ka)?;
    }
    Ok(s)
}

async fn connect_one(sa: SocketAddr, o: &DialOpts) -> io::Result<TcpStream> {
    let sock = if sa.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = o.local {
        sock.bind(SocketAddr::new(ip, 0))?;
    }
    sock.connect(sa).await
}

/// Dials `addrs` as Go's dialer does (RFC 6555): the addresses of the
/// first address's family one after another, and — `fallback` after the
/// start, or as soon as those all failed — the other family's in a
/// parallel race; the first connection wins. Without `fallback`, every
/// address is tried in order.
pub async fn happy_eyeballs<T, F, Fut>(
    addrs: Vec<SocketAddr>,
    fallback: Option<Duration>,
    connect: F,
) -> io::Result<T>
where
    F: Fn(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let Some(first) = addrs.first() else {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no addresses"));
    };
    let v4 = first.is_ipv4();
    let (primary, secondary): (Vec<_>, Vec<_>) = match fallback {
        Some(_) => addrs.into_iter().partition(|a| a.is_ipv4() == v4),
        None => (addrs, Vec::new()),
    };
    let serial = |list: Vec<SocketAddr>| {
        let connect = &connect;
        async move {
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
            for sa in list {
                match connect(sa).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
    };
    if secondary.is_empty() {
        return serial(primary).await;
    }
    let delay = fallback.unwrap_or(DEFAULT_FALLBACK);
    let primary = serial(primary);
    tokio::pin!(primary);
    let first_err = tokio::select! {
        r = &mut primary => match r {
            Ok(s) => return Ok(s),
            Err(e) => Some(e),
        },
        _ = tokio::time::sleep(delay) => None,
    };
    let secondary = serial(secondary);
    match first_err {
        Some(e) => secondary.await.map_err(|e2| {
            if e2.kind() == io::ErrorKind::NotFound {
                e
            } else {
                e2
            }
        }),
        None => {
            tokio::pin!(secondary);
            tokio::select! {
                r = &mut primary => match r {
                    Ok(s) => Ok(s),
                    Err(_) => secondary.await,
                },
                r = &mut secondary => match r {
                    Ok(s) => Ok(s),
                    Err(_) => primary.await,
                },
            }
        }
    }
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

macro_rules! raw_each {
    ($s:expr, $v:ident => $e:expr) => {
        match $s {
            Raw::Tcp($v) => $e,
            Raw::Unix($v) => $e,
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// A connect that hangs for the IPv6 address and succeeds for IPv4.
    async fn v6_hangs(sa: SocketAddr) -> io::Result<SocketAddr> {
        if sa.is_ipv6() {
            std::future::pending::<()>().await;
        }
        Ok(sa)
    }

    #[tokio::test(start_paused = true)]
    async fn fallback_family_wins_after_the_delay() {
        let start = tokio::time::Instant::now();
        let addrs = vec![a("[::1]:80"), a("127.0.0.1:80")];
        let got = happy_eyeballs(addrs, Some(Duration::from_millis(50)), v6_hangs)
            .await
            .unwrap();
        assert_eq!(got, a("127.0.0.1:80"));
        assert_eq!(start.elapsed(), Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn without_fallback_addresses_are_tried_in_order() {
        let addrs = vec![a("[::1]:80"), a("127.0.0.1:80")];
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            happy_eyeballs(addrs, None, v6_hangs),
        )
        .await;
        assert!(r.is_err(), "serial dialing waits on the first address");
    }

    #[tokio::test(start_paused = true)]
    async fn failed_primary_starts_the_fallback_at_once() {
        let start = tokio::time::Instant::now();
        let addrs = vec![a("[::1]:80"), a("127.0.0.1:80")];
        let got = happy_eyeballs(addrs, Some(Duration::from_secs(10)), |sa| async move {
            if sa.is_ipv6() {
                Err(io::Error::from(io::ErrorKind::ConnectionRefused))
            } else {
                Ok(sa)
            }
        })
        .await
        .unwrap();
        assert_eq!(got, a("127.0.0.1:80"));
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
