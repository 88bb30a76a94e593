//! `reverse_proxy` transport `tls.client_certificate_automate`: the `tls`
//! app obtains (here from the internal CA) and serves the named client
//! certificate, and the proxy presents it to an upstream that requires
//! client certificates signed by that CA. The upstream is a second server
//! of the same config, on HTTPS with `require_and_verify` against the
//! `local` CA's root (`tls.ca_pool.source.pki_root`); it answers with the
//! client certificate's first DNS name. The proxy verifies the upstream
//! against the same root (`ca`: `pki_root`). Without the field the same
//! upstream refuses the proxy (502).

use crate::support::*;
use serde_json::{json, Value};

fn config(storage: &std::path::Path, up: u16) -> Value {
    let proxy = |tls: Value| {
        json!({"handler": "reverse_proxy",
               "upstreams": [{"dial": format!("127.0.0.1:{up}")}],
               // client authentication makes the upstream check that Host
               // is the SNI (Caddy's strict_sni_host default)
               "headers": {"request": {"set": {"Host": ["up.internal"]}}},
               "transport": {"protocol": "http", "tls": tls}})
    };
    let upstream_tls = json!({"insecure_skip_verify": true, "server_name": "up.internal"});
    // The upstream's certificate verified against the internal CA's root
    // (any tls.ca_pool.source, as in client authentication).
    let automated = json!({
        "ca": {"provider": "pki_root", "authority": ["local"]},
        "server_name": "up.internal",
        "client_certificate_automate": "Client.Internal"
    });
    json!({
        "storage": {"module": "file_system", "root": storage.display().to_string()},
        "apps": {
            "tls": {
                "certificates": {"automate": ["up.internal"]},
                "automation": {"policies": [{
                    "subjects": ["up.internal", "client.internal"],
                    "issuers": [{"module": "internal"}]
                }]}
            },
            "http": {"servers": {
                "up": {
                    "listen": [format!("127.0.0.1:{up}")],
                    "automatic_https": {"disable": true},
                    "tls_connection_policies": [{"client_authentication": {
                        "ca": {"provider": "pki_root", "authority": ["local"]},
                        "mode": "require_and_verify"
                    }}],
                    "routes": [{"handle": [{"handler": "static_response",
                        "body": "client {http.request.tls.client.san.dns_names.0}"}]}]
                },
                "front": {
                    "listen": ["127.0.0.1:0"],
                    "automatic_https": {"disable": true},
                    "routes": [
                        {"match": [{"path": ["/plain"]}], "handle": [proxy(upstream_tls)]},
                        {"handle": [proxy(automated)]}
                    ]
                }
            }}
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_presents_the_certificate_the_tls_app_manages() {
    let dir = tempfile::tempdir().unwrap();
    let rt = bellhop_runtime::Runtime::new();
    rt.load(config(dir.path(), free_port()).to_string().as_bytes())
        .expect("config loads");
    let front = rt.server_addrs("front")[0];
    let r = get(front, "/").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "client client.internal"),
        "the automated client certificate is presented"
    );
    let r = get(front, "/plain").await;
    assert_eq!(r.status, 502, "without a client certificate: {}", r.body);
    rt.stop().await;
}

#[test]
fn client_certificate_automate_outside_a_proxy_is_refused_with_its_path() {
    let cfg = json!({"admin": {"config": {"load": {
        "module": "http", "url": "https://127.0.0.1:1/config",
        "tls": {"client_certificate_automate": "a.test"}}}}});
    let e = bellhop_runtime::validate(cfg.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("admin.config.load.tls.client_certificate_automate"),
        "{e}"
    );
}
