//! The encoders of `encode` (`http.encoders.gzip`, `http.encoders.zstd`)
//! and [`EncodedBody`], a response body compressed as it streams.
//!
//! The streaming body compresses each chunk as it arrives and hands on
//! whatever output the compressor has produced; when the inner body has
//! nothing ready (it returned `Pending`) but input is still buffered in the
//! compressor, it flushes, so a slow stream (server-sent events, a proxied
//! response) is not held back waiting for more data.

use crate::error::Error;
use crate::http::body::BoxError;
use crate::http::Body;
use crate::registry::Provision;
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http_body::{Frame, SizeHint};
use serde::Deserialize;
use serde_json::Value;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Caddy's default gzip level.
const DEFAULT_GZIP_LEVEL: u32 = 5;
/// Caddy limits the zstd window to 128 KiB to spare clients' memory.
const ZSTD_WINDOW_LOG: u32 = 17;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GzipConfig {
    #[serde(default)]
    level: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZstdConfig {
    #[serde(default)]
    level: String,
    checksum: Option<bool>,
}

/// A configured encoding.
pub enum Codec {
    Gzip { level: u32 },
    Zstd { level: i32, checksum: bool },
}

impl Codec {
    /// Provisions the encoder `name` from its JSON at `path`.
    pub fn provision(name: &str, v: &Value, p: &Provision<'_>, path: &str) -> Result<Codec, Error> {
        match name {
            "gzip" => {
                let c: GzipConfig = p.decode(v, path)?;
                let level = match c.level {
                    0 => DEFAULT_GZIP_LEVEL,
                    l @ 1..=9 => l as u32,
                    l => {
                        return Err(Error::config(
                            format!("{path}.level"),
                            format!("gzip level {l} out of range (1-9)"),
                        ))
                    }
                };
                Ok(Codec::Gzip { level })
            }
            "zstd" => {
                let c: ZstdConfig = p.decode(v, path)?;
                // klauspost/compress levels, mapped to the zstd levels they
                // roughly correspond to.
                let level = match c.level.as_str() {
                    "fastest" => 1,
                    "" | "default" => 3,
                    "better" => 7,
                    "best" => 11,
                    other => {
                        return Err(Error::config(
                            format!("{path}.level"),
                            format!("unexpected compression level {other:?}, use one of 'fastest', 'default', 'better', 'best'"),
                        ))
                    }
                };
                Ok(Codec::Zstd {
                    level,
                    checksum: c.checksum.unwrap_or(true),
                })
            }
            other => Err(Error::UnknownModule {
                path: path.to_string(),
                id: format!("http.encoders.{other}"),
            }),
        }
    }

    /// The `Content-Encoding` token.
    pub fn name(&self) -> &'static str {
        match self {
            Codec::Gzip { .. } => "gzip",
            Codec::Zstd { .. } => "zstd",
        }
    }

    /// A fresh encoder writing into a buffer.
    pub fn encoder(&self) -> Encoder {
        match *self {
            Codec::Gzip { level } => {
                Encoder::Gzip(GzEncoder::new(Vec::new(), Compression::new(level)))
            }
            Codec::Zstd { level, checksum } => {
                let enc = zstd::stream::write::Encoder::new(Vec::new(), level).and_then(|mut e| {
                    e.include_checksum(checksum)?;
                    e.window_log(ZSTD_WINDOW_LOG)?;
                    Ok(e)
                });
                match enc {
                    Ok(e) => Encoder::Zstd(e),
                    Err(e) => Encoder::Failed(e.to_string()),
                }
            }
        }
    }

    /// Compresses a whole body at once.
    pub fn encode_all(&self, data: &[u8]) -> Body {
        let mut enc = self.encoder();
        match enc.write(data).and_then(|_| enc.finish()) {
            Ok(out) => Body::from_bytes(out),
            Err(e) => Body::stream(Failed(Some(e.into()))),
        }
    }
}

/// A compressor writing into a growing buffer.
pub enum Encoder {
    Gzip(GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    Failed(String),
}

impl Encoder {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_all(data),
            Encoder::Zstd(e) => e.write_all(data),
            Encoder::Failed(m) => Err(std::io::Error::other(m.clone())),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::Failed(m) => Err(std::io::Error::other(m.clone())),
        }
    }

    /// The output produced so far, taken out of the buffer.
    fn take(&mut self) -> Vec<u8> {
        match self {
            Encoder::Gzip(e) => std::mem::take(e.get_mut()),
            Encoder::Zstd(e) => std::mem::take(e.get_mut()),
            Encoder::Failed(_) => Vec::new(),
        }
    }

    /// Ends the stream; returns the remaining output.
    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Failed(m) => Err(std::io::Error::other(m)),
        }
    }
}

/// A body that fails at once (an encoder that could not start).
struct Failed(Option<BoxError>);

impl http_body::Body for Failed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(self.0.take().map(Err))
    }
}

/// A response body compressed as it streams.
pub struct EncodedBody {
    inner: Body,
    encoder: Option<Encoder>,
    /// Input written since the compressor was last flushed.
    dirty: bool,
    trailers: Option<http::HeaderMap>,
}

impl EncodedBody {
    /// Compresses `inner` with `encoder`.
    pub fn new(inner: Body, encoder: Encoder) -> Self {
        EncodedBody {
            inner,
            encoder: Some(encoder),
            dirty: false,
            trailers: None,
        }
    }
}

fn data(out: Vec<u8>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
    Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))))
}

impl http_body::Body for EncodedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(enc) = this.encoder.as_mut() else {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            };
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(chunk) => {
                        enc.write(&chunk)?;
                        this.dirty = true;
                        let out = enc.take();
                        if !out.is_empty() {
                            return data(out);
                        }
                    }
                    Err(frame) => this.trailers = frame.into_trailers().ok(),
                },
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    let enc = this.encoder.take().map(Encoder::finish);
                    match enc {
                        Some(Ok(out)) if !out.is_empty() => return data(out),
                        Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                        _ => {}
                    }
                }
                Poll::Pending if this.dirty => {
                    this.dirty = false;
                    enc.flush()?;
                    let out = enc.take();
                    if out.is_empty() {
                        return Poll::Pending;
                    }
                    return data(out);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.encoder.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// A content type for a body without one (a small part of Go's
/// `http.DetectContentType`: HTML and XML openings, a few binary
/// signatures, text, or else octet-stream).
pub fn sniff(b: &[u8]) -> &'static str {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(0);
    let t = &b[start..];
    let head = &t[..t.len().min(14)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    const HTML: &[&[u8]] = &[
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<body",
        b"<script",
        b"<div",
        b"<p",
        b"<!--",
    ];
    if HTML.iter().any(|p| lower.starts_with(p)) {
        return "text/html; charset=utf-8";
    }
    if t.starts_with(b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    const BINARY: &[(&[u8], &str)] = &[
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF8", "image/gif"),
        (b"\x1f\x8b\x08", "application/x-gzip"),
        (b"PK\x03\x04", "application/zip"),
    ];
    if let Some((_, ct)) = BINARY.iter().find(|(sig, _)| b.starts_with(sig)) {
        return ct;
    }
    let sample = &b[..b.len().min(512)];
    let binary = sample
        .iter()
        .any(|&c| c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b));
    if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}
