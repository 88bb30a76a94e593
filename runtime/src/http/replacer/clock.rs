//! Time placeholders (`{time.now}`, `{time.now.http}`, …) and Go-style
//! duration text, computed from the system clock in UTC without a date
//! library.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which `{time.now*}` placeholder.
#[derive(Debug, Clone, Copy)]
pub enum TimeFormat {
    /// `{time.now}`: Go's default time format.
    Default,
    /// `{time.now.http}`: an HTTP date.
    Http,
    /// `{time.now.common_log}`: `02/Jan/2006:15:04:05 -0700`.
    CommonLog,
    /// `{time.now.year}`.
    Year,
    /// `{time.now.unix}`.
    Unix,
    /// `{time.now.unix_ms}`.
    UnixMs,
}

impl TimeFormat {
    /// Parses the rest of a name after `time.now`.
    pub fn parse(rest: &str) -> Option<TimeFormat> {
        Some(match rest {
            "" => TimeFormat::Default,
            ".http" => TimeFormat::Http,
            ".common_log" => TimeFormat::CommonLog,
            ".year" => TimeFormat::Year,
            ".unix" => TimeFormat::Unix,
            ".unix_ms" => TimeFormat::UnixMs,
            _ => return None,
        })
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Civil date and time in UTC of a Unix timestamp.
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Howard Hinnant's days-to-civil algorithm.
pub fn civil(unix: i64) -> Civil {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
    }
}

/// Writes the current time in the given format.
pub fn write_now(f: TimeFormat, out: &mut String) {
    let now = SystemTime::now();
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let c = civil(since.as_secs() as i64);
    let _ = match f {
        TimeFormat::Http => write!(out, "{}", httpdate::fmt_http_date(now)),
        TimeFormat::CommonLog => write!(
            out,
            "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
            c.day,
            MONTHS[c.month as usize - 1],
            c.year,
            c.hour,
            c.minute,
            c.second
        ),
        TimeFormat::Year => write!(out, "{}", c.year),
        TimeFormat::Unix => write!(out, "{}", since.as_secs()),
        TimeFormat::UnixMs => write!(out, "{}", since.as_millis()),
        TimeFormat::Default => {
            let _ = write!(
                out,
                "{}-{:02}-{:02} {:02}:{:02}:{:02}",
                c.year, c.month, c.day, c.hour, c.minute, c.second
            );
            let nanos = since.subsec_nanos();
            if nanos > 0 {
                let frac = format!("{nanos:09}");
                let _ = write!(out, ".{}", frac.trim_end_matches('0'));
            }
            write!(out, " +0000 UTC")
        }
    };
}

/// Writes a duration as Go's `time.Duration.String` does (`1.5s`, `2ms`).
pub fn write_go_duration(d: Duration, out: &mut String) {
    let nanos = d.as_nanos();
    let _ = if nanos == 0 {
        write!(out, "0s")
    } else if nanos < 1_000 {
        write!(out, "{nanos}ns")
    } else if nanos < 1_000_000 {
        write!(out, "{}µs", trim(nanos as f64 / 1e3))
    } else if nanos < 1_000_000_000 {
        write!(out, "{}ms", trim(nanos as f64 / 1e6))
    } else {
        write!(out, "{}s", trim(d.as_secs_f64()))
    };
}

fn trim(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let c = civil(0);
        assert_eq!((c.year, c.month, c.day), (1970, 1, 1));
        let c = civil(1_709_251_199); // 2024-02-29T23:59:59Z
        assert_eq!((c.year, c.month, c.day, c.hour), (2024, 2, 29, 23));
    }

    #[test]
    fn go_durations() {
        let mut s = String::new();
        write_go_duration(Duration::from_millis(1500), &mut s);
        assert_eq!(s, "1.5s");
    }
}
