//! Log writers for `log { output … }` (`caddy.logging.writers.*`):
//!
//! ```text
//! output stdout | stderr | discard
//! output file <filename> {
//!     mode <mode>              dir_mode <mode>|from_file
//!     roll_disabled            roll_size <size>
//!     roll_uncompressed        roll_compression none|gzip|zstd
//!     roll_local_time          roll_keep <num>
//!     roll_keep_for <duration> roll_interval <duration>
//!     roll_at <HH:MM...>       roll_minutes <minutes...>
//! }
//! output net <address> { dial_timeout <duration>  soft_start }
//! ```

use crate::error::Result;
use crate::http::directives::tls::issuers::generic_module;
use crate::http::duration::parse_duration;
use crate::http::goconv::parse_bytes_f64 as parse_bytes;
use crate::http::obj::strings;
use crate::syntax::Dispenser;
use serde_json::{Map, Value};

/// Parses a writer; `d` is on the module name.
pub fn parse(d: &mut Dispenser) -> Result<Value> {
    let name = d.val().to_string();
    let mut seg = d.new_from_next_segment();
    seg.next();
    match name.as_str() {
        "stdout" | "stderr" | "discard" => Ok(serde_json::json!({ "output": name })),
        "file" => file(&mut seg),
        "net" => net(&mut seg),
        _ => Ok(generic_module(&mut seg, "output", &name)),
    }
}

fn one_arg(d: &mut Dispenser) -> Result<String> {
    let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
    if d.next_arg() {
        return Err(d.arg_err());
    }
    Ok(v)
}

fn no_args(d: &mut Dispenser) -> Result<()> {
    if d.next_arg() {
        return Err(d.arg_err());
    }
    Ok(())
}

/// A `chmod`-style octal mode, printed as four octal digits.
fn file_mode(d: &Dispenser, s: &str) -> Result<String> {
    let mode = u32::from_str_radix(s, 8)
        .ok()
        .filter(|_| !s.is_empty() && s.len() <= 4)
        .ok_or_else(|| d.err(format!("parsing mode: invalid mode '{s}'")))?;
    Ok(format!("{mode:04o}"))
}

fn file(d: &mut Dispenser) -> Result<Value> {
    let mut m = Map::new();
    m.insert("output".into(), "file".into());
    let filename = one_arg(d)?;
    m.insert("filename".into(), filename.into());
    while d.next_block(0) {
        let sub = d.val().to_string();
        file_option(d, &sub, &mut m)?;
    }
    Ok(Value::Object(m))
}

fn file_option(d: &mut Dispenser, sub: &str, m: &mut Map<String, Value>) -> Result<()> {
    match sub {
        "mode" => {
            let v = one_arg(d)?;
            m.insert("mode".into(), file_mode(d, &v)?.into());
        }
        "dir_mode" => {
            let v = one_arg(d)?;
            let v = if v == "from_file" {
                v
            } else {
                file_mode(d, &v)?
            };
            m.insert("dir_mode".into(), v.into());
        }
        "roll_disabled" | "roll_uncompressed" => {
            no_args(d)?;
            let key = if sub == "roll_disabled" {
                "roll"
            } else {
                "roll_gzip"
            };
            m.insert(key.into(), false.into());
        }
        "roll_local_time" => {
            no_args(d)?;
            m.insert("roll_local_time".into(), true.into());
        }
        "roll_size" => {
            let v = one_arg(d)?;
            let bytes = parse_bytes(&v).map_err(|e| d.err(format!("parsing size: {e}")))?;
            let mb = (bytes / (1024.0 * 1024.0)).ceil() as i64;
            m.insert("roll_size_mb".into(), mb.into());
        }
        "roll_compression" => {
            let v = one_arg(d)?;
            m.insert("roll_compression".into(), v.into());
        }
        "roll_keep" => {
            let v = one_arg(d)?;
            let n: i64 = v
                .parse()
                .map_err(|e| d.err(format!("parsing roll_keep number: {e}")))?;
            m.insert("roll_keep".into(), n.into());
        }
        "roll_keep_for" => {
            let v = one_arg(d)?;
            let ns = parse_duration(&v)
                .map_err(|e| d.err(format!("parsing roll_keep_for duration: {e}")))?;
            if ns < 0 {
                return Err(d.err(format!("negative roll_keep_for duration: {v}")));
            }
            let days = (ns as f64 / 3.6e12 / 24.0).ceil() as i64;
            m.insert("roll_keep_days".into(), days.into());
        }
        "roll_interval" => {
            let v = one_arg(d)?;
            let ns = parse_duration(&v)
                .map_err(|e| d.err(format!("parsing roll_interval duration: {e}")))?;
            m.insert("roll_interval".into(), ns.into());
        }
        "roll_at" => {
            let times = comma_args(d);
            m.insert("roll_at".into(), strings(&times));
        }
        "roll_minutes" => {
            let mut mins = Vec::new();
            for s in comma_args(d) {
                let n: i64 = s
                    .parse()
                    .map_err(|e| d.err(format!("parsing roll_minutes number: {e}")))?;
                mins.push(Value::from(n));
            }
            m.insert("roll_minutes".into(), Value::Array(mins));
        }
        _ => return Err(d.err(format!("unrecognized subdirective: {sub}"))),
    }
    Ok(())
}

/// The remaining arguments, each split at commas.
fn comma_args(d: &mut Dispenser) -> Vec<String> {
    d.remaining_args()
        .iter()
        .flat_map(|a| a.split(',').map(str::trim).filter(|s| !s.is_empty()))
        .map(String::from)
        .collect()
}

fn net(d: &mut Dispenser) -> Result<Value> {
    let mut m = Map::new();
    m.insert("output".into(), "net".into());
    let addr = one_arg(d)?;
    m.insert("address".into(), addr.into());
    while d.next_block(0) {
        match d.val() {
            "dial_timeout" => {
                let v = one_arg(d)?;
                let ns =
                    parse_duration(&v).map_err(|e| d.err(format!("invalid duration: {v}: {e}")))?;
                if ns <= 0 {
                    return Err(d.err(format!("timeout cannot be less than or equal to 0: {v}")));
                }
                m.insert("dial_timeout".into(), ns.into());
            }
            "soft_start" => {
                no_args(d)?;
                m.insert("soft_start".into(), true.into());
            }
            other => return Err(d.err(format!("unrecognized subdirective: {other}"))),
        }
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use crate::http::goconv::parse_bytes_f64 as parse_bytes;

    #[test]
    fn sizes_as_go_humanize_reads_them() {
        assert_eq!(parse_bytes("1gb").unwrap(), 1e9);
        assert_eq!(parse_bytes("1gib").unwrap(), 1024.0 * 1024.0 * 1024.0);
        assert_eq!(parse_bytes("512").unwrap(), 512.0);
        assert_eq!(parse_bytes("1.5 MiB").unwrap(), 1.5 * 1024.0 * 1024.0);
        assert!(parse_bytes("3 parsecs").is_err());
    }
}
