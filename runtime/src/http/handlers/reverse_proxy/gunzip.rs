//! The HTTP transport's `compression` (on unless set to false), as Go's
//! transport does it: when the client's request names no
//! `Accept-Encoding` (and is not a HEAD or a `Range` request), the
//! upstream request asks for `gzip`; a gzip response to such a request
//! is decompressed on the fly, its `Content-Encoding` and
//! `Content-Length` removed. Requests that name an encoding themselves
//! get the upstream's answer untouched.

use crate::http::body::BoxError;
use crate::http::Body;
use bytes::Bytes;
use flate2::write::GzDecoder;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, RANGE};
use http::{HeaderValue, Method};
use http_body::Frame;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Adds `Accept-Encoding: gzip` when the transport may decompress this
/// request's response; returns whether it did.
pub fn request_gzip<B>(req: &mut http::Request<B>) -> bool {
    let h = req.headers();
    if h.contains_key(ACCEPT_ENCODING) || h.contains_key(RANGE) || req.method() == Method::HEAD {
        return false;
    }
    req.headers_mut()
        .insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    true
}

/// Decompresses a gzip response to a request [`request_gzip`] marked.
pub fn decode_response(resp: http::Response<Body>) -> http::Response<Body> {
    let gzip = resp
        .headers()
        .get(CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    if !gzip {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(CONTENT_ENCODING);
    parts.headers.remove(CONTENT_LENGTH);
    let body = Body::stream(Gunzip {
        inner: body,
        dec: Some(GzDecoder::new(Vec::new())),
    });
    http::Response::from_parts(parts, body)
}

struct Gunzip {
    inner: Body,
    dec: Option<GzDecoder<Vec<u8>>>,
}

impl http_body::Body for Gunzip {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(dec) = this.dec.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(f))) => match f.into_data() {
                    Ok(d) => {
                        if let Err(e) = dec.write_all(&d) {
                            return Poll::Ready(Some(Err(e.into())));
                        }
                        let out = std::mem::take(dec.get_mut());
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out.into()))));
                        }
                    }
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                Poll::Ready(None) => {
                    let mut dec = this.dec.take().expect("decoder present");
                    return match dec.try_finish() {
                        Err(e) => Poll::Ready(Some(Err(e.into()))),
                        Ok(()) => {
                            let out = std::mem::take(dec.get_mut());
                            Poll::Ready((!out.is_empty()).then(|| Ok(Frame::data(out.into()))))
                        }
                    };
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.dec.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn only_requests_without_an_encoding_ask_for_gzip() {
        let mut r = http::Request::new(());
        assert!(request_gzip(&mut r));
        assert_eq!(r.headers()[ACCEPT_ENCODING], "gzip");
        let mut r = http::Request::builder()
            .header(ACCEPT_ENCODING, "br")
            .body(())
            .unwrap();
        assert!(!request_gzip(&mut r));
        let mut r = http::Request::builder().method("HEAD").body(()).unwrap();
        assert!(!request_gzip(&mut r));
    }

    #[tokio::test]
    async fn gzip_bodies_are_decoded() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello, gzip").unwrap();
        let gz = enc.finish().unwrap();
        let resp = http::Response::builder()
            .header(CONTENT_ENCODING, "gzip")
            .header(CONTENT_LENGTH, gz.len())
            .body(Body::from_bytes(gz))
            .unwrap();
        let resp = decode_response(resp);
        assert!(!resp.headers().contains_key(CONTENT_ENCODING));
        assert!(!resp.headers().contains_key(CONTENT_LENGTH));
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hello, gzip");
    }
}
