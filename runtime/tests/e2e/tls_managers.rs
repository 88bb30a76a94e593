//! Certificate managers (`get_certificate`, `tls.get_certificate.http`): a
//! manager the test runs answers with a PEM bundle for the names it has
//! and 204 for the rest; handshakes for names its policy covers get its
//! certificate, asked with Caddy's query (server name, signature schemes
//! and cipher suites in hex, local IP); other names are not asked about.

use crate::support::*;
use crate::tls_support::*;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A manager answering `bundle` for `server_name=have.test`, 204 else;
/// the request targets it got.
async fn manager(bundle: String) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let (bundle, seen) = (bundle.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = c.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let target = head.split(' ').nth(1).unwrap_or("").to_string();
                let have = target.contains("server_name=have.test");
                seen.lock().unwrap().push(target);
                let answer = match have {
                    true => format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{bundle}",
                        bundle.len()
                    ),
                    false => "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_string(),
                };
                let _ = c.write_all(answer.as_bytes()).await;
            });
        }
    });
    (addr, asked)
}

#[tokio::test]
async fn handshakes_get_the_managers_certificate() {
    let ca = TestCa::new("Manager CA");
    let (cert, key) = ca.leaf(&["have.test"]);
    let (addr, asked) = manager(format!("{cert}{key}")).await;
    let s = start(json!({"apps": {
        "tls": {"automation": {"policies": [{
            "subjects": ["have.test", "none.test"],
            "get_certificate": [{"via": "http", "url": format!("http://{addr}/cert?token=t")}]
        }]}},
        "http": {"servers": {"s": {
            "listen": ["127.0.0.1:0"],
            "tls_connection_policies": [{}],
            "routes": [{"handle": [respond("managed")]}]
        }}}
    }}));
    let client = client(&[&ca.pem], None, &[b"http/1.1"]);
    let r = get_tls(client.clone(), s.addr, "have.test", "/")
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "managed"));
    assert_eq!(dns_names(&r.peer), ["have.test"]);
    let target = asked.lock().unwrap()[0].clone();
    assert!(
        target.starts_with("/cert?token=t&cipher_suites="),
        "{target}"
    );
    for want in [
        "&local_ip=127.0.0.1&",
        "&server_name=have.test&",
        "&signature_schemes=",
    ] {
        assert!(target.contains(want), "{want} in {target}");
    }
    // not cached: the next handshake asks again
    get_tls(client.clone(), s.addr, "have.test", "/")
        .await
        .unwrap();
    assert_eq!(asked.lock().unwrap().len(), 2);
    // 204: no certificate; a name no policy with managers covers: not asked
    assert!(get_tls(client.clone(), s.addr, "none.test", "/")
        .await
        .is_err());
    assert!(get_tls(client, s.addr, "other.test", "/").await.is_err());
    assert_eq!(asked.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn bad_managers_are_refused_naming_the_field() {
    let bad = |m: serde_json::Value| {
        let cfg =
            json!({"apps": {"tls": {"automation": {"policies": [{"get_certificate": [m]}]}}}});
        bellhop_runtime::validate(cfg.to_string().as_bytes())
            .unwrap_err()
            .to_string()
    };
    let e = bad(json!({"via": "nope"}));
    assert!(e.contains("tls.get_certificate.nope"), "{e}");
    let e = bad(json!({"via": "tailscale", "url": "http://x"}));
    assert!(e.contains("get_certificate[0].url: unknown field"), "{e}");
    let e = bad(json!({"via": "http"}));
    assert!(
        e.contains("get_certificate[0].url") && e.contains("required"),
        "{e}"
    );
}
