//! Helpers of the fleet tests: a scratch folder, Debian's `pebble` with a
//! DNS responder answering 127.0.0.1 for every name, `bellhop run`
//! instances sharing a Redis storage, and a TLS client that reports the
//! served certificate's serial and whether the session resumed.

use crate::dns_responder::start_dns;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A scratch folder for one test, removed at the end.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("bellhop-fleet-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub use crate::common::free_port;

/// A running pebble, validating HTTP-01 challenges on `http_port`.
pub struct Pebble {
    child: Child,
    pub directory: String,
    pub api_ca: PathBuf,
    log: PathBuf,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pebble {
    /// Starts pebble, its certificates valid `validity` seconds.
    pub fn start(dir: &Path, http_port: u16, validity: Option<u64>) -> Pebble {
        let mut p = CertificateParams::default();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "pebble API CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = p.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(p, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let api_ca = dir.join("pebble-api-ca.pem");
        std::fs::write(&api_ca, ca_cert.pem()).unwrap();
        std::fs::write(dir.join("pebble-cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("pebble-key.pem"), key.serialize_pem()).unwrap();
        let (api, mgmt) = (free_port(), free_port());
        let mut config = json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{api}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt}"),
            "certificate": dir.join("pebble-cert.pem"),
            "privateKey": dir.join("pebble-key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }});
        if let Some(v) = validity {
            config["pebble"]["certificateValidityPeriod"] = json!(v);
        }
        let file = dir.join("pebble.json");
        std::fs::write(&file, config.to_string()).unwrap();
        let log = dir.join("pebble.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("pebble")
            .arg("-config")
            .arg(&file)
            .arg("-dnsserver")
            .arg(start_dns().to_string())
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("pebble (apt-get install -y pebble)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", api)).is_err() {
            assert!(Instant::now() < deadline, "pebble did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Pebble {
            child,
            directory: format!("https://127.0.0.1:{api}/dir"),
            api_ca,
            log,
        }
    }

    /// How many certificates pebble has issued so far (its log says each).
    pub fn issued(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("Issued certificate serial")
            .count()
    }

    /// How many orders pebble has been asked for so far.
    pub fn orders(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("Added order")
            .count()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// One `bellhop run` of the fleet.
pub struct Instance {
    pub child: Child,
    pub name: String,
    pub https: u16,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.https))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGTERM and waits.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The config of one instance: `storage`, `names` managed by pebble over
/// HTTP-01 (TLS-ALPN-01 off), session ticket keys from storage, an HTTP
/// and an HTTPS server answering the instance's name; `tls` fields
/// merged into `apps.tls.automation`.
pub fn config(
    name: &str,
    storage: &Value,
    pebble: &Pebble,
    names: &[&str],
    ports: (u16, u16),
    automation: Value,
) -> Value {
    let issuer = json!({
        "module": "acme",
        "ca": pebble.directory,
        "trusted_roots_pem_files": [pebble.api_ca.display().to_string()],
        "challenges": {"tls-alpn": {"disabled": true}}
    });
    let server = |port: u16, tls: bool| {
        let mut s = json!({
            "listen": [format!("127.0.0.1:{port}")],
            "automatic_https": {"disable": true},
            "routes": [{"handle": [{"handler": "static_response", "body": name}]}]
        });
        if tls {
            s["tls_connection_policies"] = json!([{}]);
        }
        s
    };
    let mut auto = json!({"policies": [{"subjects": names, "issuers": [issuer]}]});
    for (k, v) in automation.as_object().unwrap() {
        if k == "renewal_window_ratio" {
            auto["policies"][0][k] = v.clone();
        } else {
            auto[k] = v.clone();
        }
    }
    json!({
        "admin": {"disabled": true},
        "storage": storage,
        "apps": {
            "tls": {
                "certificates": {"automate": names},
                "automation": auto,
                "session_tickets": {"key_source": {"provider": "distributed"}}
            },
            "http": {"servers": {"http": server(ports.0, false), "https": server(ports.1, true)}}
        }
    })
}

/// Starts `bellhop run` on `config` (written to `<name>.json`, log to
/// `<name>.log`).
pub fn spawn(s: &Scratch, name: &str, config: &Value, ports: (u16, u16)) -> Instance {
    let file = s.0.join(format!("{name}.json"));
    std::fs::write(&file, config.to_string()).unwrap();
    let log = std::fs::File::create(s.0.join(format!("{name}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(["run", "--config"])
        .arg(&file)
        .env("XDG_CONFIG_HOME", s.0.join(format!("xdg-{name}")))
        .env("XDG_DATA_HOME", s.0.join(format!("data-{name}")))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Instance {
        child,
        name: name.to_string(),
        https: ports.1,
    }
}

/// A client whose session store keeps tickets between connections.
pub fn client() -> Arc<rustls::ClientConfig> {
    // Any server certificate is accepted: the tests compare serials.
    let no_verify = bellhop_runtime::http::handlers::reverse_proxy::NoVerify;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut c = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(no_verify))
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

/// What one HTTPS GET for `sni` saw.
#[derive(Debug)]
pub struct Seen {
    pub serial: String,
    pub resumed: bool,
    pub body: String,
}

/// One HTTPS GET on a new connection.
pub fn get(
    addr: SocketAddr,
    sni: &str,
    client: &Arc<rustls::ClientConfig>,
) -> Result<Seen, String> {
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(client.clone(), name).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(format!("GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    if let Err(e) = tls.read_to_end(&mut resp) {
        if resp.is_empty() {
            return Err(e.to_string());
        }
    }
    let leaf = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("no certificate")?;
    let serial = bellhop_runtime::tls::der::parse(leaf.as_ref())
        .ok_or("unparsable certificate")?
        .serial_hex;
    let resumed = tls.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok(Seen {
        serial,
        resumed,
        body,
    })
}

/// The serial each instance serves for `sni`, waiting up to `limit` for
/// every one to serve a certificate whose serial `accept` takes.
pub fn serials(
    fleet: &[Instance],
    sni: &str,
    limit: Duration,
    accept: impl Fn(&str) -> bool,
) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    for i in fleet {
        loop {
            // A new client each time: a resumed session shows the
            // certificate of the session's first handshake.
            match get(i.addr(), sni, &client()) {
                Ok(s) if accept(&s.serial) => {
                    out.push(s.serial);
                    break;
                }
                r if Instant::now() > deadline => return Err(format!("{}: {r:?}", i.name)),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
    Ok(out)
}

/// A TCP load balancer on a free port: each connection goes to the next
/// of `backends` (in turn) that accepts it. It is where pebble sends its
/// HTTP-01 validations, as a CA's would reach a fleet behind one address.
pub fn balancer(backends: Vec<u16>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (next, client) in listener.incoming().flatten().enumerate() {
            let upstream = (0..backends.len()).find_map(|i| {
                let b = backends[(next + i) % backends.len()];
                TcpStream::connect(("127.0.0.1", b)).ok()
            });
            let Some(upstream) = upstream else { continue };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                (upstream, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    port
}
