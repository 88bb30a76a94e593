//! OTLP's `ExportTraceServiceRequest` (opentelemetry-proto `trace/v1`) for
//! finished server spans, on the hand-written wire format of
//! `util/otlp/wire.rs`.

use crate::util::otlp::wire::{
    bytes, fixed64, key_value, message, nanos, resource, scope, uint, Value,
};
use std::time::SystemTime;

/// A finished server span.
pub struct Span {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent: Option<[u8; 8]>,
    pub name: String,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<(String, Value)>,
    /// A server error (5xx): the span's status is ERROR.
    pub error: bool,
}

/// `Span`: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6
/// (SERVER = 2), start 7 and end 8 (fixed64), attributes 9, status 15
/// (`code` 3: ERROR = 2).
fn span(out: &mut Vec<u8>, s: &Span) {
    message(out, 2, |m| {
        bytes(m, 1, &s.trace_id);
        bytes(m, 2, &s.span_id);
        if let Some(p) = &s.parent {
            bytes(m, 4, p);
        }
        bytes(m, 5, s.name.as_bytes());
        uint(m, 6, 2);
        fixed64(m, 7, nanos(s.start));
        fixed64(m, 8, nanos(s.end));
        for (k, v) in &s.attributes {
            key_value(m, 9, k, v);
        }
        if s.error {
            message(m, 15, |st| uint(st, 3, 2));
        }
    });
}

/// `ExportTraceServiceRequest { ResourceSpans resource_spans = 1 }` with
/// one resource (`resource` = 1) and one scope (`scope_spans` = 2: `scope`
/// = 1, `spans` = 2).
pub fn export_request(res: &[(String, Value)], spans: &[Span]) -> Vec<u8> {
    let mut out = Vec::new();
    message(&mut out, 1, |rs| {
        resource(rs, 1, res);
        message(rs, 2, |ss| {
            scope(ss, 1);
            for s in spans {
                span(ss, s);
            }
        });
    });
    out
}
