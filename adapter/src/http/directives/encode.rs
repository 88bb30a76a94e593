//! `encode` (response compression; `encode` handler):
//!
//! ```text
//! encode [<matcher>] [<formats...>] {
//!     gzip [<level>]
//!     zstd [<level>] {
//!         disable_checksum
//!     }
//!     minimum_length <length>
//!     match {
//!         status <code...>
//!         header <field> [<value>]
//!     }
//!     # or on one line:
//!     match [header <field> [<value>]] | [status <code...>]
//! }
//! ```
//!
//! The encoders of Caddy's standard distribution are `gzip` (level 1–9 as
//! an integer) and `zstd` (level `fastest`, `default`, `better` or
//! `best`). Formats configured in the block come first in `prefer`, then
//! those on the first line, each in the order written; with none at all,
//! `zstd` then `gzip`. Without `match`, Caddy applies its default response
//! matcher (common text/JSON/JS/SVG … content types) and a 512-byte
//! minimum length when the handler is provisioned, so neither appears in
//! the adapted config.

use crate::error::Result;
use crate::http::goconv::atoi;
use crate::http::helper::Helper;
use crate::http::obj::{sorted_map, strings, Obj};
use crate::http::response_matchers::{self, ResponseMatcherDefs};
use crate::syntax::Dispenser;
use serde_json::Value;

/// The zstd levels Caddy accepts (`zstd.EncoderLevelFromString`).
const ZSTD_LEVELS: &[&str] = &["fastest", "default", "better", "best"];

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let first_line = h.remaining_args();
    let mut encodings: Vec<(String, Value)> = Vec::new();
    let mut prefer: Vec<String> = Vec::new();
    let mut min_length = 0;
    let mut response_defs = ResponseMatcherDefs::new();
    while h.next_block(0) {
        match h.val() {
            "minimum_length" => {
                let Some(v) = h.next_arg_value() else {
                    return Err(h.arg_err());
                };
                min_length = atoi(&v).map_err(|e| h.error(e))?;
            }
            "match" => {
                let seg = Dispenser::new(h.next_segment());
                response_matchers::parse_named(seg, &mut response_defs)?;
            }
            name => {
                let name = name.to_string();
                let mut seg = Dispenser::new(h.next_segment());
                let encoder = encoder_from_block(&mut seg, &name)?;
                put(&mut encodings, &name, encoder);
                prefer.push(name);
            }
        }
    }
    let args = if prefer.is_empty() && first_line.is_empty() {
        vec!["zstd".to_string(), "gzip".to_string()]
    } else {
        first_line
    };
    for arg in args {
        if !is_encoder(&arg) {
            return Err(h.error(format!(
                "finding encoder module '': module not registered: http.encoders.{arg}"
            )));
        }
        put(&mut encodings, &arg, Value::Object(Default::default()));
        prefer.push(arg);
    }
    Ok(Obj::handler("encode")
        .opt("encodings", sorted_map(encodings))
        .opt("prefer", strings(&prefer))
        .opt("minimum_length", min_length)
        .some("match", response_defs.remove("match"))
        .build())
}

fn is_encoder(name: &str) -> bool {
    matches!(name, "gzip" | "zstd")
}

/// Sets `name`'s config (a Go map: the last one wins).
fn put(encodings: &mut Vec<(String, Value)>, name: &str, v: Value) {
    match encodings.iter_mut().find(|(k, _)| k == name) {
        Some(e) => e.1 = v,
        None => encodings.push((name.to_string(), v)),
    }
}

/// An encoder configured on its own line in the block (Caddy's
/// `UnmarshalModule` for `http.encoders.NAME`); `d` starts at its name.
fn encoder_from_block(d: &mut Dispenser, name: &str) -> Result<Value> {
    d.next();
    match name {
        "gzip" => gzip(d),
        "zstd" => zstd(d),
        _ => Err(d.err(format!(
            "getting module named 'http.encoders.{name}': module not registered: http.encoders.{name}"
        ))),
    }
}

/// `gzip [<level>]`.
fn gzip(d: &mut Dispenser) -> Result<Value> {
    let mut level = 0;
    if let Some(v) = d.next_arg_value() {
        level = atoi(&v).map_err(|e| d.err(e))?;
    }
    Ok(Obj::new().opt("level", level).build())
}

/// `zstd [<level>] { disable_checksum }`.
fn zstd(d: &mut Dispenser) -> Result<Value> {
    let mut level = String::new();
    let mut checksum: Option<bool> = None;
    if let Some(v) = d.next_arg_value() {
        if !ZSTD_LEVELS.contains(&v.to_ascii_lowercase().as_str()) {
            return Err(d.err(
                "unexpected compression level, use one of 'fastest', 'better', 'best', 'default'",
            ));
        }
        level = v;
    }
    while d.next_block(0) {
        match d.val() {
            "disable_checksum" => {
                if d.next_arg() {
                    return Err(d.arg_err());
                }
                checksum = Some(false);
            }
            other => return Err(d.err(format!("unrecognized subdirective '{other}'"))),
        }
    }
    Ok(Obj::new()
        .opt("level", level)
        .some("checksum", checksum)
        .build())
}
