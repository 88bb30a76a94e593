//! The `servers` option's `listener_wrappers` block: each wrapper module
//! as Caddy's `JSONModuleObject` writes it (keys sorted, `"wrapper"`
//! naming the module).
//!
//! ```text
//! listener_wrappers {
//!     http_redirect
//!     tls
//!     proxy_protocol {
//!         timeout <duration>
//!         allow <cidrs...>
//!         deny <cidrs...>
//!         fallback_policy ignore|use|reject|require|skip
//!     }
//!     <other_wrapper> { <key> <values...> }
//! }
//! ```

use crate::error::Result;
use crate::http::duration::parse_duration;
use crate::http::obj::{sorted_map, strings};
use crate::syntax::Dispenser;
use serde_json::Value;

/// Parses the block after `listener_wrappers` (the dispenser on that
/// token) into the list of wrapper objects.
pub fn parse(d: &mut Dispenser) -> Result<Value> {
    let nesting = d.nesting();
    let mut ws = Vec::new();
    while d.next_block(nesting) {
        let name = d.val().to_string();
        let fields = match name.as_str() {
            "proxy_protocol" => proxy_protocol(d)?,
            "tls" | "http_redirect" => {
                if d.next_arg() {
                    return Err(d.arg_err());
                }
                skip_block(d);
                Vec::new()
            }
            _ => generic(d),
        };
        let mut pairs = fields;
        pairs.push(("wrapper".into(), name.into()));
        ws.push(sorted_map(pairs));
    }
    Ok(Value::Array(ws))
}

fn skip_block(d: &mut Dispenser) {
    let inner = d.nesting();
    while d.next_block(inner) {}
}

/// A wrapper the adapter has no special knowledge of: same-line
/// arguments are dropped, block lines become keys.
fn generic(d: &mut Dispenser) -> Vec<(String, Value)> {
    d.remaining_args();
    let inner = d.nesting();
    let mut out = Vec::new();
    while d.next_block(inner) {
        let key = d.val().to_string();
        let vals = d.remaining_args();
        let v = match vals.as_slice() {
            [one] => Value::from(one.as_str()),
            _ => strings(&vals),
        };
        out.push((key, v));
    }
    out
}

/// `proxy_protocol { timeout  allow  deny  fallback_policy }` (Caddy's
/// proxyprotocol listener wrapper).
fn proxy_protocol(d: &mut Dispenser) -> Result<Vec<(String, Value)>> {
    if d.next_arg() {
        return Err(d.arg_err());
    }
    let (mut timeout, mut allow, mut deny, mut policy) = (0i64, Vec::new(), Vec::new(), 0);
    let inner = d.nesting();
    while d.next_block(inner) {
        match d.val() {
            "timeout" => {
                let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
                timeout = parse_duration(&v)
                    .map_err(|e| d.err(format!("parsing proxy_protocol timeout duration: {e}")))?;
            }
            "allow" => allow.extend(d.remaining_args()),
            "deny" => deny.extend(d.remaining_args()),
            "fallback_policy" => {
                let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
                policy = POLICIES
                    .iter()
                    .position(|p| p.eq_ignore_ascii_case(&v))
                    .ok_or_else(|| d.err(format!("unknown policy: {v}")))?;
            }
            _ => return Err(d.arg_err()),
        }
    }
    let mut out = Vec::new();
    if timeout != 0 {
        out.push(("timeout".into(), timeout.into()));
    }
    if !allow.is_empty() {
        out.push(("allow".into(), strings(&allow)));
    }
    if !deny.is_empty() {
        out.push(("deny".into(), strings(&deny)));
    }
    if policy != 0 {
        out.push(("fallback_policy".into(), POLICIES[policy].into()));
    }
    Ok(out)
}

/// The PROXY protocol policies in Caddy's order (the first, the zero
/// value, is omitted from the JSON).
const POLICIES: &[&str] = &["IGNORE", "USE", "REJECT", "REQUIRE", "SKIP"];
