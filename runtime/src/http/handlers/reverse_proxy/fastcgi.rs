//! The FastCGI wire protocol, client side (responder role): one request
//! per connection — BEGIN_REQUEST, PARAMS, STDIN — then STDOUT records
//! parsed as a CGI response (headers, `Status`, body), STDERR logged,
//! END_REQUEST closing the stream.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const VERSION: u8 = 1;
pub const BEGIN_REQUEST: u8 = 1;
pub const END_REQUEST: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const STDERR: u8 = 7;
const REQ_ID: u16 = 1;

/// Appends one record (content at most 65535 bytes).
pub fn record(out: &mut Vec<u8>, kind: u8, content: &[u8]) {
    let pad = (8 - content.len() % 8) % 8;
    out.extend_from_slice(&[VERSION, kind]);
    out.extend_from_slice(&REQ_ID.to_be_bytes());
    out.extend_from_slice(&(content.len() as u16).to_be_bytes());
    out.extend_from_slice(&[pad as u8, 0]);
    out.extend_from_slice(content);
    out.extend(std::iter::repeat_n(0, pad));
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    if n < 128 {
        out.push(n as u8);
    } else {
        out.extend_from_slice(&((n as u32) | 0x8000_0000).to_be_bytes());
    }
}

/// BEGIN_REQUEST and the PARAMS stream for `env`.
pub fn request_head(env: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    record(&mut out, BEGIN_REQUEST, &[0, 1, 0, 0, 0, 0, 0, 0]);
    let mut params = Vec::with_capacity(1024);
    for (k, v) in env {
        push_len(&mut params, k.len());
        push_len(&mut params, v.len());
        params.extend_from_slice(k.as_bytes());
        params.extend_from_slice(v.as_bytes());
    }
    for chunk in params.chunks(65535) {
        record(&mut out, PARAMS, chunk);
    }
    record(&mut out, PARAMS, &[]);
    out
}

/// Writes `data` as STDIN records (an empty slice ends the stream).
pub async fn write_stdin<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(data.len() + 16);
    if data.is_empty() {
        record(&mut out, STDIN, &[]);
    }
    for chunk in data.chunks(65535) {
        record(&mut out, STDIN, chunk);
    }
    w.write_all(&out).await
}

/// Reads the next record: its type and content.
pub async fn read_record<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(u8, Bytes)> {
    let mut h = [0u8; 8];
    r.read_exact(&mut h).await?;
    let len = u16::from_be_bytes([h[4], h[5]]) as usize;
    let mut buf = BytesMut::zeroed(len + h[6] as usize);
    r.read_exact(&mut buf).await?;
    buf.truncate(len);
    Ok((h[1], buf.freeze()))
}

/// Splits a CGI response head into status and headers.
pub fn parse_head(head: &[u8]) -> Result<(http::StatusCode, http::HeaderMap), String> {
    let text = String::from_utf8_lossy(head);
    let mut status = http::StatusCode::OK;
    let mut headers = http::HeaderMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("malformed CGI header line {line:?}"))?;
        let v = v.trim();
        if k.eq_ignore_ascii_case("status") {
            let code = v.split_whitespace().next().unwrap_or("");
            status = code
                .parse::<u16>()
                .ok()
                .and_then(|c| http::StatusCode::from_u16(c).ok())
                .ok_or_else(|| format!("invalid CGI status {v:?}"))?;
            continue;
        }
        let name = http::HeaderName::from_bytes(k.trim().as_bytes()).map_err(|e| e.to_string())?;
        let val = http::HeaderValue::from_str(v).map_err(|e| e.to_string())?;
        headers.append(name, val);
    }
    if headers.contains_key(http::header::LOCATION) && status == http::StatusCode::OK {
        status = http::StatusCode::FOUND;
    }
    Ok((status, headers))
}

/// Where the head ends in `buf` (after the blank line), and its length.
pub fn head_end(buf: &[u8]) -> Option<(usize, usize)> {
    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        return Some((i, i + 4));
    }
    buf.windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2))
}
