//! `remote_ip` matcher (`http.matchers.remote_ip`):
//! `remote_ip <ranges...>`, `private_ranges` expanding to the private
//! CIDRs; several instances merge.

use crate::error::Result;
use crate::http::obj::{strings, Obj};
use crate::syntax::Dispenser;
use serde_json::Value;

/// Caddy's `internal.PrivateRangesCIDR()`.
pub const PRIVATE_RANGES: &[&str] = &[
    "192.168.0.0/16",
    "172.16.0.0/12",
    "10.0.0.0/8",
    "127.0.0.1/8",
    "fd00::/8",
    "::1",
];

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let ranges = parse_ranges(d, "remote_ip", true)?;
    Ok(Obj::new().opt("ranges", strings(&ranges)).build())
}

/// Shared with `client_ip`.
pub(super) fn parse_ranges(d: &mut Dispenser, matcher: &str, remote: bool) -> Result<Vec<String>> {
    let mut ranges = Vec::new();
    while d.next() {
        while d.next_arg() {
            if remote && d.val() == "forwarded" {
                return Err(d.err(
                    "the 'forwarded' option is no longer supported; use the 'client_ip' matcher instead",
                ));
            }
            if d.val() == "private_ranges" {
                ranges.extend(PRIVATE_RANGES.iter().map(|s| s.to_string()));
                continue;
            }
            ranges.push(d.val().to_string());
        }
        super::no_block(d, matcher)?;
    }
    Ok(ranges)
}
