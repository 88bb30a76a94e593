//! Times in templates: `now`, `date FORMAT TIME` (Sprig), `unixEpoch`,
//! methods on a time (`.Unix`, `.Year`, `.Format "layout"`, …), and Go's
//! reference-time layouts (`2006-01-02 15:04:05`, `Jan`, `Monday`,
//! `-0700`, `.000`, …) for formatting and, for `humanize "time"`, parsing.
//! Times are shown in UTC (bellhop has no time zone database).

use super::super::value::{unix_time, Value};
use crate::http::replacer::clock::civil;
use std::time::{SystemTime, UNIX_EPOCH};

mod parse;
pub use parse::parse;

pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The time functions; `None` for other names.
pub fn call(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    Some(match (name, args) {
        ("now", []) => Ok(Value::Time(SystemTime::now())),
        ("unixEpoch", [t]) => to_time(t).map(|t| Value::str(secs(t).to_string())),
        ("date", [layout, t]) => layout
            .as_str()
            .and_then(|l| Ok(Value::str(format(to_time(t)?, l)))),
        ("now" | "unixEpoch" | "date", _) => Err(format!("wrong number of args for {name}")),
        _ => return None,
    })
}

fn to_time(v: &Value) -> Result<SystemTime, String> {
    match v {
        Value::Time(t) => Ok(*t),
        Value::Int(n) => Ok(unix_time(*n)),
        other => Err(format!("expected a time; found {}", other.kind())),
    }
}

fn secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn nanos(t: SystemTime) -> u32 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.subsec_nanos(),
        Err(_) => 0,
    }
}

/// A method of a time value.
pub fn method(t: SystemTime, name: &str, args: &[Value]) -> Result<Value, String> {
    let c = civil(secs(t));
    Ok(match (name, args) {
        ("Unix", []) => Value::Int(secs(t)),
        ("UnixMilli", []) => Value::Int(secs(t) * 1000 + i64::from(nanos(t) / 1_000_000)),
        ("UnixNano", []) => Value::Int(secs(t) * 1_000_000_000 + i64::from(nanos(t))),
        ("Year", []) => Value::Int(c.year),
        ("Month", []) => Value::str(MONTHS[c.month as usize - 1]),
        ("Day", []) => Value::Int(i64::from(c.day)),
        ("Hour", []) => Value::Int(i64::from(c.hour)),
        ("Minute", []) => Value::Int(i64::from(c.minute)),
        ("Second", []) => Value::Int(i64::from(c.second)),
        ("Weekday", []) => Value::str(DAYS[weekday(secs(t))]),
        ("UTC" | "Local", []) => Value::Time(t),
        ("Format", [l]) => Value::str(format(t, l.as_str()?)),
        ("String", []) => Value::str(Value::Time(t).display()),
        _ => return Err(format!("can't evaluate field {name} in type time.Time")),
    })
}

fn weekday(secs: i64) -> usize {
    (secs.div_euclid(86_400) + 4).rem_euclid(7) as usize
}

/// Elements of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Tk<'a> {
    Lit(&'a str),
    Year4,
    Year2,
    MonthLong,
    MonthShort,
    Month2,
    Month1,
    DayLong,
    DayShort,
    Day2,
    DaySpace,
    Day1,
    Hour24,
    Hour12Pad,
    Hour12,
    Min2,
    Min1,
    Sec2,
    Sec1,
    PmUpper,
    PmLower,
    Zone,
    /// `-0700`, `-07:00`, `-07`, and the `Z` forms (Z for UTC).
    Offset {
        colon: bool,
        z: bool,
        hours_only: bool,
    },
    /// `.000` (fixed) or `.999` (trailing zeros trimmed), n digits.
    Frac(usize, bool),
}

const TOKENS: &[(&str, Tk<'static>)] = &[
    ("January", Tk::MonthLong),
    ("Jan", Tk::MonthShort),
    ("Monday", Tk::DayLong),
    ("Mon", Tk::DayShort),
    ("MST", Tk::Zone),
    ("2006", Tk::Year4),
    (
        "Z07:00",
        Tk::Offset {
            colon: true,
            z: true,
            hours_only: false,
        },
    ),
    (
        "Z0700",
        Tk::Offset {
            colon: false,
            z: true,
            hours_only: false,
        },
    ),
    (
        "-07:00",
        Tk::Offset {
            colon: true,
            z: false,
            hours_only: false,
        },
    ),
    (
        "-0700",
        Tk::Offset {
            colon: false,
            z: false,
            hours_only: false,
        },
    ),
    (
        "-07",
        Tk::Offset {
            colon: false,
            z: false,
            hours_only: true,
        },
    ),
    ("01", Tk::Month2),
    ("02", Tk::Day2),
    ("_2", Tk::DaySpace),
    ("03", Tk::Hour12Pad),
    ("04", Tk::Min2),
    ("05", Tk::Sec2),
    ("06", Tk::Year2),
    ("15", Tk::Hour24),
    ("PM", Tk::PmUpper),
    ("pm", Tk::PmLower),
    ("1", Tk::Month1),
    ("2", Tk::Day1),
    ("3", Tk::Hour12),
    ("4", Tk::Min1),
    ("5", Tk::Sec1),
];

pub(super) fn tokens(layout: &str) -> Vec<Tk<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut lit = 0;
    while i < layout.len() {
        let rest = &layout[i..];
        let frac = [".0", ",0", ".9", ",9"]
            .iter()
            .find(|p| rest.starts_with(**p))
            .map(|p| {
                let d = p.as_bytes()[1];
                let n = rest[1..].bytes().take_while(|b| *b == d).count();
                (n, d == b'9')
            });
        let found = match frac {
            Some((n, trim)) if !rest[1 + n..].starts_with(|c: char| c.is_ascii_digit()) => {
                Some((1 + n, Tk::Frac(n, trim)))
            }
            _ => TOKENS
                .iter()
                .find(|(p, _)| rest.starts_with(p))
                .map(|(p, t)| (p.len(), *t)),
        };
        match found {
            Some((len, tk)) => {
                if lit < i {
                    out.push(Tk::Lit(&layout[lit..i]));
                }
                out.push(tk);
                i += len;
                lit = i;
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    if lit < layout.len() {
        out.push(Tk::Lit(&layout[lit..]));
    }
    out
}

/// Formats `t` (UTC) by a Go layout.
pub fn format(t: SystemTime, layout: &str) -> String {
    let s = secs(t);
    let c = civil(s);
    let h12 = match c.hour % 12 {
        0 => 12,
        h => h,
    };
    let mut out = String::new();
    for tk in tokens(layout) {
        match tk {
            Tk::Lit(l) => out.push_str(l),
            Tk::Year4 => out.push_str(&format!("{:04}", c.year)),
            Tk::Year2 => out.push_str(&format!("{:02}", c.year.rem_euclid(100))),
            Tk::MonthLong => out.push_str(MONTHS[c.month as usize - 1]),
            Tk::MonthShort => out.push_str(&MONTHS[c.month as usize - 1][..3]),
            Tk::Month2 => out.push_str(&format!("{:02}", c.month)),
            Tk::Month1 => out.push_str(&c.month.to_string()),
            Tk::DayLong => out.push_str(DAYS[weekday(s)]),
            Tk::DayShort => out.push_str(&DAYS[weekday(s)][..3]),
            Tk::Day2 => out.push_str(&format!("{:02}", c.day)),
            Tk::DaySpace => out.push_str(&format!("{:>2}", c.day)),
            Tk::Day1 => out.push_str(&c.day.to_string()),
            Tk::Hour24 => out.push_str(&format!("{:02}", c.hour)),
            Tk::Hour12Pad => out.push_str(&format!("{h12:02}")),
            Tk::Hour12 => out.push_str(&h12.to_string()),
            Tk::Min2 => out.push_str(&format!("{:02}", c.minute)),
            Tk::Min1 => out.push_str(&c.minute.to_string()),
            Tk::Sec2 => out.push_str(&format!("{:02}", c.second)),
            Tk::Sec1 => out.push_str(&c.second.to_string()),
            Tk::PmUpper => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Tk::PmLower => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Tk::Zone => out.push_str("UTC"),
            Tk::Offset {
                colon,
                z,
                hours_only,
            } => out.push_str(match (z, colon, hours_only) {
                (true, _, _) => "Z",
                (false, _, true) => "+00",
                (false, true, _) => "+00:00",
                (false, false, _) => "+0000",
            }),
            Tk::Frac(n, trim) => {
                let digits = format!("{:09}", nanos(t));
                let mut d = &digits[..n.min(9)];
                if trim {
                    d = d.trim_end_matches('0');
                }
                if !d.is_empty() {
                    out.push('.');
                    out.push_str(d);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_format_and_parse() {
        let t = unix_time(1_651_763_045) + std::time::Duration::from_millis(120);
        assert_eq!(
            format(t, "2006-01-02 15:04:05.000 MST"),
            "2022-05-05 15:04:05.120 UTC"
        );
        assert_eq!(
            format(t, "Mon, 02 Jan 2006 3:04PM -0700"),
            "Thu, 05 May 2022 3:04PM +0000"
        );
        assert_eq!(format(t, "January _2 .999"), "May  5 .12");
        let p = parse(
            "Mon, 02 Jan 2006 15:04:05 -0700",
            "Fri, 05 May 2022 17:04:05 +0200",
        )
        .unwrap();
        assert_eq!(secs(p), 1_651_763_045);
        assert_eq!(
            secs(parse("2006-Jan-02", "2022-May-05").unwrap()),
            1_651_708_800
        );
        assert!(parse("2006-01-02", "2022-13-01").is_err());
    }
}
