//! OTLP's protobuf encoding of finished spans (`ExportTraceServiceRequest`
//! of opentelemetry-proto's `trace/v1`), by hand: the handful of messages
//! a server span needs, so no protobuf toolchain is built for them.

use std::time::{SystemTime, UNIX_EPOCH};

/// An attribute value.
pub enum Value {
    Str(String),
    Int(i64),
}

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

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn message(out: &mut Vec<u8>, field: u32, build: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    build(&mut inner);
    bytes(out, field, &inner);
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `KeyValue { key = 1; AnyValue value = 2 }`, `AnyValue { string_value
/// = 1; int_value = 3 }`.
fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &Value) {
    message(out, field, |kv| {
        bytes(kv, 1, key.as_bytes());
        message(kv, 2, |v| match value {
            Value::Str(s) => bytes(v, 1, s.as_bytes()),
            Value::Int(i) => {
                tag(v, 3, 0);
                varint(v, *i as u64);
            }
        });
    });
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
        tag(m, 6, 0);
        varint(m, 2);
        tag(m, 7, 1);
        m.extend_from_slice(&nanos(s.start).to_le_bytes());
        tag(m, 8, 1);
        m.extend_from_slice(&nanos(s.end).to_le_bytes());
        for (k, v) in &s.attributes {
            key_value(m, 9, k, v);
        }
        if s.error {
            message(m, 15, |st| {
                tag(st, 3, 0);
                varint(st, 2);
            });
        }
    });
}

/// `ExportTraceServiceRequest { ResourceSpans resource_spans = 1 }` with
/// one resource (`resource` = 1, its attributes = 1) and one scope
/// (`scope_spans` = 2; `scope` = 1 with `name` = 1, `version` = 2;
/// `spans` = 2).
pub fn export_request(
    resource: &[(String, Value)],
    scope: (&str, &str),
    spans: &[Span],
) -> Vec<u8> {
    let mut out = Vec::new();
    message(&mut out, 1, |rs| {
        message(rs, 1, |r| {
            for (k, v) in resource {
                key_value(r, 1, k, v);
            }
        });
        message(rs, 2, |ss| {
            message(ss, 1, |sc| {
                bytes(sc, 1, scope.0.as_bytes());
                bytes(sc, 2, scope.1.as_bytes());
            });
            for s in spans {
                span(ss, s);
            }
        });
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_a_known_encoding() {
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        // KeyValue{key:"a", value:{string_value:"b"}} as field 1.
        let mut kv = Vec::new();
        key_value(&mut kv, 1, "a", &Value::Str("b".into()));
        assert_eq!(
            kv,
            [0x0a, 0x08, 0x0a, 0x01, b'a', 0x12, 0x03, 0x0a, 0x01, b'b']
        );
    }
}
