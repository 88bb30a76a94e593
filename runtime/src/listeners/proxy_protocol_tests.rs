//! PROXY header recognition and the policy table.

use super::*;
use serde_json::json;

fn addrs(src: &str, dst: &str) -> Option<(SocketAddr, SocketAddr)> {
    Some((src.parse().unwrap(), dst.parse().unwrap()))
}

fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut b = SIG_V2.to_vec();
    b.push(0x20 | command);
    b.push(family);
    b.extend((body.len() as u16).to_be_bytes());
    b.extend(body);
    b
}

#[test]
fn v1_headers() {
    let h = b"PROXY TCP4 192.0.2.1 198.51.100.2 5000 443\r\nGET / HTTP/1.1\r\n";
    assert_eq!(
        examine(h),
        Examined::Header {
            len: 44,
            addrs: addrs("192.0.2.1:5000", "198.51.100.2:443")
        }
    );
    let h6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n";
    assert_eq!(
        examine(h6),
        Examined::Header {
            len: h6.len(),
            addrs: addrs("[2001:db8::1]:1", "[2001:db8::2]:2")
        }
    );
    assert_eq!(
        examine(b"PROXY UNKNOWN\r\nGET"),
        Examined::Header {
            len: 15,
            addrs: None
        }
    );
    assert!(matches!(
        examine(b"PROXY TCP4 999.0.0.1 1.1.1.1 1 2\r\n"),
        Examined::Invalid(_)
    ));
    assert!(matches!(examine(&[b'P'; 200][..]), Examined::NotHeader));
    let mut long = b"PROXY ".to_vec();
    long.extend([b'1'; 110]);
    assert!(matches!(examine(&long), Examined::Invalid(_)));
}

#[test]
fn partial_and_foreign_starts() {
    assert_eq!(examine(b""), Examined::Partial(1));
    assert_eq!(examine(b"PRO"), Examined::Partial(6));
    assert!(matches!(examine(b"PROXY TCP4 1.2"), Examined::Partial(_)));
    assert_eq!(examine(b"\r\n\r\n\0"), Examined::Partial(16));
    assert_eq!(examine(b"POST / HTTP/1.1"), Examined::NotHeader);
    assert_eq!(examine(b"\r\n\r\nGET"), Examined::NotHeader);
    assert_eq!(examine(&[0x16, 3, 1]), Examined::NotHeader);
}

#[test]
fn v2_headers() {
    let mut inet = vec![192, 0, 2, 1, 198, 51, 100, 2];
    inet.extend(5000u16.to_be_bytes());
    inet.extend(443u16.to_be_bytes());
    let h = v2(1, 0x11, &inet);
    assert_eq!(
        examine(&h),
        Examined::Header {
            len: 28,
            addrs: addrs("192.0.2.1:5000", "198.51.100.2:443")
        }
    );
    // everything short of the announced length is partial
    assert_eq!(examine(&h[..20]), Examined::Partial(28));
    // LOCAL (a health check from the proxy itself) carries no client
    assert_eq!(
        examine(&v2(0, 0x11, &inet)),
        Examined::Header {
            len: 28,
            addrs: None
        }
    );
    // a TLV after the addresses (as AWS NLB sends) is part of the header
    let mut with_tlv = inet.clone();
    with_tlv.extend([0xEA, 0, 3, 1, 2, 3]);
    assert!(matches!(
        examine(&v2(1, 0x11, &with_tlv)),
        Examined::Header { len: 34, .. }
    ));
    let mut bad = v2(1, 0x11, &inet);
    bad[12] = 0x31; // version 3
    assert!(matches!(examine(&bad), Examined::Invalid(_)));
}

#[test]
fn policies_by_source() {
    let pp = ProxyProtocol::provision(
        &json!({"wrapper": "proxy_protocol", "allow": ["10.0.0.0/8"], "deny": ["10.9.0.0/16"], "fallback_policy": "reject"}),
        "w",
    )
    .unwrap();
    let at = |ip: &str| pp.policy_for(Some(SocketAddr::new(ip.parse().unwrap(), 1)));
    assert_eq!(at("10.1.2.3"), Policy::Use);
    assert_eq!(at("::ffff:10.1.2.3"), Policy::Use);
    assert_eq!(at("10.9.1.1"), Policy::Reject);
    assert_eq!(at("192.0.2.1"), Policy::Reject);
    assert_eq!(pp.policy_for(None), Policy::Use);
    assert_eq!(pp.timeout, Duration::from_secs(10));
    let by_number = ProxyProtocol::provision(
        &json!({"wrapper": "proxy_protocol", "fallback_policy": 3, "timeout": "2s"}),
        "w",
    )
    .unwrap();
    assert_eq!(by_number.fallback, Policy::Require);
    assert_eq!(by_number.timeout, Duration::from_secs(2));
    for (bad, at) in [
        (
            json!({"wrapper": "proxy_protocol", "allow": ["10.0.0.1"]}),
            "w.allow[0]",
        ),
        (
            json!({"wrapper": "proxy_protocol", "fallback_policy": "maybe"}),
            "w.fallback_policy",
        ),
        (json!({"wrapper": "proxy_protocol", "alow": []}), "w"),
    ] {
        let e = ProxyProtocol::provision(&bad, "w").unwrap_err().to_string();
        assert!(e.contains(at), "{e}");
    }
}

#[test]
fn decisions() {
    let a = addrs("192.0.2.1:1", "192.0.2.2:2");
    assert_eq!(decide(Policy::Use, Some(a)), Ok(a));
    assert_eq!(decide(Policy::Use, None), Ok(None));
    assert_eq!(decide(Policy::Ignore, Some(a)), Ok(None));
    assert_eq!(decide(Policy::Require, Some(a)), Ok(a));
    assert!(decide(Policy::Require, None).is_err());
    assert!(decide(Policy::Reject, Some(a)).is_err());
    assert_eq!(decide(Policy::Reject, None), Ok(None));
}
