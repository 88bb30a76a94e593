//! Forward proxies between bellhop and its upstreams: the HTTP
//! transport's `network_proxy` (modules `caddy.network_proxy.source.url`
//! and `.none`, inline key `from`) and the older `forward_proxy_url`
//! (the same as `network_proxy` `url`, as Caddy maps it).
//!
//! As Go's transport does with a proxy: a plain HTTP/1.1 upstream gets its
//! requests in absolute form (`GET http://upstream:port/path`) on a
//! connection to an `http://` proxy, with `Proxy-Authorization` from the
//! URL's user info; a TLS or h2c upstream is reached through an HTTP
//! `CONNECT` tunnel; a `socks5://` (or `socks5h://`) proxy tunnels every
//! connection (RFC 1928, with RFC 1929 user/password when given). The
//! upstream's name goes to the proxy unresolved. Unix-socket upstreams
//! are dialed directly. Not supported: `https://` proxies (TLS to the
//! proxy itself), placeholders in the URL, and Caddy's default of reading
//! `HTTP_PROXY`/`HTTPS_PROXY` from the environment when no
//! `network_proxy` is configured.

use super::dial::{dial, DialError, DialOpts, Raw};
use super::upstreams::{join_host_port, DialAddr};
use crate::error::Error;
use base64::Engine;
use serde_json::{Map, Value};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How the proxy is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Http,
    Socks5,
}

/// A provisioned forward proxy.
#[derive(Debug)]
pub struct ForwardProxy {
    pub kind: Kind,
    addr: DialAddr,
    user: Option<(String, String)>,
    /// `Proxy-Authorization` for HTTP proxies with user info.
    pub authorization: Option<http::HeaderValue>,
}

/// Provisions `network_proxy` (or, when absent, `forward_proxy_url`) of
/// the transport at `path`; `None` is a direct connection.
pub fn provision(
    network_proxy: Option<&Map<String, Value>>,
    forward_proxy_url: &str,
    path: &str,
) -> Result<Option<Arc<ForwardProxy>>, Error> {
    let (url, at) = match network_proxy {
        Some(m) => {
            let from = m.get("from").and_then(Value::as_str).unwrap_or("");
            let at = format!("{path}.network_proxy");
            match from {
                "none" => return Ok(None),
                "url" => {
                    let url = match m.get("url") {
                        Some(Value::String(s)) => s.as_str(),
                        _ => {
                            return Err(Error::config(
                                format!("{at}.url"),
                                "a proxy URL is required",
                            ))
                        }
                    };
                    if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "from" | "url")) {
                        return Err(Error::config(format!("{at}.{k}"), "unknown field"));
                    }
                    (url, format!("{at}.url"))
                }
                other => {
                    return Err(Error::UnknownModule {
                        path: format!("{at}.from"),
                        id: format!("caddy.network_proxy.source.{other}"),
                    })
                }
            }
        }
        None if forward_proxy_url.is_empty() => return Ok(None),
        None => (forward_proxy_url, format!("{path}.forward_proxy_url")),
    };
    parse(url)
        .map(|p| Some(Arc::new(p)))
        .map_err(|e| Error::config(at, format!("{url:?}: {e}")))
}

fn parse(url: &str) -> Result<ForwardProxy, String> {
    if url.contains('{') && url.contains('}') {
        return Err("placeholders in proxy URLs are not supported by bellhop".into());
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("missing scheme (http:// or socks5://)")?;
    let (kind, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "http" => (Kind::Http, 80),
        "socks5" | "socks5h" => (Kind::Socks5, 1080),
        "https" => return Err("proxies over TLS (https://) are not supported by bellhop".into()),
        other => return Err(format!("unsupported proxy scheme {other:?}")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let addr = match super::upstreams::parse_dial(hostport) {
        Ok(mut v) if v.len() == 1 => v.remove(0),
        _ => super::upstreams::parse_dial(&format!("{hostport}:{default_port}"))
            .ok()
            .filter(|v| v.len() == 1)
            .and_then(|mut v| v.pop())
            .ok_or("invalid proxy host")?,
    };
    if matches!(&addr, DialAddr::Tcp { host, .. } if host.is_empty() || hostport.starts_with(':')) {
        return Err("the proxy URL has no host".into());
    }
    let user = userinfo.map(|u| {
        let (name, pass) = u.split_once(':').unwrap_or((u, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        (dec(name), dec(pass))
    });
    let authorization = match (&user, kind) {
        (Some((n, p)), Kind::Http) => {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{n}:{p}"));
            Some(http::HeaderValue::try_from(format!("Basic {token}")).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    Ok(ForwardProxy {
        kind,
        addr,
        user,
        authorization,
    })
}

impl ForwardProxy {
    /// Whether requests to a plain HTTP/1.1 upstream go to the proxy in
    /// absolute form instead of through a tunnel.
    pub fn absolute_form(&self) -> bool {
        self.kind == Kind::Http
    }

    /// A connection to `target` by way of the proxy: a tunnel when
    /// `tunnel` (or always, for SOCKS), else a connection to the proxy
    /// itself. The PROXY protocol header, if configured, goes to the
    /// upstream through the tunnel.
    pub async fn connect(
        &self,
        target: &DialAddr,
        o: &DialOpts,
        client: SocketAddr,
        tunnel: bool,
    ) -> Result<Raw, DialError> {
        let to_proxy = DialOpts {
            proxy_protocol: 0,
            ..o.clone()
        };
        let mut raw = dial(&self.addr, &to_proxy, client).await?;
        let DialAddr::Tcp { host, port } = target else {
            return Ok(raw);
        };
        if !tunnel && self.kind == Kind::Http {
            return Ok(raw);
        }
        let err = |source| DialError {
            addr: target.hostport(),
            source,
        };
        let handshake = async {
            match self.kind {
                Kind::Http => self.http_connect(&mut raw, host, *port).await?,
                Kind::Socks5 => self.socks5(&mut raw, host, *port).await?,
            }
            if o.proxy_protocol > 0 {
                let header = super::dial::proxy_header(o.proxy_protocol, client);
                write_all(&mut raw, &header).await?;
            }
            Ok::<_, io::Error>(())
        };
        match tokio::time::timeout(o.timeout, handshake).await {
            Ok(r) => r.map_err(err)?,
            Err(_) => {
                return Err(err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "proxy handshake timeout",
                )))
            }
        }
        Ok(raw)
    }

    async fn http_connect(&self, raw: &mut Raw, host: &str, port: u16) -> io::Result<()> {
        let target = join_host_port(host, port);
        let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some(a) = &self.authorization {
            head.push_str("Proxy-Authorization: ");
            head.push_str(a.to_str().unwrap_or(""));
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        write_all(raw, head.as_bytes()).await?;
        // Byte by byte up to the blank line: nothing of the tunnel's own
        // traffic may be consumed here.
        let mut resp = Vec::with_capacity(128);
        while !resp.ends_with(b"\r\n\r\n") {
            if resp.len() > 8192 {
                return Err(proxy_err("proxy response header too large".into()));
            }
            let mut b = [0u8; 1];
            if read(raw, &mut b).await? == 0 {
                return Err(proxy_err(
                    "proxy closed the connection during CONNECT".into(),
                ));
            }
            resp.push(b[0]);
        }
        let line = String::from_utf8_lossy(&resp);
        let status = line.lines().next().unwrap_or("");
        let code = status.split(' ').nth(1).unwrap_or("");
        if !code.starts_with('2') || code.len() != 3 {
            return Err(proxy_err(format!(
                "proxy refused CONNECT {target}: {status}"
            )));
        }
        Ok(())
    }

    async fn socks5(&self, raw: &mut Raw, host: &str, port: u16) -> io::Result<()> {
        let greeting: &[u8] = if self.user.is_some() {
            &[5, 2, 0, 2]
        } else {
            &[5, 1, 0]
        };
        write_all(raw, greeting).await?;
        let mut r = [0u8; 2];
        read_exact(raw, &mut r).await?;
        match (r, &self.user) {
            ([5, 0], _) => {}
            ([5, 2], Some((n, p))) => {
                let mut m = vec![1, n.len() as u8];
                m.extend_from_slice(n.as_bytes());
                m.push(p.len() as u8);
                m.extend_from_slice(p.as_bytes());
                write_all(raw, &m).await?;
                read_exact(raw, &mut r).await?;
                if r[1] != 0 {
                    return Err(proxy_err(
                        "SOCKS5 proxy rejected the user name or password".into(),
                    ));
                }
            }
            _ => {
                return Err(proxy_err(
                    "SOCKS5 proxy offers no acceptable authentication".into(),
                ))
            }
        }
        let mut req = vec![5, 1, 0];
        match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => {
                req.push(1);
                req.extend_from_slice(&ip.octets());
            }
            Ok(std::net::IpAddr::V6(ip)) => {
                req.push(4);
                req.extend_from_slice(&ip.octets());
            }
            Err(_) => {
                req.extend_from_slice(&[3, host.len() as u8]);
                req.extend_from_slice(host.as_bytes());
            }
        }
        req.extend_from_slice(&port.to_be_bytes());
        write_all(raw, &req).await?;
        let mut head = [0u8; 4];
        read_exact(raw, &mut head).await?;
        if head[1] != 0 {
            return Err(proxy_err(format!(
                "SOCKS5 proxy could not connect to {}: reply code {}",
                join_host_port(host, port),
                head[1]
            )));
        }
        let skip = match head[3] {
            1 => 4,
            4 => 16,
            3 => {
                let mut l = [0u8; 1];
                read_exact(raw, &mut l).await?;
                usize::from(l[0])
            }
            t => return Err(proxy_err(format!("SOCKS5 reply with address type {t}"))),
        };
        let mut rest = vec![0u8; skip + 2];
        read_exact(raw, &mut rest).await
    }
}

fn proxy_err(m: String) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionRefused, m)
}

async fn write_all(raw: &mut Raw, b: &[u8]) -> io::Result<()> {
    match raw {
        Raw::Tcp(s) => s.write_all(b).await,
        Raw::Unix(s) => s.write_all(b).await,
    }
}

async fn read(raw: &mut Raw, b: &mut [u8]) -> io::Result<usize> {
    match raw {
        Raw::Tcp(s) => s.read(b).await,
        Raw::Unix(s) => s.read(b).await,
    }
}

async fn read_exact(raw: &mut Raw, b: &mut [u8]) -> io::Result<()> {
    match raw {
        Raw::Tcp(s) => s.read_exact(b).await.map(drop),
        Raw::Unix(s) => s.read_exact(b).await.map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let p = parse("http://user:p%40ss@proxy.internal:3128").unwrap();
        assert_eq!(p.kind, Kind::Http);
        assert_eq!(p.addr.hostport(), "proxy.internal:3128");
        assert_eq!(
            p.authorization.unwrap().to_str().unwrap(),
            "Basic dXNlcjpwQHNz"
        );
        let p = parse("socks5://127.0.0.1").unwrap();
        assert_eq!(
            (p.kind, p.addr.hostport()),
            (Kind::Socks5, "127.0.0.1:1080".into())
        );
        assert_eq!(parse("http://[::1]").unwrap().addr.hostport(), "[::1]:80");
        assert!(parse("proxy:3128").is_err());
        assert!(parse("https://proxy:3128").is_err());
        assert!(parse("http://:80").is_err());
        assert!(parse("http://{env.PROXY}").is_err());
    }
}
