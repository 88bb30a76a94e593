//! A small client for the admin API, used by `bellhop reload`, `stop` and
//! `start`, and by tests: one HTTP/1.1 request over TCP or a unix socket.
//!
//! Addresses are written as in the config: `localhost:2019`,
//! `tcp/127.0.0.1:2019`, `:2019` (this host), `unix//run/bellhop.sock`.
//! The `Host` header is what the admin endpoint's DNS-rebinding check
//! expects: the address itself, or `127.0.0.1` over a unix socket.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// An admin API answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The `error` of a JSON error body, or the body as text.
    pub fn error_message(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).trim().to_string())
    }

    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Where to connect, and the `Host` to send.
enum Target {
    Tcp { connect: String, host: String },
    Unix(String),
}

fn target(address: &str) -> Result<Target, String> {
    let address = address.trim();
    if let Some(path) = address.strip_prefix("unix/") {
        let path = path.split('|').next().unwrap_or(path);
        return Ok(Target::Unix(path.to_string()));
    }
    let rest = ["tcp/", "tcp4/", "tcp6/"]
        .iter()
        .find_map(|p| address.strip_prefix(p))
        .unwrap_or(address);
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("admin address {address:?} has no port"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let connect_host = match bare {
        "" | "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        h => h,
    };
    let connect = if connect_host.contains(':') {
        format!("[{connect_host}]:{port}")
    } else {
        format!("{connect_host}:{port}")
    };
    let host = if host.is_empty() {
        connect.clone()
    } else {
        rest.to_string()
    };
    Ok(Target::Tcp { connect, host })
}

/// Sends one request to the admin endpoint at `address`.
pub async fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Reply, String> {
    let what = |e: &dyn std::fmt::Display| format!("admin endpoint {address}: {e}");
    match target(address)? {
        Target::Tcp { connect, host } => {
            let s = tokio::net::TcpStream::connect(&connect)
                .await
                .map_err(|e| what(&e))?;
            exchange(s, &host, method, path, headers, body)
                .await
                .map_err(|e| what(&e))
        }
        Target::Unix(p) => {
            let s = tokio::net::UnixStream::connect(&p)
                .await
                .map_err(|e| what(&e))?;
            exchange(s, "127.0.0.1", method, path, headers, body)
                .await
                .map_err(|e| what(&e))
        }
    }
}

async fn exchange<S>(
    stream: S,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Reply, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut b = http::Request::builder().method(method).uri(path);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        b = b.header(http::header::HOST, host);
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_map_to_connect_and_host() {
        let Target::Tcp { connect, host } = target("localhost:2019").unwrap() else {
            panic!()
        };
        assert_eq!(
            (connect.as_str(), host.as_str()),
            ("localhost:2019", "localhost:2019")
        );
        let Target::Tcp { connect, .. } = target(":2019").unwrap() else {
            panic!()
        };
        assert_eq!(connect, "127.0.0.1:2019");
        assert!(
            matches!(target("unix//tmp/a.sock|0600").unwrap(), Target::Unix(p) if p == "/tmp/a.sock")
        );
        assert!(target("localhost").is_err());
    }
}
