//! The `tls` directive's connection policy (`caddytls.ConnectionPolicy`):
//! the protocol, cipher suite and curve names Caddy accepts, and the
//! policy JSON in Go field order (`match` is added at assembly).

use crate::http::obj::strings;
use serde_json::{Map, Value};

pub const PROTOCOLS: &[&str] = &["tls1.2", "tls1.3"];
pub const CURVES: &[&str] = &[
    "x25519",
    "x25519mlkem768",
    "secp256r1",
    "secp384r1",
    "secp521r1",
];
pub const CIPHERS: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
];

#[derive(Default)]
pub struct ConnPolicy {
    pub cipher_suites: Vec<String>,
    pub curves: Vec<String>,
    pub alpn: Vec<String>,
    pub protocol_min: String,
    pub protocol_max: String,
    pub client_auth: Option<Value>,
    pub insecure_secrets_log: String,
}

/// The connection policy JSON in Go field order.
pub fn connection_policy(cp: ConnPolicy, any_tag: &[String]) -> Value {
    let mut m = Map::new();
    if !any_tag.is_empty() {
        m.insert(
            "certificate_selection".into(),
            serde_json::json!({ "any_tag": any_tag }),
        );
    }
    let lists = [
        ("cipher_suites", cp.cipher_suites),
        ("curves", cp.curves),
        ("alpn", cp.alpn),
    ];
    for (k, v) in lists {
        if !v.is_empty() {
            m.insert(k.into(), strings(&v));
        }
    }
    for (k, v) in [
        ("protocol_min", cp.protocol_min),
        ("protocol_max", cp.protocol_max),
    ] {
        if !v.is_empty() {
            m.insert(k.into(), v.into());
        }
    }
    if let Some(ca) = cp.client_auth {
        m.insert("client_authentication".into(), ca);
    }
    if !cp.insecure_secrets_log.is_empty() {
        m.insert(
            "insecure_secrets_log".into(),
            cp.insecure_secrets_log.into(),
        );
    }
    Value::Object(m)
}
