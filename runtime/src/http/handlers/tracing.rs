//! `http.handlers.tracing`: W3C Trace Context for the requests it handles,
//! as Caddy's OpenTelemetry handler propagates it.
//!
//! A valid incoming `traceparent` header continues its trace (same trace
//! ID and sampled flag); otherwise a new trace starts, sampled. Each
//! request gets a new span ID. The request's `traceparent` is then
//! rewritten to name this span as the parent, so upstreams (reverse_proxy)
//! continue the trace; `tracestate` and `baggage` pass through untouched.
//! The IDs are available as `{http.vars.trace_id}` and
//! `{http.vars.span_id}`.
//!
//! A sampled request's server span is exported over OTLP when it has been
//! answered (`otlp.rs`, configured by the `OTEL_*` environment as the
//! OpenTelemetry SDKs are; `proto.rs` encodes it): named `span` (default
//! `handler`; placeholders expand), with the request's semantic-convention
//! attributes (method, path, scheme, host, status, user agent, client
//! address, protocol version) and `span_attributes` (placeholders
//! expand), ERROR for a 5xx. The server ends the span with the response
//! it sends, the error routes' included.
//!
//! Caddyfile: `tracing [<matcher>] { span <name>; span_attributes { <key> <value> } }`.

mod otlp;
mod proto;

use crate::error::Error;
use crate::http::replacer::Template;
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use http::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    span: String,
    #[serde(default)]
    span_attributes: BTreeMap<String, String>,
}

struct Tracing {
    spans: Option<Arc<Spans>>,
}

/// How a handler's spans are named, labelled and sent.
struct Spans {
    name: Template,
    attributes: Vec<(String, Template)>,
    exporter: &'static otlp::Exporter,
}

/// A request's open span, ended (and exported) by the server once the
/// response is known, error routes included.
pub struct SpanEnd {
    spans: Arc<Spans>,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    at: std::time::SystemTime,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let name = if c.span.is_empty() {
        "handler"
    } else {
        &c.span
    };
    let spans = otlp::exporter().map(|exporter| {
        Arc::new(Spans {
            name: Template::parse(name),
            attributes: c
                .span_attributes
                .iter()
                .map(|(k, v)| (k.clone(), Template::parse(v)))
                .collect(),
            exporter,
        })
    });
    Ok(Box::new(Tracing { spans }))
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    if s.len() != N * 2 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The parts of a `traceparent` header this handler uses.
#[derive(Debug, PartialEq)]
pub struct Parent {
    pub trace_id: String,
    pub span_id: String,
    pub sampled: bool,
}

/// Parses a `traceparent` value (`00-<32 hex>-<16 hex>-<2 hex>`); `None`
/// when it is not valid W3C Trace Context (all-zero IDs, version `ff`,
/// wrong lengths, upper-case hex).
pub fn parse_traceparent(v: &str) -> Option<Parent> {
    let mut parts = v.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    if !valid {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(Parent {
        trace_id: trace.to_string(),
        span_id: parent.to_string(),
        sampled: flags & 1 == 1,
    })
}

fn random_hex(words: usize) -> String {
    let mut s = String::with_capacity(words * 16);
    loop {
        s.clear();
        for _ in 0..words {
            let _ = write!(s, "{:016x}", crate::util::random_u64());
        }
        if s.bytes().any(|b| b != b'0') {
            return s;
        }
    }
}

impl Handler for Tracing {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        let parent = cx
            .parts
            .headers
            .get(&TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_traceparent);
        let (trace_id, parent_span, sampled) = match parent {
            Some(p) => (p.trace_id, Some(p.span_id), p.sampled),
            None => (random_hex(2), None, true),
        };
        let span_id = random_hex(1);
        let header = format!(
            "00-{trace_id}-{span_id}-{}",
            if sampled { "01" } else { "00" }
        );
        if let Ok(v) = HeaderValue::from_str(&header) {
            cx.parts.headers.insert(TRACEPARENT, v);
        }
        if let (Some(spans), true) = (&self.spans, sampled) {
            if let (Some(t), Some(s)) = (unhex::<16>(&trace_id), unhex::<8>(&span_id)) {
                cx.spans.push(SpanEnd {
                    spans: spans.clone(),
                    trace_id: t,
                    span_id: s,
                    parent: parent_span.as_deref().and_then(unhex::<8>),
                    at: std::time::SystemTime::now(),
                });
            }
        }
        cx.set_var("trace_id", trace_id);
        cx.set_var("span_id", span_id);
        Step::Next
    }
}

impl SpanEnd {
    /// Ends the span of a request answered with `status`, and queues it.
    pub fn end(self, cx: &Cx<'_>, status: http::StatusCode) {
        let exporter = self.spans.exporter;
        exporter.submit(self.finish(cx, status));
    }

    fn finish(&self, cx: &Cx<'_>, status: http::StatusCode) -> proto::Span {
        use crate::util::otlp::wire::Value::{Int, Str};
        let p = &cx.parts;
        let text = |v: &str| Str(v.to_string());
        let mut attributes = vec![
            ("http.request.method".to_string(), text(p.method.as_str())),
            ("url.scheme".to_string(), text(cx.conn.scheme())),
            ("url.path".to_string(), text(p.uri.path())),
            (
                "http.response.status_code".to_string(),
                Int(i64::from(status.as_u16())),
            ),
            (
                "client.address".to_string(),
                Str(cx.conn.remote_ip().to_string()),
            ),
            (
                "network.protocol.version".to_string(),
                text(match p.version {
                    http::Version::HTTP_10 => "1.0",
                    http::Version::HTTP_2 => "2",
                    http::Version::HTTP_3 => "3",
                    _ => "1.1",
                }),
            ),
        ];
        let host = p
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok());
        if let Some(host) = host.or_else(|| p.uri.host()) {
            let host = host
                .rsplit_once(':')
                .filter(|(_, port)| port.parse::<u16>().is_ok())
                .map_or(host, |(h, _)| h);
            attributes.push(("server.address".to_string(), text(host)));
        }
        if let Some(ua) = p
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
        {
            attributes.push(("user_agent.original".to_string(), text(ua)));
        }
        for (k, t) in &self.spans.attributes {
            attributes.push((k.clone(), Str(t.render(cx).into_owned())));
        }
        proto::Span {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent: self.parent,
            name: self.spans.name.render(cx).into_owned(),
            start: self.at,
            end: std::time::SystemTime::now(),
            attributes,
            error: status.is_server_error(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_traceparent, Parent};

    #[test]
    fn traceparent_forms() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            parse_traceparent(ok),
            Some(Parent {
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                span_id: "00f067aa0ba902b7".into(),
                sampled: true
            })
        );
        let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        assert!(!parse_traceparent(unsampled).unwrap().sampled);
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f35-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
        // A later version may carry more fields.
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more")
                .is_some()
        );
    }
}
