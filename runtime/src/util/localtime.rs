//! The local time zone's offset from UTC at an instant, for the logging
//! options that ask for local time (`time_local`, `roll_local_time`):
//! the system zone (`TZ`, `/etc/localtime`) read once with `jiff`, UTC
//! when there is none.

use std::sync::OnceLock;

/// Seconds east of UTC of the system time zone at `unix` seconds.
pub fn offset_secs(unix: i64) -> i32 {
    static ZONE: OnceLock<jiff::tz::TimeZone> = OnceLock::new();
    let zone =
        ZONE.get_or_init(|| jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC));
    jiff::Timestamp::from_second(unix).map_or(0, |t| zone.to_offset(t).seconds())
}

/// `+hh:mm` / `-hh:mm` (`colon`) or `+hhmm`, for an offset in seconds.
pub fn format_offset(secs: i32, colon: bool) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let m = secs.unsigned_abs() / 60;
    match colon {
        true => format!("{sign}{:02}:{:02}", m / 60, m % 60),
        false => format!("{sign}{:02}{:02}", m / 60, m % 60),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets_format_as_go_does() {
        assert_eq!(super::format_offset(3600, true), "+01:00");
        assert_eq!(super::format_offset(-(5 * 3600 + 30 * 60), false), "-0530");
        assert_eq!(super::format_offset(0, false), "+0000");
    }
}
