//! Helpers of the TLS tests: a test CA made with rcgen, leaf certificates
//! it signs, and a rustls client that trusts only what it is given and
//! speaks HTTP/1.1 over the TLS stream.

#![allow(dead_code)]

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A CA for tests.
pub struct TestCa {
    pub pem: String,
    pub key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(cn: &str) -> TestCa {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        TestCa {
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(p, key),
        }
    }

    /// A leaf for `names`: (PEM cert, PEM key).
    pub fn leaf(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A leaf for `names` naming `ocsp_url` as its OCSP responder
    /// (Authority Information Access): (PEM cert, PEM key, serial in
    /// upper-case hex).
    pub fn leaf_with_ocsp(&self, names: &[&str], ocsp_url: &str) -> (String, String, String) {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names).unwrap();
        let serial = [0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x02];
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        // AuthorityInfoAccessSyntax: one AccessDescription, id-ad-ocsp with
        // a URI GeneralName ([6] IA5String)
        let url = ocsp_url.as_bytes();
        let oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
        let mut desc = oid.to_vec();
        desc.push(0x86);
        desc.push(url.len() as u8);
        desc.extend_from_slice(url);
        let mut access = vec![0x30, desc.len() as u8];
        access.extend(desc);
        let mut aia = vec![0x30, access.len() as u8];
        aia.extend(access);
        p.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 1],
            aia,
        )];
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        let hex: String = serial.iter().map(|b| format!("{b:02X}")).collect();
        (cert.pem(), key.serialize_pem(), hex)
    }
}

/// The rustls client config trusting only `roots` (PEM), with an
/// optional client certificate.
pub fn client(
    roots: &[&str],
    cert: Option<(&str, &str)>,
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        for c in CertificateDer::pem_slice_iter(r.as_bytes()) {
            store.add(c.unwrap()).unwrap();
        }
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(store);
    let mut c = match cert {
        Some((chain, key)) => {
            let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
                .map(|c| c.unwrap())
                .collect();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
        None => b.with_no_client_auth(),
    };
    c.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    Arc::new(c)
}

/// What an HTTPS GET saw.
#[derive(Debug)]
pub struct TlsResp {
    pub status: u16,
    pub body: String,
    /// The server's leaf certificate.
    pub peer: CertificateDer<'static>,
    pub alpn: Option<Vec<u8>>,
}

/// GET `path` over TLS with SNI `name`; `Err` if the handshake or I/O fails.
pub async fn get_tls(
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    name: &str,
    path: &str,
) -> Result<TlsResp, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let sn = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(sn, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let peer = tls.get_ref().1.peer_certificates().ok_or("no peer cert")?[0]
        .clone()
        .into_owned();
    let alpn = tls.get_ref().1.alpn_protocol().map(|a| a.to_vec());
    let req = format!("GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no response head")?;
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    Ok(TlsResp {
        status,
        body: body.to_string(),
        peer,
        alpn,
    })
}

/// The DNS names of a certificate.
pub fn dns_names(cert: &CertificateDer<'_>) -> Vec<String> {
    bellhop_runtime::tls::der::parse(cert).unwrap().dns_names
}
