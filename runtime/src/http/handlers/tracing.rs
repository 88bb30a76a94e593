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
//! bellhop has no OpenTelemetry exporter: spans are not sent anywhere, so
//! `span` and `span_attributes` are accepted without effect (see
//! `config/unread.rs`).
//!
//! Caddyfile: `tracing [<matcher>] { span <name> }`.

use crate::error::Error;
use crate::http::{Cx, Handler, Step};
use crate::registry::Provision;
use http::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt::Write;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    span: String,
    #[serde(default)]
    span_attributes: BTreeMap<String, String>,
}

struct Tracing;

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    crate::config::unread::tracing_span(&c.span, &c.span_attributes);
    Ok(Box::new(Tracing))
}

/// The parts of a `traceparent` header this handler uses.
#[derive(Debug, PartialEq)]
pub struct Parent {
    pub trace_id: String,
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
        let (trace_id, sampled) = match parent {
            Some(p) => (p.trace_id, p.sampled),
            None => (random_hex(2), true),
        };
        let span_id = random_hex(1);
        let header = format!(
            "00-{trace_id}-{span_id}-{}",
            if sampled { "01" } else { "00" }
        );
        if let Ok(v) = HeaderValue::from_str(&header) {
            cx.parts.headers.insert(TRACEPARENT, v);
        }
        cx.set_var("trace_id", trace_id);
        cx.set_var("span_id", span_id);
        Step::Next
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
