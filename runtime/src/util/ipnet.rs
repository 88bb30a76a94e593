//! IP prefixes (`10.0.0.0/8`, `::1/128`, or a bare IP) for trusted
//! proxies and the IP matchers.

use std::net::IpAddr;
use std::str::FromStr;

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    bits: u8,
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid IP address or CIDR range {s:?}");
        let (ip, bits) = match s.split_once('/') {
            Some((ip, bits)) => (ip, Some(bits.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let addr: IpAddr = ip
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(bad());
        }
        Ok(IpNet { addr, bits })
    }
}

impl IpNet {
    /// Whether `ip` is inside the network (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = crate::http::conn::canonical_ip(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                prefix_eq(u32::from(n).into(), u32::from(a).into(), 32, self.bits)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                prefix_eq(u128::from(n), u128::from(a), 128, self.bits)
            }
            _ => false,
        }
    }
}

fn prefix_eq(n: u128, a: u128, width: u32, bits: u8) -> bool {
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (n >> shift) == (a >> shift)
}

#[cfg(test)]
mod tests {
    use super::IpNet;

    #[test]
    fn contains() {
        let n: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        let one: IpNet = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!("1.2.3.4/33".parse::<IpNet>().is_err());
    }
}
