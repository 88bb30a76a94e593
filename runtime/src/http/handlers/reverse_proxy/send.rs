//! Sending a request on a connection of the HTTP transport: on one of our
//! own HTTP/1.1 connections when `h1` covers the request (its body is in
//! memory, no upgrade, no client `Transfer-Encoding`, no gated
//! `Expect: 100-continue`), else through hyper's client (the connection
//! is handed over for good). A kept-alive connection the upstream closed
//! before answering is dialled anew once for a replayable request, as Go's
//! transport does. Both paths set `Connection: close` without keep-alive,
//! use absolute form through an HTTP forward proxy, ask for gzip under
//! `compression`, and time the response head (`response_header_timeout`).

use super::direct::{Direct, HeadFields};
use super::forward_proxy::ForwardProxy;
use super::h1::{self, H1Body, H1Conn, H1Error, Keep};
use super::pool::{HyperSender, IdleConns, PooledBody, Sender};
use super::prepare::UpBody;
use super::response_body::{decode_response, request_gzip};
use super::transport_http::{Conn, HttpTransport, Origin, RtError};
use super::upstreams::DialAddr;
use crate::http::Body;
use bytes::Bytes;
use futures_util::future::Either;
use futures_util::FutureExt;
use http::header::{CONNECTION, EXPECT, TRANSFER_ENCODING, UPGRADE};
use http::{Method, Uri};
use std::future::Future;
use std::sync::Arc;

impl HttpTransport {
    /// Sends `req` (origin-form URI, Host header set) on `conn`. (Not
    /// async fns, here and in `send_own`: an async fn keeps its arguments
    /// twice in its future, and this one is polled on every request.)
    pub fn send<'a>(
        &'a self,
        conn: Conn,
        addr: &'a DialAddr,
        req: http::Request<UpBody>,
        keep: Keep,
    ) -> impl Future<Output = Result<http::Response<Body>, RtError>> + Send + 'a {
        let Conn { sender, origin } = conn;
        match sender {
            Sender::Own(c) if self.own_covers(&req) => {
                Either::Left(self.send_own(c, origin, addr, req, keep))
            }
            // hyper's futures are large: boxed, the common path's stays small.
            other => Either::Right(Box::pin(self.send_hyper(other, origin.idle, addr, req))),
        }
    }

    /// Sends `req` through hyper's client.
    async fn send_hyper(
        &self,
        sender: Sender,
        idle: IdleConns,
        addr: &DialAddr,
        mut req: http::Request<UpBody>,
    ) -> Result<http::Response<Body>, RtError> {
        let mut hyper = match sender {
            Sender::Own(c) => self.to_hyper(c).await?,
            Sender::H1(s) => HyperSender::H1(s),
            Sender::H2(s) => HyperSender::H2(s),
        };
        if let HyperSender::H2(_) = hyper {
            to_h2_form(&mut req, self.uses_tls(addr))?;
        } else {
            self.h1_form(&mut req, addr)?;
            self.expect_continue(&mut req);
        }
        let (closing, gzip) = self.closing_and_gzip(&mut req);
        let resp = self.timed(hyper.send(req)).await?;
        let ret = match hyper {
            HyperSender::H1(_) if self.keepalive && !closing => Some((hyper.into_sender(), idle)),
            _ => None,
        };
        let resp = resp.map(|b| Body::stream(PooledBody::new(b, ret)));
        Ok(if gzip { decode_response(resp) } else { resp })
    }

    /// Whether our own exchange can send `req` (see `h1`).
    fn own_covers(&self, req: &http::Request<UpBody>) -> bool {
        let h = req.headers();
        let gated = self.expect_timeout.is_some() && h.contains_key(EXPECT);
        req.body().is_in_memory()
            && !gated
            && !h.contains_key(UPGRADE)
            && !h.contains_key(TRANSFER_ENCODING)
    }

    fn send_own<'a>(
        &'a self,
        c: Box<H1Conn>,
        origin: Origin,
        addr: &'a DialAddr,
        mut req: http::Request<UpBody>,
        keep: Keep,
    ) -> impl Future<Output = Result<http::Response<Body>, RtError>> + Send + 'a {
        let formed = self.h1_form(&mut req, addr);
        let (closing, gzip) = self.closing_and_gzip(&mut req);
        let (parts, body) = req.into_parts();
        let body = body.into_bytes();
        async move {
            formed?;
            let x = Exchange {
                closing,
                gzip,
                replayable: replayable(&parts.method, &parts.headers),
                keep: raw_unless_gzip(keep, gzip),
            };
            let r = self.send_fields(
                c,
                origin,
                addr,
                &parts.method,
                &parts.uri,
                &parts.headers,
                body,
                x,
            );
            r.await
        }
    }

    /// Where a request whose fields can be written from the client's
    /// goes on `conn`: [`Route::Direct`] on one of our own connections, with
    /// no forward proxy in absolute form and no gated
    /// `Expect: 100-continue` (the caller sees to a body in memory); else
    /// [`Route::Map`].
    pub fn route<'c>(&self, conn: Conn, fields: Direct<'c>) -> Route<'c> {
        let covered = self.proxy.as_deref().is_none_or(|p| !p.absolute_form())
            && !(self.expect_timeout.is_some() && fields.has(&EXPECT));
        match conn {
            Conn {
                sender: Sender::Own(c),
                origin,
            } if covered => Route::Direct(Own { c, origin }, fields),
            conn => Route::Map(conn),
        }
    }

    /// Sends a request whose fields are written straight from the
    /// client's on our own connection (see [`Self::route`]); `uri` in
    /// origin form.
    #[allow(clippy::too_many_arguments)]
    pub fn send_direct<'a>(
        &'a self,
        own: Own,
        addr: &'a DialAddr,
        method: &'a Method,
        uri: &'a Uri,
        fields: &'a mut Direct<'_>,
        body: Bytes,
        keep: Keep,
    ) -> impl Future<Output = Result<http::Response<Body>, RtError>> + Send + 'a {
        fields.close |= !self.keepalive;
        let gzip = fields.ask_gzip(self.compression);
        let x = Exchange {
            closing: fields.close,
            gzip,
            replayable: replayable(method, fields.client()),
            keep: raw_unless_gzip(keep, gzip),
        };
        self.send_fields(own.c, own.origin, addr, method, uri, &*fields, body, x)
    }

    /// Our own exchange of a head of `fields` and `body`, dialled anew
    /// once when a kept-alive connection turns out closed.
    #[allow(clippy::too_many_arguments)]
    async fn send_fields<F: HeadFields + ?Sized>(
        &self,
        c: Box<H1Conn>,
        origin: Origin,
        addr: &DialAddr,
        method: &Method,
        uri: &Uri,
        fields: &F,
        body: Bytes,
        x: Exchange,
    ) -> Result<http::Response<Body>, RtError> {
        // One await of the exchange (a second, after a redial, would
        // make the future hold two).
        let (mut c, mut retried) = (c, false);
        let (head, c) = loop {
            let fut = h1::exchange(c, method, uri, fields, body.clone(), x.keep);
            match self.timed(fut).await {
                Err(RtError::H1(H1Error::Stale)) if !retried && x.replayable => {
                    c = Box::pin(self.redial(addr, &origin)).await?;
                    retried = true;
                }
                other => break other?,
            }
        };
        let keep = self.keepalive && !x.closing && head.keep_alive;
        let mut body = H1Body::new(c, head.framing, keep.then_some(origin.idle));
        let body = match body.take_whole() {
            Some(whole) => Body::from_bytes(whole),
            None => Body::stream(body),
        };
        let mut resp = http::Response::new(body);
        *resp.status_mut() = head.status;
        *resp.version_mut() = head.version;
        *resp.headers_mut() = head.headers;
        if let Some(raw) = head.raw {
            raw.attach(resp.extensions_mut());
        }
        Ok(if x.gzip { decode_response(resp) } else { resp })
    }

    /// `fut` under `response_header_timeout` (not an async fn: that would
    /// hold `fut` twice, before and inside the timeout).
    fn timed<F, T, E>(&self, fut: F) -> impl Future<Output = Result<T, RtError>>
    where
        F: Future<Output = Result<T, E>>,
        RtError: From<E>,
    {
        match self.header_timeout {
            Some(t) => Either::Left(tokio::time::timeout(t, fut).map(|r| match r {
                Ok(r) => r.map_err(RtError::from),
                Err(_) => Err(RtError::Timeout),
            })),
            None => Either::Right(fut.map(|r| r.map_err(RtError::from))),
        }
    }

    /// An HTTP/1.1 request: `Connection: close` without keep-alive, and
    /// absolute form through an HTTP proxy to a plain upstream.
    fn h1_form(&self, req: &mut http::Request<UpBody>, addr: &DialAddr) -> Result<(), RtError> {
        if !self.keepalive {
            req.headers_mut()
                .insert(CONNECTION, http::HeaderValue::from_static("close"));
        }
        if let Some(p) = self.proxy.as_deref().filter(|p| p.absolute_form()) {
            if !self.uses_tls(addr) {
                to_proxy_form(req, addr, p)?;
            }
        }
        Ok(())
    }

    /// Whether the request closes its connection, and whether gzip is
    /// asked for on the transport's behalf (`compression`).
    fn closing_and_gzip(&self, req: &mut http::Request<UpBody>) -> (bool, bool) {
        let closing = req
            .headers()
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        (closing, self.compression && request_gzip(req))
    }

    /// `expect_continue_timeout`: a request with `Expect: 100-continue`
    /// sends its head, then its body only once the upstream answered
    /// `100 Continue` or the timeout passed (HTTP/1.1; without the
    /// setting the body follows at once, as in Go).
    fn expect_continue(&self, req: &mut http::Request<UpBody>) {
        let Some(timeout) = self.expect_timeout else {
            return;
        };
        let expects = req
            .headers()
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !expects {
            return;
        }
        let go = Arc::new(tokio::sync::Notify::new());
        let notify = go.clone();
        hyper::ext::on_informational(req, move |r| {
            if r.status() == http::StatusCode::CONTINUE {
                notify.notify_one();
            }
        });
        req.body_mut().hold_until(go, timeout);
    }
}

/// One of our own connections, taken for a request.
pub struct Own {
    c: Box<H1Conn>,
    origin: Origin,
}

/// How a request is sent: its fields written from the client's on our own
/// connection, or made in a map first.
pub enum Route<'c> {
    Direct(Own, Direct<'c>),
    Map(Conn),
}

/// How one of our own exchanges goes: whether the request closes its
/// connection, asks for gzip on the transport's behalf, may be sent again
/// on a new connection, and what becomes of the response's fields.
struct Exchange {
    closing: bool,
    gzip: bool,
    replayable: bool,
    keep: Keep,
}

/// `keep`, but the fields of a gzip answer, when gzip was asked for on
/// the client's behalf, go into the map (it is decoded on the way).
fn raw_unless_gzip(keep: Keep, gzip: bool) -> Keep {
    match (keep, gzip) {
        (Keep::Raw, true) => Keep::RawUnlessGzip,
        _ => keep,
    }
}

/// Go's `isReplayable` for a request whose body is in memory: safe to
/// send again when the first connection failed before any answer.
fn replayable(method: &Method, headers: &http::HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) || headers.contains_key("idempotency-key")
        || headers.contains_key("x-idempotency-key")
}

/// A request to a plain HTTP upstream by way of an HTTP proxy: the
/// absolute URI of the upstream, and the proxy's credentials.
fn to_proxy_form(
    req: &mut http::Request<UpBody>,
    addr: &DialAddr,
    p: &ForwardProxy,
) -> Result<(), RtError> {
    if let DialAddr::Unix(_) = addr {
        return Ok(());
    }
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    *req.uri_mut() = format!("http://{}{pq}", addr.hostport())
        .parse()
        .map_err(|e| RtError::Other(format!("upstream URI: {e}")))?;
    if let Some(a) = &p.authorization {
        req.headers_mut()
            .insert(http::header::PROXY_AUTHORIZATION, a.clone());
    }
    Ok(())
}

/// HTTP/2 wants an absolute URI (`:authority` from the Host header).
fn to_h2_form(req: &mut http::Request<UpBody>, tls: bool) -> Result<(), RtError> {
    let host = req
        .headers_mut()
        .remove(http::header::HOST)
        .and_then(|h| h.to_str().ok().map(String::from))
        .unwrap_or_else(|| "localhost".into());
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let scheme = if tls { "https" } else { "http" };
    *req.uri_mut() = format!("{scheme}://{host}{pq}")
        .parse()
        .map_err(|e| RtError::Other(format!("upstream URI: {e}")))?;
    *req.version_mut() = http::Version::HTTP_2;
    Ok(())
}
