//! Unit tests for the Go-compatible JSON printer.

use super::{to_go_pretty, to_go_string};
use serde_json::{json, Value};

#[test]
fn strings_use_gos_escapes() {
    let v = json!("<a href=\"x\">&amp;\\</a>");
    assert_eq!(
        to_go_string(&v),
        r#""\u003ca href=\"x\"\u003e\u0026amp;\\\u003c/a\u003e""#
    );
    let controls = json!("a\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é\u{2028}\u{2029}z");
    assert_eq!(
        to_go_string(&controls),
        "\"a\\u0001\\u0008\\u000c\\n\\r\\t\\u001f\u{7f}é\\u2028\\u2029z\""
    );
}

#[test]
fn keys_are_escaped_too() {
    let v = json!({"a<b": 1});
    assert_eq!(to_go_string(&v), r#"{"a\u003cb":1}"#);
}

#[test]
fn integers_print_plainly() {
    let v = json!([0, -1, 18446744073709551615u64, -9223372036854775808i64]);
    assert_eq!(
        to_go_string(&v),
        "[0,-1,18446744073709551615,-9223372036854775808]"
    );
}

#[test]
fn floats_follow_gos_float64_encoder() {
    let cases: &[(f64, &str)] = &[
        (0.5, "0.5"),
        (3.0, "3"),
        (-0.0, "-0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.23456789e23, "1.23456789e+23"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (-2.5e-8, "-2.5e-8"),
        (1.5e-10, "1.5e-10"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ];
    for (f, want) in cases {
        assert_eq!(to_go_string(&json!(f)), *want, "for {f:?}");
    }
}

#[test]
fn compact_has_no_white_space_and_keeps_key_order() {
    let v: Value = serde_json::from_str(r#"{ "z": [1, {"b": null, "a": true}], "a": {} }"#)
        .expect("valid JSON");
    assert_eq!(to_go_string(&v), r#"{"z":[1,{"b":null,"a":true}],"a":{}}"#);
}

#[test]
fn pretty_matches_json_indent_with_tabs() {
    let v = json!({"a": [], "b": {}, "c": [1, {"d": "x"}], "e": false});
    let want = "{\n\t\"a\": [],\n\t\"b\": {},\n\t\"c\": [\n\t\t1,\n\t\t{\n\t\t\t\"d\": \"x\"\n\t\t}\n\t],\n\t\"e\": false\n}";
    assert_eq!(to_go_pretty(&v), want);
    assert_eq!(to_go_pretty(&json!([])), "[]");
    assert_eq!(to_go_pretty(&json!("<")), "\"\\u003c\"");
}

#[test]
fn output_parses_back_to_the_same_value() {
    let v = json!({"s": "\u{0}<>&\u{2028}\"\\", "n": [1.5e300, -7, 2.5e-9], "o": {"x": [[], {}]}});
    let compact: Value = serde_json::from_str(&to_go_string(&v)).expect("compact parses");
    let pretty: Value = serde_json::from_str(&to_go_pretty(&v)).expect("pretty parses");
    assert_eq!(compact, v);
    assert_eq!(pretty, v);
}

/// A few conformance cases, compared byte for byte (the full sweep is
/// `tests/json_roundtrip.rs`); skipped when the folder is absent.
#[test]
fn conformance_samples_round_trip() {
    let dir = std::env::var_os("BELLHOP_CONFORMANCE_DIR").map_or_else(
        || {
            std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/conformance/caddyfile_adapt"
            ))
        },
        std::path::PathBuf::from,
    );
    let names = [
        "matcher_syntax.caddyfiletest",
        "map_and_vars_with_raw_types.caddyfiletest",
        "log_filter_no_wrap.caddyfiletest",
    ];
    for name in names {
        let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
            continue;
        };
        let (_, expected) = text.split_once("----------").expect("dashes");
        let expected = expected.trim();
        let value: Value = serde_json::from_str(expected).expect("expected JSON parses");
        assert_eq!(to_go_pretty(&value), expected, "{name}");
    }
}
