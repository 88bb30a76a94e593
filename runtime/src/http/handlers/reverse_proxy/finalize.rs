//! Making the client's response from an upstream's (Caddy's
//! `finalizeResponse`): hop-by-hop removal (trailers stay announced; the
//! fields kept as they came have those lines left out already), `Via`,
//! `header_down` operations, response buffering and `flush_interval`; a
//! 101 goes to `tunnel`.

use super::headers::{strip_hop, via, via_line};
use super::prepare::buffer;
use super::respond::Shared;
use super::response_body::FlushPolicy;
use crate::http::body::BoxError;
use crate::http::raw_fields::RawFields;
use crate::http::{Body, Cx};
use bytes::Bytes;
use http::StatusCode;
use http_body::Frame;
use std::pin::Pin;
use std::task::{Context, Poll};

impl Shared {
    /// Makes the client's response from the upstream's, in place (each
    /// move of a response is a copy of 150 bytes).
    pub async fn finalize(&self, cx: &mut Cx<'_>, resp: &mut http::Response<Body>) {
        // As Caddy's `finalizeResponse`: the upstream's `Server`, or none.
        cx.omit_server = true;
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            let upstream = std::mem::replace(resp, http::Response::new(Body::Empty));
            *resp = super::tunnel::switch_protocols(self, cx, upstream);
            return;
        }
        let policy = self.finalize_head(cx, resp);
        if self.response_buffers != 0 {
            let body = std::mem::replace(resp.body_mut(), Body::Empty);
            *resp.body_mut() = match Box::pin(buffer(body, self.response_buffers)).await {
                Ok((head, None)) => Body::from_bytes(head),
                Ok((head, Some(rest))) => Body::stream(Chain {
                    head: Some(head),
                    rest,
                }),
                Err(e) => Body::stream(ErrBody(Some(e))),
            };
        }
        if self.verbose {
            tracing::debug!(status = resp.status().as_u16(), flush = ?policy, "wrote upstream response header");
        }
        *resp.version_mut() = http::Version::HTTP_11;
        policy.apply(resp.body_mut(), self.verbose);
    }

    /// The head's part: hop-by-hop fields, `Via`, `header_down`; the
    /// flush policy for the body.
    fn finalize_head(&self, cx: &mut Cx<'_>, resp: &mut http::Response<Body>) -> FlushPolicy {
        let version = resp.version();
        let raw = resp.extensions_mut().get_mut::<RawFields>();
        if let Some(raw) = raw.filter(|_| self.response_ops.is_empty()) {
            // (Its hop-by-hop lines are left out already.)
            raw.add(via_line(version));
        } else {
            // (Fields kept as they came, should `header_down` be there
            // after all, go into the map it changes.)
            if let Some(raw) = resp.extensions_mut().remove::<RawFields>() {
                raw.into_map(resp.headers_mut());
            }
            let h = resp.headers_mut();
            strip_hop(h, false);
            h.append(http::header::VIA, via(version));
        }
        if !self.response_ops.is_empty()
            && self
                .response_require
                .as_ref()
                .is_none_or(|r| r.matches(cx, resp.status(), resp.headers()))
        {
            self.response_ops.apply(cx, resp.headers_mut());
        }
        self.flush.for_response(
            resp.headers(),
            http_body::Body::size_hint(resp.body()).exact(),
        )
    }
}

/// A body that fails at once (an upstream body that broke while
/// buffering).
pub struct ErrBody(pub Option<BoxError>);

impl http_body::Body for ErrBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.take().map(Err))
    }
}

/// A buffered head followed by the rest of a response body.
pub struct Chain {
    pub head: Option<Bytes>,
    pub rest: Body,
}

impl http_body::Body for Chain {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(h) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(h))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }
}
