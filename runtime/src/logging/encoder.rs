//! Log encoders (`caddy.logging.encoders.json` and `.console`): turn one
//! entry (time, level, logger name, message and preformatted JSON fields)
//! into a line.
//!
//! JSON: `{"level":"info","ts":1700000000.123,"logger":"…","msg":"…",…}`;
//! console: `2006/01/02 15:04:05.000\tINFO\tlogger\tmsg\t{"field":…}`, as
//! zap writes them for Caddy. The key names, time format and level case can
//! be changed with Caddy's encoder options. The wrapping encoders `filter`
//! and `append` change the fields first (`filter.rs`, `append.rs`);
//! `journald` prefixes each line with its syslog priority.

use super::Level;
use crate::error::Error;
use crate::http::replacer::clock::civil;
use serde::Deserialize;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[allow(dead_code)]
    format: Option<String>,
    message_key: Option<String>,
    level_key: Option<String>,
    time_key: Option<String>,
    name_key: Option<String>,
    caller_key: Option<String>,
    stacktrace_key: Option<String>,
    line_ending: Option<String>,
    time_format: Option<String>,
    #[serde(default)]
    time_local: bool,
    duration_format: Option<String>,
    level_format: Option<String>,
}

/// The config of a wrapping encoder (`filter`, `append`, `journald`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrapperConfig {
    #[allow(dead_code)]
    format: String,
    wrap: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TimeFmt {
    UnixSecondsFloat,
    UnixMilliFloat,
    UnixNano,
    Iso8601,
    Rfc3339,
    Rfc3339Nano,
    Wall,
    WallMilli,
    WallNano,
    CommonLog,
}

/// The syslog priority prefix sd-journald reads (Caddy's
/// `journaldPriorityPrefix`).
fn journald_priority(level: Level) -> &'static str {
    match level {
        Level::Debug => "<7>",
        Level::Info => "<6>",
        Level::Warn => "<4>",
        Level::Error => "<3>",
        Level::Panic | Level::Fatal => "<2>",
    }
}

/// What a wrapping encoder does to the fields before the inner one.
#[derive(Debug, Clone)]
enum Stage {
    Filter(std::sync::Arc<super::filter::Filters>),
    Append(std::sync::Arc<super::append::Appended>),
}

/// A provisioned encoder.
#[derive(Debug, Clone)]
pub struct Encoder {
    /// Field stages (`format: filter`, `format: append`), outermost
    /// first, applied to the fields before this encoder writes them.
    stages: Vec<Stage>,
    json: bool,
    keys: [String; 4],
    time: TimeFmt,
    upper: bool,
    line_ending: String,
    /// `time_local`: times in the system's zone instead of UTC.
    local: bool,
    /// `journald`: each line starts with its syslog priority (`<6>`), and
    /// a console line has no time (the journal stamps it).
    journald: bool,
    /// `duration_format` (`durations.rs`).
    durations: super::durations::DurationFormat,
}

impl Encoder {
    /// The default for a writer: console on a terminal, JSON otherwise.
    pub fn default_for(terminal: bool) -> Self {
        let json = !terminal;
        Encoder {
            stages: Vec::new(),
            json,
            keys: ["ts".into(), "level".into(), "logger".into(), "msg".into()],
            time: if json {
                TimeFmt::UnixSecondsFloat
            } else {
                TimeFmt::WallMilli
            },
            upper: !json,
            line_ending: "\n".into(),
            local: false,
            journald: false,
            durations: Default::default(),
        }
    }

    /// Provisions the encoder `format` from its JSON at `path`; `terminal`
    /// says whether its writer is one (the default a filter wraps).
    pub fn provision(
        format: &str,
        v: &serde_json::Value,
        path: &str,
        terminal: bool,
    ) -> Result<Encoder, Error> {
        if matches!(format, "filter" | "append" | "journald") {
            return Self::wrapping(format, v, path, terminal);
        }
        let c: Config = crate::config::decode(v, path)?;
        let mut e = Encoder::default_for(format == "console");
        crate::config::unread::encoder(&c.caller_key, &c.stacktrace_key);
        e.durations = super::durations::DurationFormat::parse(c.duration_format.as_deref());
        e.local = c.time_local;
        for (slot, v) in
            e.keys
                .iter_mut()
                .zip([&c.time_key, &c.level_key, &c.name_key, &c.message_key])
        {
            if let Some(v) = v {
                *slot = v.clone();
            }
        }
        if let Some(t) = &c.time_format {
            e.time = parse_time_format(t).ok_or_else(|| {
                Error::config(
                    format!("{path}.time_format"),
                    format!("unknown time format {t:?}"),
                )
            })?;
        }
        match c.level_format.as_deref() {
            None => {}
            Some("lower") => e.upper = false,
            Some("upper" | "color") => e.upper = true,
            Some(other) => {
                return Err(Error::config(
                    format!("{path}.level_format"),
                    format!("unknown level format {other:?}"),
                ))
            }
        }
        if let Some(l) = c.line_ending {
            e.line_ending = l;
        }
        Ok(e)
    }

    /// `caddy.logging.encoders.filter` and `.append`: the `wrap` encoder
    /// (by default JSON, or console on a terminal) with the `fields`
    /// filters, or appended fields, in front.
    fn wrapping(
        format: &str,
        v: &serde_json::Value,
        path: &str,
        terminal: bool,
    ) -> Result<Encoder, Error> {
        let c: WrapperConfig = crate::config::decode(v, path)?;
        let mut inner = match &c.wrap {
            Some(w) => {
                let wpath = format!("{path}.wrap");
                let format = w.get("format").and_then(|f| f.as_str()).ok_or_else(|| {
                    Error::config(&wpath, "module name missing: expected `format`")
                })?;
                if !matches!(
                    format,
                    "json" | "console" | "filter" | "append" | "journald"
                ) {
                    return Err(Error::config(
                        format!("{wpath}.format"),
                        format!("unknown module: caddy.logging.encoders.{format}"),
                    ));
                }
                Encoder::provision(
                    format,
                    &serde_json::Value::Object(w.clone()),
                    &wpath,
                    terminal,
                )?
            }
            None => Encoder::default_for(terminal),
        };
        if format == "journald" {
            if let Some(k) = c.fields.keys().next() {
                return Err(Error::config(format!("{path}.fields.{k}"), "unknown field"));
            }
            inner.journald = true;
            return Ok(inner);
        }
        let stage = match format {
            "filter" => Stage::Filter(std::sync::Arc::new(super::filter::Filters::provision(
                &c.fields, path,
            )?)),
            _ => Stage::Append(std::sync::Arc::new(super::append::Appended::new(&c.fields))),
        };
        inner.stages.insert(0, stage);
        Ok(inner)
    }

    /// Appends one entry as a line to `out`. `fields` is the inside of a
    /// JSON object (`"a":1,"b":"x"`), possibly empty.
    pub fn encode(
        &self,
        out: &mut Vec<u8>,
        ts: SystemTime,
        level: Level,
        logger: &str,
        msg: &str,
        fields: &str,
    ) {
        let mut owned: Option<String> = None;
        for stage in &self.stages {
            let now = owned.as_deref().unwrap_or(fields);
            owned = Some(match stage {
                Stage::Filter(f) => f.apply(now),
                Stage::Append(a) => a.apply(now),
            });
        }
        let fields = owned.as_deref().unwrap_or(fields);
        let fields = self.durations.apply(fields);
        let fields = fields.as_ref();
        let mut s = String::with_capacity(96 + fields.len());
        if self.journald {
            s.push_str(journald_priority(level));
        }
        let lvl = if self.upper {
            level.upper()
        } else {
            level.lower()
        };
        if self.json {
            let [tk, lk, nk, mk] = &self.keys;
            s.push('{');
            json_str(&mut s, lk);
            s.push(':');
            json_str(&mut s, lvl);
            s.push(',');
            json_str(&mut s, tk);
            s.push(':');
            self.write_time(&mut s, ts, true);
            if !logger.is_empty() {
                s.push(',');
                json_str(&mut s, nk);
                s.push(':');
                json_str(&mut s, logger);
            }
            s.push(',');
            json_str(&mut s, mk);
            s.push(':');
            json_str(&mut s, msg);
            if !fields.is_empty() {
                s.push(',');
                s.push_str(fields);
            }
            s.push('}');
        } else {
            if !self.journald {
                self.write_time(&mut s, ts, false);
                s.push('\t');
            }
            s.push_str(lvl);
            if !logger.is_empty() {
                s.push('\t');
                s.push_str(logger);
            }
            s.push('\t');
            s.push_str(msg);
            if !fields.is_empty() {
                s.push_str("\t{");
                s.push_str(fields);
                s.push('}');
            }
        }
        s.push_str(&self.line_ending);
        out.extend_from_slice(s.as_bytes());
    }

    fn write_time(&self, s: &mut String, ts: SystemTime, json: bool) {
        let d = ts.duration_since(UNIX_EPOCH).unwrap_or_default();
        let quoted = json
            && !matches!(
                self.time,
                TimeFmt::UnixSecondsFloat | TimeFmt::UnixMilliFloat | TimeFmt::UnixNano
            );
        if quoted {
            s.push('"');
        }
        let offset = match self.local {
            true => crate::util::localtime::offset_secs(d.as_secs() as i64),
            false => 0,
        };
        let c = civil(d.as_secs() as i64 + i64::from(offset));
        let (ms, ns) = (d.subsec_millis(), d.subsec_nanos());
        // Go's `Z07:00` / `Z0700`: `Z` at UTC, else the offset
        let zone = |colon: bool| match offset {
            0 => "Z".to_string(),
            o => crate::util::localtime::format_offset(o, colon),
        };
        let date = |s: &mut String, sep: char| {
            let _ = write!(s, "{}{sep}{:02}{sep}{:02}", c.year, c.month, c.day);
        };
        let clock = |s: &mut String| {
            let _ = write!(s, "{:02}:{:02}:{:02}", c.hour, c.minute, c.second);
        };
        match self.time {
            // zap's epoch encoders: a float64, in its shortest form.
            TimeFmt::UnixSecondsFloat => {
                let _ = write!(s, "{}", d.as_nanos() as f64 / 1e9);
            }
            TimeFmt::UnixMilliFloat => {
                let _ = write!(s, "{}", d.as_nanos() as f64 / 1e6);
            }
            TimeFmt::UnixNano => {
                let _ = write!(s, "{}", d.as_nanos());
            }
            TimeFmt::Iso8601 | TimeFmt::Rfc3339 | TimeFmt::Rfc3339Nano => {
                date(s, '-');
                s.push('T');
                clock(s);
                let _ = match self.time {
                    TimeFmt::Iso8601 => write!(s, ".{ms:03}{}", zone(false)),
                    TimeFmt::Rfc3339Nano => write!(s, ".{ns:09}{}", zone(true)),
                    _ => write!(s, "{}", zone(true)),
                };
            }
            TimeFmt::Wall | TimeFmt::WallMilli | TimeFmt::WallNano => {
                date(s, '/');
                s.push(' ');
                clock(s);
                let _ = match self.time {
                    TimeFmt::WallMilli => write!(s, ".{ms:03}"),
                    TimeFmt::WallNano => write!(s, ".{ns:09}"),
                    _ => Ok(()),
                };
            }
            TimeFmt::CommonLog => {
                const M: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                let _ = write!(s, "{:02}/{}/{}:", c.day, M[c.month as usize - 1], c.year);
                clock(s);
                s.push(' ');
                s.push_str(&crate::util::localtime::format_offset(offset, false));
            }
        }
        if quoted {
            s.push('"');
        }
    }
}

fn parse_time_format(t: &str) -> Option<TimeFmt> {
    Some(match t {
        "unix_seconds_float" => TimeFmt::UnixSecondsFloat,
        "unix_milli_float" => TimeFmt::UnixMilliFloat,
        "unix_nano" => TimeFmt::UnixNano,
        "iso8601" => TimeFmt::Iso8601,
        "rfc3339" => TimeFmt::Rfc3339,
        "rfc3339_nano" => TimeFmt::Rfc3339Nano,
        "wall" => TimeFmt::Wall,
        "wall_milli" => TimeFmt::WallMilli,
        "wall_nano" => TimeFmt::WallNano,
        "common_log" => TimeFmt::CommonLog,
        _ => return None,
    })
}

/// Appends `v` as a JSON string.
pub fn json_str(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}
