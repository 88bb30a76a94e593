//! One HTTP/1.1 `POST` on a connection of its own, for what talks to a
//! configured URL now and then from the background (OTLP exports, OCSP
//! responders): no pool worth keeping. Plain HTTP, or HTTPS through the
//! caller's TLS connector; the answer's status and body. [`exchange`]
//! sends any one request on a stream the caller opened (on-demand TLS's
//! `ask` GET).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// Posts `body` as `content_type` (plus `headers`) to `uri`; `tls` is
/// required for an `https` URI and used only for one.
pub async fn post(
    uri: &http::Uri,
    content_type: &'static str,
    headers: &[(http::HeaderName, http::HeaderValue)],
    body: Vec<u8>,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> Result<(http::StatusCode, Bytes), String> {
    let https = uri.scheme_str() == Some("https");
    let (host, port) = host_port(uri, https).ok_or("the URL has no host")?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let mut req = http::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(
            http::header::HOST,
            uri.authority().map_or("", |a| a.as_str()),
        )
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    for (k, v) in headers {
        req.headers_mut().append(k.clone(), v.clone());
    }
    if !https {
        return exchange(TokioIo::new(tcp), req).await;
    }
    let tls = tls.ok_or("an https URL needs a TLS client")?;
    let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| e.to_string())?;
    let stream = tls
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    exchange(TokioIo::new(stream), req).await
}

/// The host to connect to (an IPv6 literal without brackets) and the
/// port, the scheme's default when the URL names none.
pub fn host_port(uri: &http::Uri, https: bool) -> Option<(String, u16)> {
    let host = uri.host()?.trim_matches(['[', ']']).to_string();
    Some((host, uri.port_u16().unwrap_or(if https { 443 } else { 80 })))
}

/// Sends `req` on a connection of its own over `io` (HTTP/1.1): the
/// answer's status and whole body.
pub async fn exchange<I, B>(
    io: I,
    req: http::Request<B>,
) -> Result<(http::StatusCode, Bytes), String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}
