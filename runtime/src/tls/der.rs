//! Just enough DER to read what certificate management needs from an
//! X.509 certificate: validity, subject alternative names, the subject's
//! common name and organization, the serial number and the public-key
//! algorithm. Signatures are verified by rustls/webpki, never here.

use std::net::IpAddr;

/// What bellhop reads from a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertFacts {
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    pub dns_names: Vec<String>,
    pub ip_addrs: Vec<IpAddr>,
    pub common_name: Option<String>,
    pub organizations: Vec<String>,
    /// Lower-case hex without leading zero bytes.
    pub serial_hex: String,
    /// `rsa`, `ecdsa`, `ed25519` or `unknown`.
    pub key_algorithm: &'static str,
}

impl CertFacts {
    /// The names the certificate is for: SANs, else the common name.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.dns_names.iter().map(|n| n.to_lowercase()).collect();
        v.extend(self.ip_addrs.iter().map(|ip| ip.to_string()));
        if v.is_empty() {
            v.extend(self.common_name.iter().map(|c| c.to_lowercase()));
        }
        v
    }
}

const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// A cursor over DER TLVs.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// Reads one TLV: its tag and contents.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let b = self.0;
        let tag = *b.first()?;
        let first = *b.get(1)? as usize;
        let (len, hdr) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            if n == 0 || n > 4 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | *b.get(2 + i)? as usize;
            }
            (len, 2 + n)
        };
        let body = b.get(hdr..hdr.checked_add(len)?)?;
        self.0 = &b[hdr + len..];
        Some((tag, body))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, body) if t == tag => Some(body),
            _ => None,
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads the facts of a DER certificate; `None` if it is malformed.
pub fn parse(cert: &[u8]) -> Option<CertFacts> {
    let mut outer = Der(Der(cert).expect(0x30)?);
    let mut tbs = Der(outer.expect(0x30)?);
    let mut facts = CertFacts::default();
    let (mut tag, mut body) = tbs.next()?;
    if tag == 0xa0 {
        (tag, body) = tbs.next()?;
    }
    if tag != 0x02 {
        return None;
    }
    let serial = body.iter().skip_while(|b| **b == 0);
    facts.serial_hex = serial.map(|b| format!("{b:02x}")).collect();
    tbs.expect(0x30)?; // signature algorithm
    tbs.expect(0x30)?; // issuer
    let mut validity = Der(tbs.expect(0x30)?);
    facts.not_before = parse_time(validity.next()?)?;
    facts.not_after = parse_time(validity.next()?)?;
    read_name(tbs.expect(0x30)?, &mut facts);
    let mut spki = Der(tbs.expect(0x30)?);
    let alg_oid = Der(spki.expect(0x30)?).expect(0x06)?;
    facts.key_algorithm = match alg_oid {
        OID_RSA => "rsa",
        OID_EC => "ecdsa",
        OID_ED25519 => "ed25519",
        _ => "unknown",
    };
    while let Some((tag, body)) = tbs.next() {
        if tag == 0xa3 {
            read_extensions(Der(body).expect(0x30)?, &mut facts)?;
        }
    }
    Some(facts)
}

fn read_name(name: &[u8], facts: &mut CertFacts) {
    let mut rdns = Der(name);
    while let Some((_, set)) = rdns.next() {
        let mut atvs = Der(set);
        while let Some((_, atv)) = atvs.next() {
            let mut atv = Der(atv);
            let (Some(oid), Some((_, value))) = (atv.expect(0x06), atv.next()) else {
                continue;
            };
            let text = String::from_utf8_lossy(value).into_owned();
            match oid {
                OID_CN => facts.common_name = Some(text),
                OID_O => facts.organizations.push(text),
                _ => {}
            }
        }
    }
}

fn read_extensions(exts: &[u8], facts: &mut CertFacts) -> Option<()> {
    let mut exts = Der(exts);
    while !exts.is_empty() {
        let mut ext = Der(exts.expect(0x30)?);
        let oid = ext.expect(0x06)?;
        let (mut tag, mut value) = ext.next()?;
        if tag == 0x01 {
            (tag, value) = ext.next()?;
        }
        if tag != 0x04 || oid != OID_SAN {
            continue;
        }
        let mut names = Der(Der(value).expect(0x30)?);
        while let Some((tag, v)) = names.next() {
            match (tag, v.len()) {
                (0x82, _) => facts
                    .dns_names
                    .push(String::from_utf8_lossy(v).into_owned()),
                (0x87, 4) => facts
                    .ip_addrs
                    .push(IpAddr::from(<[u8; 4]>::try_from(v).ok()?)),
                (0x87, 16) => facts
                    .ip_addrs
                    .push(IpAddr::from(<[u8; 16]>::try_from(v).ok()?)),
                _ => {}
            }
        }
    }
    Some(())
}

/// UTCTime or GeneralizedTime (`Z` form) to Unix seconds.
fn parse_time((tag, body): (u8, &[u8])) -> Option<i64> {
    let s = std::str::from_utf8(body).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = s.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| -> Option<i64> { rest.get(r)?.parse().ok() };
    let (mo, d, h, mi, se) = (num(0..2)?, num(2..4)?, num(4..6)?, num(6..8)?, num(8..10)?);
    Some(days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_generated_certificate() {
        let mut params =
            rcgen::CertificateParams::new(vec!["a.example".into(), "127.0.0.1".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2024, 3, 1);
        params.not_after = rcgen::date_time_ymd(2031, 12, 31);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Org");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let f = parse(cert.der()).unwrap();
        assert_eq!(f.dns_names, vec!["a.example"]);
        assert_eq!(f.ip_addrs, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(f.not_before, 1_709_251_200);
        assert_eq!(f.not_after, 1_956_441_600);
        assert_eq!(f.organizations, vec!["Org"]);
        assert_eq!(f.key_algorithm, "ecdsa");
        assert!(!f.serial_hex.is_empty());
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(parse(b"\x30\x03\x02\x01").is_none());
        assert!(parse(&[]).is_none());
    }
}
