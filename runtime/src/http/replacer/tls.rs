//! `{http.request.tls.*}`: the connection's TLS facts and the client
//! certificate's fields, formatted as Caddy's replacer (Go's `fmt`, `pkix`
//! and `x509` types) gives them. Unknown without TLS; the client fields of
//! a connection without a client certificate are those of an empty
//! certificate, as Caddy's (#7530).

use crate::http::tls_info::TlsInfo;
use std::fmt::Write;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Appends `field` (lowercased, after `http.request.tls.`); false when it
/// is no such field. Without TLS a field is empty.
pub fn render(info: Option<&TlsInfo>, field: &str, out: &mut String) -> bool {
    let Some(info) = info else {
        let mut scratch = String::new();
        return render(Some(&TlsInfo::default()), field, &mut scratch);
    };
    if let Some(client) = field.strip_prefix("client.") {
        let der = info.client_cert.as_ref().map_or(&[][..], |c| c.as_ref());
        return client_field(der, client, out);
    }
    match field {
        "version" => out.push_str(info.version),
        "cipher_suite" => out.push_str(info.cipher_suite),
        "resumed" => out.push_str(if info.resumed { "true" } else { "false" }),
        "proto" => out.push_str(&info.proto),
        "proto_mutual" => out.push_str("true"),
        "server_name" => out.push_str(&info.server_name),
        "ech" => out.push_str("false"),
        _ => return false,
    }
    true
}

fn client_field(der: &[u8], field: &str, out: &mut String) -> bool {
    let parsed = X509Certificate::from_der(der).ok().map(|(_, c)| c);
    let cert = parsed.as_ref();
    if let Some(san) = field.strip_prefix("san.") {
        return san_field(cert, san, out);
    }
    match field {
        "fingerprint" => hex(
            ring::digest::digest(&ring::digest::SHA256, der).as_ref(),
            out,
        ),
        "public_key" | "public_key_sha256" => {
            let Some(key) = cert.map(|c| c.public_key().subject_public_key.data.as_ref()) else {
                return true;
            };
            if field.ends_with("_sha256") {
                hex(
                    ring::digest::digest(&ring::digest::SHA256, key).as_ref(),
                    out,
                );
            } else {
                hex(key, out);
            }
        }
        "issuer" => {
            if let Some(c) = cert {
                out.push_str(&go_name(c.issuer()));
            }
        }
        "subject" => {
            if let Some(c) = cert {
                out.push_str(&go_name(c.subject()));
            }
        }
        "serial" => match cert {
            Some(c) => out.push_str(&decimal(c.raw_serial())),
            None => out.push_str("<nil>"),
        },
        "certificate_pem" => {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            out.push_str("-----BEGIN CERTIFICATE-----\n");
            for line in b64.as_bytes().chunks(64) {
                out.push_str(std::str::from_utf8(line).unwrap_or(""));
                out.push('\n');
            }
            out.push_str("-----END CERTIFICATE-----\n");
        }
        "certificate_der_base64" => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode_string(der, out);
        }
        _ => return false,
    }
    true
}

/// `san.dns_names`, `san.emails`, `san.ips`, `san.uris`, whole (Go's
/// `[a b]`) or one by index (`san.dns_names.0`; empty past the end).
fn san_field(cert: Option<&X509Certificate<'_>>, san: &str, out: &mut String) -> bool {
    let (kind, index) = match san.split_once('.') {
        Some((k, i)) => match i.parse::<usize>() {
            Ok(n) => (k, Some(n)),
            Err(_) => return false,
        },
        None => (san, None),
    };
    if !matches!(kind, "dns_names" | "emails" | "ips" | "uris") {
        return false;
    }
    let mut values = Vec::new();
    if let Some(Ok(Some(ext))) = cert.map(|c| c.subject_alternative_name()) {
        for name in &ext.value.general_names {
            match (kind, name) {
                ("dns_names", GeneralName::DNSName(s))
                | ("emails", GeneralName::RFC822Name(s))
                | ("uris", GeneralName::URI(s)) => values.push(s.to_string()),
                ("ips", GeneralName::IPAddress(b)) => values.push(ip_text(b)),
                _ => {}
            }
        }
    }
    match index {
        Some(n) => out.push_str(values.get(n).map_or("", String::as_str)),
        None => {
            let _ = write!(out, "[{}]", values.join(" "));
        }
    }
    true
}

fn ip_text(b: &[u8]) -> String {
    match b.len() {
        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let a: [u8; 16] = b.try_into().unwrap_or([0; 16]);
            crate::http::conn::canonical_ip(std::net::Ipv6Addr::from(a).into()).to_string()
        }
        _ => String::new(),
    }
}

fn hex(b: &[u8], out: &mut String) {
    for x in b {
        let _ = write!(out, "{x:02x}");
    }
}

/// A big-endian unsigned integer in decimal (Go's `big.Int` String).
fn decimal(be: &[u8]) -> String {
    let mut digits: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    if digits.is_empty() {
        return "0".into();
    }
    let mut out = Vec::new();
    while !digits.is_empty() {
        let mut rem = 0u32;
        for d in digits.iter_mut() {
            let cur = (rem << 8) | u32::from(*d);
            *d = (cur / 10) as u8;
            rem = cur % 10;
        }
        out.push(b'0' + rem as u8);
        digits = digits.into_iter().skip_while(|b| *b == 0).collect();
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Go's `pkix.Name.String()`: the known attributes in Go's order, last
/// first (`CN=…,OU=…,O=…,L=…,ST=…,C=…`), several values of one type in
/// one `+`-joined part, other attributes as `OID=value` after them.
fn go_name(name: &x509_parser::x509::X509Name<'_>) -> String {
    // Go's ToRDNSequence order, reversed by String().
    const ORDER: [(&str, &str); 9] = [
        ("2.5.4.5", "SERIALNUMBER"),
        ("2.5.4.3", "CN"),
        ("2.5.4.11", "OU"),
        ("2.5.4.10", "O"),
        ("2.5.4.17", "POSTALCODE"),
        ("2.5.4.9", "STREET"),
        ("2.5.4.7", "L"),
        ("2.5.4.8", "ST"),
        ("2.5.4.6", "C"),
    ];
    let attrs: Vec<(String, String)> = name
        .iter_attributes()
        .map(|a| {
            let v = a.as_str().map(str::to_string).unwrap_or_default();
            (a.attr_type().to_id_string(), v)
        })
        .collect();
    let mut parts = Vec::new();
    for (oid, short) in ORDER {
        let vals: Vec<String> = attrs
            .iter()
            .filter(|(o, _)| o == oid)
            .map(|(_, v)| format!("{short}={}", escape_dn(v)))
            .collect();
        if !vals.is_empty() {
            parts.push(vals.join("+"));
        }
    }
    for (oid, v) in &attrs {
        if !ORDER.iter().any(|(o, _)| o == oid) {
            parts.push(format!("{oid}={}", escape_dn(v)));
        }
    }
    parts.join(",")
}

/// RFC 4514 escaping as Go's `AttributeTypeAndValue` printing does it.
fn escape_dn(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, ' ' | '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::client_field;
    use rustls::pki_types::pem::PemObject;

    /// The client certificate of Caddy's replacer_test.go.
    const CADDY_TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIB9jCCAV+gAwIBAgIBAjANBgkqhkiG9w0BAQsFADAYMRYwFAYDVQQDDA1DYWRk
eSBUZXN0IENBMB4XDTE4MDcyNDIxMzUwNVoXDTI4MDcyMTIxMzUwNVowHTEbMBkG
A1UEAwwSY2xpZW50LmxvY2FsZG9tYWluMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCB
iQKBgQDFDEpzF0ew68teT3xDzcUxVFaTII+jXH1ftHXxxP4BEYBU4q90qzeKFneF
z83I0nC0WAQ45ZwHfhLMYHFzHPdxr6+jkvKPASf0J2v2HDJuTM1bHBbik5Ls5eq+
fVZDP8o/VHKSBKxNs8Goc2NTsr5b07QTIpkRStQK+RJALk4x9QIDAQABo0swSTAJ
BgNVHRMEAjAAMAsGA1UdDwQEAwIHgDAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8A
AAEwEwYDVR0lBAwwCgYIKwYBBQUHAwIwDQYJKoZIhvcNAQELBQADgYEANSjz2Sk+
eqp31wM9il1n+guTNyxJd+FzVAH+hCZE5K+tCgVDdVFUlDEHHbS/wqb2PSIoouLV
3Q9fgDkiUod+uIK0IynzIKvw+Cjg+3nx6NQ0IM0zo8c7v398RzB4apbXKZyeeqUH
9fNwfEi+OoXR6s+upSKobCmLGLGi9Na5s5g=
-----END CERTIFICATE-----";

    fn field(name: &str) -> String {
        let der =
            rustls::pki_types::CertificateDer::from_pem_slice(CADDY_TEST_CERT.as_bytes()).unwrap();
        let mut out = String::new();
        assert!(client_field(&der, name, &mut out), "{name} is known");
        out
    }

    /// Expected values from Caddy's TestHTTPVarReplacement table.
    #[test]
    fn client_certificate_fields_as_caddy_gives_them() {
        assert_eq!(
            field("fingerprint"),
            "9f57b7b497cceacc5459b76ac1c3afedbc12b300e728071f55f84168ff0f7702"
        );
        assert_eq!(field("issuer"), "CN=Caddy Test CA");
        assert_eq!(field("serial"), "2");
        assert_eq!(field("subject"), "CN=client.localdomain");
        assert_eq!(field("san.dns_names"), "[localhost]");
        assert_eq!(field("san.dns_names.0"), "localhost");
        assert_eq!(field("san.dns_names.1"), "");
        assert_eq!(field("san.ips"), "[127.0.0.1]");
        assert_eq!(field("san.ips.0"), "127.0.0.1");
        assert_eq!(field("certificate_pem"), format!("{CADDY_TEST_CERT}\n"));
    }

    #[test]
    fn no_client_certificate_gives_an_empty_one() {
        let mut out = String::new();
        assert!(client_field(&[], "subject", &mut out));
        assert_eq!(out, "");
        assert!(client_field(&[], "san.dns_names", &mut out));
        assert_eq!(out, "[]");
    }
}
