//! A server's `listener_wrappers` (Caddy's `caddy.listeners.*`): what
//! runs on a connection before HTTP reads it, in the order listed. The
//! `tls` placeholder marks where the TLS handshake happens; without one,
//! every wrapper comes after it (Caddy's rule), which on a TLS server
//! means inside TLS.
//!
//! - `proxy_protocol` ([`super::proxy_protocol`]): reads a PROXY header;
//! - `http_redirect`: a plain HTTP request on a TLS port is answered
//!   with a 308 to the same URL over `https` (Caddy's exact answer) and
//!   closed, instead of the usual 400.
//!
//! Before TLS the raw socket is peeked at (nothing of the TLS handshake
//! is consumed); after it, bytes are read and the ones past a wrapper's
//! need are handed back to be read first ([`super::prefixed`]).

use super::proxy_protocol::{decide, examine, Examined, Policy, ProxyProtocol};
use crate::error::Error;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// One wrapper.
#[derive(Debug, Clone)]
pub enum Wrapper {
    ProxyProtocol(ProxyProtocol),
    HttpRedirect { max_header_bytes: usize },
}

/// A server's wrappers, split at the TLS handshake.
#[derive(Debug, Clone, Default)]
pub struct Wrappers {
    pub before_tls: Vec<Wrapper>,
    pub after_tls: Vec<Wrapper>,
}

/// The (source, destination) addresses a PROXY header gave.
pub type Addrs = Option<(SocketAddr, SocketAddr)>;

/// `http_redirect`'s default cap on the request head it reads (Caddy's).
const REDIRECT_MAX_HEAD: usize = 1 << 20;
/// How long `http_redirect` waits for the whole request head.
const REDIRECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Redirect {
    #[allow(dead_code)]
    wrapper: String,
    #[serde(default)]
    max_header_bytes: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Placeholder {
    #[allow(dead_code)]
    wrapper: String,
}

impl Wrappers {
    /// Provisions `listener_wrappers` at `path` (module names were checked
    /// against the registry by the caller).
    pub fn provision(list: &[Map<String, Value>], path: &str) -> Result<Self, Error> {
        let (mut all, mut tls_at) = (Vec::new(), None);
        for (i, obj) in list.iter().enumerate() {
            let wp = format!("{path}[{i}]");
            let value = Value::Object(obj.clone());
            match obj.get("wrapper").and_then(Value::as_str).unwrap_or("") {
                "tls" => {
                    let _: Placeholder = crate::config::decode(&value, &wp)?;
                    if i == 0 {
                        return Err(Error::config(wp, "it is unnecessary to specify the TLS listener wrapper in the first position because that is the default"));
                    }
                    if tls_at.is_some() {
                        return Err(Error::config(
                            wp,
                            "TLS listener wrapper can only be specified once",
                        ));
                    }
                    tls_at = Some(all.len());
                }
                "proxy_protocol" => all.push(Wrapper::ProxyProtocol(ProxyProtocol::provision(
                    &value, &wp,
                )?)),
                "http_redirect" => {
                    let r: Redirect = crate::config::decode(&value, &wp)?;
                    all.push(Wrapper::HttpRedirect {
                        max_header_bytes: usize::try_from(r.max_header_bytes)
                            .ok()
                            .filter(|n| *n > 0)
                            .unwrap_or(REDIRECT_MAX_HEAD),
                    });
                }
                other => {
                    return Err(Error::config(
                        format!("{wp}.wrapper"),
                        format!("unknown listener wrapper {other:?}"),
                    ))
                }
            }
        }
        let after_tls = all.split_off(tls_at.unwrap_or(0));
        Ok(Wrappers {
            before_tls: all,
            after_tls,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.before_tls.is_empty() && self.after_tls.is_empty()
    }
}

/// Runs `ws` on a raw TCP connection from `peer` before anything else has
/// read it: `Ok` with the addresses a PROXY header gave, or `Err` with why
/// the connection is to be closed.
pub async fn run_tcp(
    ws: &[Wrapper],
    s: &mut TcpStream,
    mut peer: Option<SocketAddr>,
) -> Result<Addrs, String> {
    let mut addrs = None;
    for w in ws {
        match w {
            Wrapper::ProxyProtocol(pp) => {
                let policy = pp.policy_for(peer);
                if policy == Policy::Skip {
                    continue;
                }
                let mut seen = 0;
                let timed = tokio::time::timeout(pp.timeout, peek_header(s, &mut seen)).await;
                let found = in_time(timed, seen == 0, pp)?;
                if let Some((len, _)) = found {
                    let mut header = vec![0; len];
                    s.read_exact(&mut header).await.map_err(|e| e.to_string())?;
                }
                use_header(policy, found, &mut peer, &mut addrs)?;
            }
            Wrapper::HttpRedirect { max_header_bytes } => {
                if looks_like_http(s).await {
                    return Err(redirect(s, &mut Vec::new(), *max_header_bytes).await);
                }
            }
        }
    }
    Ok(addrs)
}

/// Runs `ws` on a stream that may already have been read from (after the
/// TLS handshake, or a unix socket): bytes read past what the wrappers
/// consumed are left in `buf`, to be read before the stream.
pub async fn run_stream<S>(
    ws: &[Wrapper],
    s: &mut S,
    mut peer: Option<SocketAddr>,
    buf: &mut Vec<u8>,
) -> Result<Addrs, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut addrs = None;
    for w in ws {
        match w {
            Wrapper::ProxyProtocol(pp) => {
                let policy = pp.policy_for(peer);
                if policy == Policy::Skip {
                    continue;
                }
                let timed = tokio::time::timeout(pp.timeout, read_header(s, buf)).await;
                let found = in_time(timed, buf.is_empty(), pp)?;
                if let Some((len, _)) = found {
                    buf.drain(..len);
                }
                use_header(policy, found, &mut peer, &mut addrs)?;
            }
            Wrapper::HttpRedirect { max_header_bytes } => {
                while buf.len() < 5 {
                    if s.read_buf(buf).await.map_err(|e| e.to_string())? == 0 {
                        break;
                    }
                }
                if buf.len() >= 5 && starts_like_http(&buf[..5]) {
                    return Err(redirect(s, buf, *max_header_bytes).await);
                }
            }
        }
    }
    Ok(addrs)
}

/// A header found in time; when the timeout came first, no header if no
/// byte had come either (the client may simply not have spoken yet).
fn in_time(
    timed: Result<Result<Found, String>, tokio::time::error::Elapsed>,
    nothing_yet: bool,
    pp: &ProxyProtocol,
) -> Result<Found, String> {
    match timed {
        Ok(found) => found,
        Err(_) if nothing_yet => Ok(None),
        Err(_) => Err(format!("no complete PROXY header within {:?}", pp.timeout)),
    }
}

/// Applies `policy` to what was found, moving `peer` and `addrs` to the
/// header's addresses when it is used.
fn use_header(
    policy: Policy,
    found: Found,
    peer: &mut Option<SocketAddr>,
    addrs: &mut Addrs,
) -> Result<(), String> {
    if let Some(a) = decide(policy, found.map(|(_, a)| a))? {
        *peer = Some(a.0);
        *addrs = Some(a);
    }
    Ok(())
}

/// A PROXY header's length and addresses, or `None` (not a header).
type Found = Option<(usize, Addrs)>;

/// A PROXY header at the start of `s`, peeked at (not consumed): its
/// length and addresses, or `None` when the bytes are something else.
/// `seen` counts the bytes peeked so far.
async fn peek_header(s: &TcpStream, seen: &mut usize) -> Result<Found, String> {
    let mut buf = vec![0u8; 108];
    loop {
        let n = s.peek(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(None);
        }
        let grew = n > *seen;
        *seen = n;
        match examine(&buf[..n]) {
            Examined::NotHeader => return Ok(None),
            Examined::Header { len, addrs } => return Ok(Some((len, addrs))),
            Examined::Invalid(e) => return Err(e),
            Examined::Partial(need) if need > buf.len() => buf.resize(need, 0),
            // peeking again at once would spin while the peer is slow
            Examined::Partial(_) if !grew => tokio::time::sleep(Duration::from_millis(10)).await,
            Examined::Partial(_) => {}
        }
    }
}

/// A PROXY header at the start of `buf` plus what `s` sends next.
async fn read_header<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Result<Found, String> {
    loop {
        match examine(buf) {
            Examined::NotHeader => return Ok(None),
            Examined::Header { len, addrs } => return Ok(Some((len, addrs))),
            Examined::Invalid(e) => return Err(e),
            Examined::Partial(_) => {
                if s.read_buf(buf).await.map_err(|e| e.to_string())? == 0 {
                    return if buf.is_empty() {
                        Ok(None)
                    } else {
                        Err("the connection closed inside a PROXY header".into())
                    };
                }
            }
        }
    }
}

/// The five bytes Go's `tlsRecordHeaderLooksLikeHTTP` takes for the start
/// of an HTTP request.
const HTTP_STARTS: [&[u8; 5]; 5] = [b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO"];

/// Whether five bytes open an HTTP request ([`HTTP_STARTS`]).
fn starts_like_http(first: &[u8]) -> bool {
    HTTP_STARTS.iter().any(|p| &p[..] == first)
}

/// Whether the connection opens like an HTTP request, read without
/// consuming it (waiting a little for five bytes).
pub async fn looks_like_http(s: &TcpStream) -> bool {
    let mut buf = [0u8; 5];
    for _ in 0..50 {
        let n = match s.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if !HTTP_STARTS.iter().any(|p| p.starts_with(&buf[..n])) {
            return false;
        }
        if n == 5 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Reads the request head (at most `max` bytes) that `buf` starts, and
/// answers it with Caddy's redirect to `https://` + its host + its target.
/// Returns why the connection closes.
async fn redirect<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    max: usize,
) -> String {
    let head = tokio::time::timeout(REDIRECT_TIMEOUT, async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Some(end + 4);
            }
            if buf.len() > max || s.read_buf(buf).await.ok()? == 0 {
                return None;
            }
        }
    })
    .await;
    let Ok(Some(end)) = head else {
        return "couldn't read HTTP request".into();
    };
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    let (Ok(httparse::Status::Complete(_)), Some(target)) = (req.parse(&buf[..end]), req.path)
    else {
        return "couldn't read HTTP request".into();
    };
    let host = match target.split_once("://") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(""),
        None => req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("host"))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .unwrap_or(""),
    };
    let answer = format!("HTTP/1.0 308 Permanent Redirect\r\nLocation: https://{host}{target}\r\nContent-Length: 0\r\n\r\n");
    let _ = s.write_all(answer.as_bytes()).await;
    let _ = s.shutdown().await;
    "redirected HTTP request on HTTPS port".into()
}
