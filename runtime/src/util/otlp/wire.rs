//! Protobuf's wire format, by hand, for OTLP's messages: varints, tags,
//! length-delimited fields, fixed64 and doubles, and the common
//! `KeyValue`/`AnyValue` and `Resource` messages.

/// An attribute value.
pub enum Value {
    Str(String),
    Int(i64),
}

pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

/// A varint field.
pub fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, 0);
    varint(out, v);
}

/// A fixed64 field.
pub fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, 1);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A double field.
pub fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    fixed64(out, field, v.to_bits());
}

pub fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub fn message(out: &mut Vec<u8>, field: u32, build: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    build(&mut inner);
    bytes(out, field, &inner);
}

/// `KeyValue { key = 1; AnyValue value = 2 }`, `AnyValue { string_value
/// = 1; int_value = 3 }`.
pub fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &Value) {
    message(out, field, |kv| {
        bytes(kv, 1, key.as_bytes());
        message(kv, 2, |v| match value {
            Value::Str(s) => bytes(v, 1, s.as_bytes()),
            Value::Int(i) => uint(v, 3, *i as u64),
        });
    });
}

/// `Resource { repeated KeyValue attributes = 1 }` as field `field`.
pub fn resource(out: &mut Vec<u8>, field: u32, attributes: &[(String, Value)]) {
    message(out, field, |r| {
        for (k, v) in attributes {
            key_value(r, 1, k, v);
        }
    });
}

/// `InstrumentationScope { name = 1; version = 2 }` as field `field`.
pub fn scope(out: &mut Vec<u8>, field: u32) {
    message(out, field, |sc| {
        bytes(sc, 1, b"bellhop");
        bytes(sc, 2, env!("CARGO_PKG_VERSION").as_bytes());
    });
}

/// Unix nanoseconds of a time.
pub fn nanos(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
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
