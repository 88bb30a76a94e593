//! The `log` directive (an access log for the site) and the `log` global
//! option (a named logger), parsed alike (Caddy's `parseLogHelper`):
//!
//! ```text
//! log [<logger_name>] {
//!     hostnames <hostnames...>         (directive only)
//!     no_hostname                      (directive only)
//!     output <writer_module> ...       (see `log/writers.rs`)
//!     format <encoder_module> ...      (see `log/encoders.rs`)
//!     core <core_module> ...
//!     level <level>
//!     sampling { interval <duration>  first <n>  thereafter <n> }
//!     include <namespaces...>          (global option only)
//!     exclude <namespaces...>          (global option only)
//! }
//! ```
//!
//! An unnamed directive log with settings is named `log0`, `log1`, …; its
//! logger includes `http.log.access.<name>`.

mod encoders;
mod writers;

use super::super::helper::Helper;
use super::super::value::{class, module_json, ConfigValue, NamedLog, Payload};
use super::tls::issuers::generic_module;
use crate::error::Result;
use crate::http::duration::parse_duration;
use crate::http::obj::strings;
use crate::syntax::Dispenser;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Parses the `log` directive.
pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    let mut counter = h.state.log_counter;
    let log = parse_log(&mut h.d, None, &mut counter)?;
    h.state.log_counter = counter;
    Ok(vec![ConfigValue::new(class::CUSTOM_LOG, Payload::Log(log))])
}

/// Parses a `log` segment (`d` before its name). `global_names` is given
/// for the global option (the names used so far); `counter` numbers
/// unnamed directive logs.
pub fn parse_log(
    d: &mut Dispenser,
    global_names: Option<&mut HashSet<String>>,
    counter: &mut usize,
) -> Result<NamedLog> {
    d.next();
    let global = global_names.is_some();
    let mut name = String::new();
    if d.next_arg() {
        name = d.val().to_string();
        if d.next_arg() {
            return Err(d.arg_err());
        }
    }
    if let Some(names) = global_names {
        if name.is_empty() {
            name = "default".into();
        }
        if !names.insert(name.clone()) {
            return Err(d.err(format!("duplicate global log option for: {name}")));
        }
    }
    let mut cl = CustomLog::default();
    let mut out = NamedLog::default();
    while d.next_block(0) {
        let sub = d.val().to_string();
        subdirective(d, &sub, global, &mut cl, &mut out)?;
    }
    let empty = cl.is_empty();
    if !global {
        if name.is_empty() && !empty {
            name = format!("log{counter}");
            *counter += 1;
        }
        if !name.is_empty() {
            cl.include = vec![format!("http.log.access.{name}")];
        }
    }
    out.name = name;
    if !empty {
        out.log = Some(cl.into_map());
    }
    Ok(out)
}

/// Caddy's `caddy.CustomLog`, fields in Go order.
#[derive(Default)]
struct CustomLog {
    writer: Option<Value>,
    encoder: Option<Value>,
    core: Option<Value>,
    level: String,
    sampling: Option<Value>,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl CustomLog {
    fn is_empty(&self) -> bool {
        self.writer.is_none()
            && self.encoder.is_none()
            && self.core.is_none()
            && self.level.is_empty()
            && self.sampling.is_none()
            && self.include.is_empty()
            && self.exclude.is_empty()
    }

    fn into_map(self) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in [
            ("writer", self.writer),
            ("encoder", self.encoder),
            ("core", self.core),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), module_json(&v));
            }
        }
        if !self.level.is_empty() {
            m.insert("level".into(), self.level.into());
        }
        if let Some(s) = self.sampling {
            m.insert("sampling".into(), s);
        }
        for (k, v) in [("include", self.include), ("exclude", self.exclude)] {
            if !v.is_empty() {
                m.insert(k.into(), strings(&v));
            }
        }
        m
    }
}

fn subdirective(
    d: &mut Dispenser,
    sub: &str,
    global: bool,
    cl: &mut CustomLog,
    out: &mut NamedLog,
) -> Result<()> {
    match sub {
        "hostnames" => {
            if global {
                return Err(d.err("hostnames is not allowed in the log global options"));
            }
            let args = d.remaining_args();
            if args.is_empty() {
                return Err(d.arg_err());
            }
            out.hostnames.extend(args);
        }
        "output" => {
            if !d.next_arg() {
                return Err(d.arg_err());
            }
            cl.writer = Some(writers::parse(d)?);
        }
        "sampling" => cl.sampling = Some(sampling(d)?),
        "core" => {
            let name = d.next_arg_value().ok_or_else(|| d.arg_err())?;
            let mut seg = d.new_from_next_segment();
            seg.next();
            cl.core = Some(generic_module(&mut seg, "module", &name));
        }
        "format" => {
            if !d.next_arg() {
                return Err(d.arg_err());
            }
            cl.encoder = Some(encoders::parse(d)?);
        }
        "level" => {
            cl.level = d.next_arg_value().ok_or_else(|| d.arg_err())?;
            if d.next_arg() {
                return Err(d.arg_err());
            }
        }
        "include" | "exclude" => {
            if !global {
                return Err(d.err(format!("{sub} is not allowed in the log directive")));
            }
            let args = d.remaining_args();
            let list = if sub == "include" {
                &mut cl.include
            } else {
                &mut cl.exclude
            };
            list.extend(args);
        }
        "no_hostname" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            out.no_hostname = true;
        }
        _ => return Err(d.err(format!("unrecognized subdirective: {sub}"))),
    }
    Ok(())
}

/// `sampling { interval <d>  first <n>  thereafter <n> }` (Caddy's
/// `caddy.LogSampling`, fields in Go order).
fn sampling(d: &mut Dispenser) -> Result<Value> {
    let mut seg = d.new_from_next_segment();
    let d = &mut seg;
    d.next();
    while d.next_arg() {}
    let (mut interval, mut first, mut thereafter) = (None, None, None);
    let nesting = d.nesting();
    while d.next_block(nesting) {
        let sub = d.val().to_string();
        let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
        match sub.as_str() {
            "interval" => {
                let ns = parse_duration(&v)
                    .map_err(|e| d.err(format!("failed to parse interval: {e}")))?;
                interval = Some(ns);
            }
            "first" | "thereafter" => {
                let n: i64 = v
                    .parse()
                    .map_err(|e| d.err(format!("failed to parse {sub}: {e}")))?;
                if sub == "first" {
                    first = Some(n);
                } else {
                    thereafter = Some(n);
                }
            }
            _ => return Err(d.err(format!("unrecognized subdirective: {sub}"))),
        }
    }
    let mut m = Map::new();
    for (k, v) in [
        ("interval", interval),
        ("first", first),
        ("thereafter", thereafter),
    ] {
        if let Some(v) = v.filter(|v| *v != 0) {
            m.insert(k.into(), v.into());
        }
    }
    Ok(Value::Object(m))
}
