//! Caddy's `filters_test.go` tables, through the JSON config and the
//! fields text the encoder gets.

use super::Filters;
use serde_json::{json, Value};

/// The field `f` after `filter` (a filter object) is applied to `value`.
fn run(filter: Value, value: Value) -> Value {
    let fields = json!({ "f": filter });
    let f = Filters::provision(fields.as_object().unwrap(), "enc").unwrap();
    let text = json!({ "f": value }).to_string();
    let out = f.apply(&text[1..text.len() - 1]);
    let parsed: serde_json::Map<String, Value> =
        serde_json::from_str(&format!("{{{out}}}")).unwrap();
    parsed.get("f").cloned().unwrap_or(Value::Null)
}

#[test]
fn ip_mask() {
    let m = json!({"filter": "ip_mask", "ipv4_cidr": 16, "ipv6_cidr": 32});
    for (input, want) in [
        (json!("255.255.255.255"), json!("255.255.0.0")),
        (
            json!("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            json!("ffff:ffff::"),
        ),
        (json!("not-an-ip"), json!("not-an-ip")),
        (
            json!("255.255.255.255, 244.244.244.244"),
            json!("255.255.0.0, 244.244.0.0"),
        ),
        (
            json!(
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff, ff00:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
            ),
            json!("ffff:ffff::, ff00:ffff::"),
        ),
        (
            json!("not-an-ip, 255.255.255.255"),
            json!("not-an-ip, 255.255.0.0"),
        ),
        (
            json!(["255.255.255.255", "244.244.244.244"]),
            json!(["255.255.0.0", "244.244.0.0"]),
        ),
        (json!("10.1.2.3:8080"), json!("10.1.0.0:8080")),
        (json!("[2001:db8:1::5]:443"), json!("[2001:db8::]:443")),
        (json!(42), json!(42)),
    ] {
        assert_eq!(run(m.clone(), input.clone()), want, "{input}");
    }
    // a family without a mask: Go's IP.Mask(nil)
    let v6_only = json!({"filter": "ip_mask", "ipv6_cidr": 32});
    assert_eq!(run(v6_only, json!("1.2.3.4")), json!("<nil>"));
}

#[test]
fn query() {
    let f = json!({"filter": "query", "actions": [
        {"type": "replace", "parameter": "foo", "value": "REDACTED"},
        {"type": "replace", "parameter": "notexist", "value": "REDACTED"},
        {"type": "delete", "parameter": "bar"},
        {"type": "delete", "parameter": "notexist"},
        {"type": "hash", "parameter": "hash"}
    ]});
    assert_eq!(
        run(
            f.clone(),
            json!("/path?foo=a&foo=b&bar=c&bar=d&baz=e&hash=hashed")
        ),
        json!("/path?baz=e&foo=REDACTED&foo=REDACTED&hash=1a06df82")
    );
    assert_eq!(
        run(
            f,
            json!([
                "/path1?foo=a&foo=b&bar=c&bar=d&baz=e&hash=alpha",
                "/path2?foo=c&foo=d&bar=e&bar=f&baz=g&hash=beta"
            ])
        ),
        json!([
            "/path1?baz=e&foo=REDACTED&foo=REDACTED&hash=8ed3f6ad",
            "/path2?baz=g&foo=REDACTED&foo=REDACTED&hash=f44e64e7"
        ])
    );
}

#[test]
fn cookies() {
    let f = json!({"filter": "cookie", "actions": [
        {"type": "replace", "name": "foo", "value": "REDACTED"},
        {"type": "delete", "name": "bar"},
        {"type": "hash", "name": "hash"}
    ]});
    assert_eq!(
        run(f, json!(["foo=a; foo=b; bar=c; bar=d; baz=e; hash=hashed"])),
        json!(["foo=REDACTED; foo=REDACTED; baz=e; hash=1a06df82"])
    );
}

#[test]
fn set_cookies() {
    let f = json!({"filter": "set_cookie", "actions": [
        {"type": "replace", "name": "foo", "value": "REDACTED"},
        {"type": "delete", "name": "bar"},
        {"type": "hash", "name": "hash"}
    ]});
    assert_eq!(
        run(
            f,
            json!([
                "foo=\"a\"; Path=/; Priority=High",
                "bar=c; Path=/; Secure",
                "hash=hashed; Path=/; HttpOnly",
                "baz=e; Path=/; SameSite=Strict"
            ])
        ),
        json!([
            "foo=\"REDACTED\"; Path=/; Priority=High",
            "hash=1a06df82; Path=/; HttpOnly",
            "baz=e; Path=/; SameSite=Strict"
        ])
    );
    let hash = |first: Value| json!({"filter": "set_cookie", "actions": [first, {"type": "hash", "name": "session"}]});
    let only_hash =
        json!({"filter": "set_cookie", "actions": [{"type": "hash", "name": "session"}]});
    for (input, want) in [
        ("not-a-cookie", json!(["not-a-cookie"])),
        ("session=secret", json!(["session=2bb80d53"])),
        ("Session=secret; Path=/", json!(["Session=secret; Path=/"])),
        (
            "session=; Max-Age=0; Path=/; HttpOnly",
            json!(["session=e3b0c442; Max-Age=0; Path=/; HttpOnly"]),
        ),
    ] {
        assert_eq!(run(only_hash.clone(), json!([input])), want, "{input}");
    }
    // the first matching action wins
    let first = hash(json!({"type": "delete", "name": "session"}));
    assert_eq!(run(first, json!(["session=secret; Path=/"])), json!([]));
}

#[test]
fn regexp_hash_replace_delete_rename() {
    let re = json!({"filter": "regexp", "regexp": "secret", "value": "REDACTED"});
    assert_eq!(
        run(re.clone(), json!("foo-secret-bar")),
        json!("foo-REDACTED-bar")
    );
    assert_eq!(
        run(re, json!(["foo-secret-bar", "bar-secret-foo"])),
        json!(["foo-REDACTED-bar", "bar-REDACTED-foo"])
    );
    assert_eq!(
        run(json!({"filter": "hash"}), json!("foo")),
        json!("2c26b46b")
    );
    assert_eq!(
        run(json!({"filter": "hash"}), json!(["foo", "bar"])),
        json!(["2c26b46b", "fcde2b2e"])
    );
    assert_eq!(
        run(json!({"filter": "replace", "value": "X"}), json!([1, 2])),
        json!("X")
    );
    assert_eq!(
        run(json!({"filter": "delete"}), json!({"a": 1})),
        Value::Null
    );
    let multi = json!({"filter": "multi_regexp", "operations": [
        {"regexp": "secret", "value": "REDACTED"},
        {"regexp": "password", "value": "HIDDEN"},
        {"regexp": "token", "value": "XXX"}
    ]});
    assert_eq!(
        run(multi, json!("my-secret-password-token-data")),
        json!("my-REDACTED-HIDDEN-XXX-data")
    );
    let digits = json!({"filter": "multi_regexp", "operations": [
        {"regexp": "secret", "value": "REDACTED"}, {"regexp": "\\d+", "value": "NUM"}
    ]});
    assert_eq!(
        run(digits, json!(["foo-secret-123", "bar-secret-456"])),
        json!(["foo-REDACTED-NUM", "bar-REDACTED-NUM"])
    );
    // rename keeps the value under the new key
    let fields = json!({"a>b": {"filter": "rename", "name": "c"}});
    let f = Filters::provision(fields.as_object().unwrap(), "enc").unwrap();
    assert_eq!(
        f.apply(r#""a":{"b":1,"d":2},"b":3"#),
        r#""a":{"c":1,"d":2},"b":3"#
    );
}

#[test]
fn nested_paths_and_refusals() {
    let fields = json!({
        "request>headers>Authorization": {"filter": "replace", "value": "REDACTED"},
        "request>remote_ip": {"filter": "ip_mask", "ipv4_cidr": 24}
    });
    let f = Filters::provision(fields.as_object().unwrap(), "enc").unwrap();
    let out = f.apply(
        r#""request":{"remote_ip":"192.0.2.77","headers":{"Authorization":["Bearer x"],"Accept":["*/*"]}},"status":200"#,
    );
    assert_eq!(
        out,
        r#""request":{"remote_ip":"192.0.2.0","headers":{"Authorization":"REDACTED","Accept":["*/*"]}},"status":200"#
    );
    for (bad, at) in [
        (
            json!({"f": {"filter": "query", "actions": [{"type": "foo", "parameter": "a"}]}}),
            "enc.fields.f.actions[0].type",
        ),
        (
            json!({"f": {"filter": "multi_regexp", "operations": []}}),
            "enc.fields.f",
        ),
        (
            json!({"f": {"filter": "multi_regexp", "operations": [{"regexp": "", "value": "x"}]}}),
            "operations[0]",
        ),
        (
            json!({"f": {"filter": "regexp", "regexp": "("}}),
            "enc.fields.f.regexp",
        ),
        (json!({"f": {"filter": "nope"}}), "enc.fields.f.filter"),
        (
            json!({"f": {"filter": "ip_mask", "ipv4_cidr": 33}}),
            "ipv4_cidr",
        ),
    ] {
        let e = Filters::provision(bad.as_object().unwrap(), "enc")
            .unwrap_err()
            .to_string();
        assert!(e.contains(at), "{e}");
    }
    let many: Vec<Value> = (0..51)
        .map(|i| json!({"regexp": format!("a{i}"), "value": ""}))
        .collect();
    let e = Filters::provision(
        json!({"f": {"filter": "multi_regexp", "operations": many}})
            .as_object()
            .unwrap(),
        "enc",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("too many regexp operations"), "{e}");
}
