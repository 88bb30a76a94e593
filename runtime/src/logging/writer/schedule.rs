//! When a log file rolls by time (Caddy 2.11's file writer options):
//! - `roll_interval`: a duration (nanoseconds or Caddy's duration text)
//!   after which the current file is rolled, counted from when it was
//!   started (opened, or rolled last);
//! - `roll_at`: times of day `HH:MM` at which the file rolls;
//! - `roll_minutes`: minutes past every hour at which the file rolls.
//!
//! Every rule that is set gives a next deadline; the earliest wins. Times
//! of day are UTC (bellhop carries no time zone database, so
//! `roll_local_time` does not shift them).

use crate::error::Error;
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time-based rolling rules of one file writer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    interval: Option<Duration>,
    /// Minutes after midnight.
    at: Vec<u64>,
    /// Minutes past the hour.
    minutes: Vec<u64>,
}

impl Schedule {
    /// Reads the rules; `None` when no time-based rolling is configured.
    pub fn parse(
        interval: Option<&Value>,
        at: Option<&Value>,
        minutes: Option<&Value>,
        path: &str,
    ) -> Result<Option<Schedule>, Error> {
        let mut s = Schedule::default();
        if let Some(v) = interval {
            let at_path = format!("{path}.roll_interval");
            let d: crate::config::CaddyDuration = crate::config::decode(v, &at_path)?;
            if d.0.is_zero() {
                return Err(Error::config(at_path, "roll_interval must be positive"));
            }
            s.interval = Some(d.0);
        }
        if let Some(v) = at {
            let at_path = format!("{path}.roll_at");
            let times: Vec<String> = crate::config::decode(v, &at_path)?;
            for (i, t) in times.iter().enumerate() {
                let m = time_of_day(t).ok_or_else(|| {
                    Error::config(
                        format!("{at_path}[{i}]"),
                        format!("invalid time of day {t:?}, expected HH:MM"),
                    )
                })?;
                s.at.push(m);
            }
        }
        if let Some(v) = minutes {
            let at_path = format!("{path}.roll_minutes");
            let list: Vec<u64> = crate::config::decode(v, &at_path)?;
            for (i, m) in list.iter().enumerate() {
                if *m > 59 {
                    return Err(Error::config(
                        format!("{at_path}[{i}]"),
                        format!("minute {m} is not between 0 and 59"),
                    ));
                }
            }
            s.minutes = list;
        }
        let empty = s.interval.is_none() && s.at.is_empty() && s.minutes.is_empty();
        Ok((!empty).then_some(s))
    }

    /// The earliest moment after `now` at which a file started at
    /// `started` must roll.
    pub fn next(&self, started: SystemTime, now: SystemTime) -> Option<SystemTime> {
        let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let after = |period: u64, offsets: &[u64]| {
            let base = now_s - now_s % period;
            offsets
                .iter()
                .map(|m| {
                    let t = base + m * 60;
                    if t <= now_s {
                        t + period
                    } else {
                        t
                    }
                })
                .min()
        };
        let candidates = [
            self.interval.map(|d| started + d),
            after(86_400, &self.at).map(|s| UNIX_EPOCH + Duration::from_secs(s)),
            after(3_600, &self.minutes).map(|s| UNIX_EPOCH + Duration::from_secs(s)),
        ];
        candidates.into_iter().flatten().min()
    }
}

/// `HH:MM` → minutes after midnight.
fn time_of_day(s: &str) -> Option<u64> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn earliest_rule_wins() {
        let s = Schedule::parse(
            Some(&json!(43_200_000_000_000u64)),
            Some(&json!(["00:00", "06:00"])),
            Some(&json!([10, 40])),
            "w",
        )
        .unwrap()
        .unwrap();
        // 1970-01-02T05:45:00Z: next minute mark is 06:10, roll_at 06:00.
        let now = at(86_400 + 5 * 3600 + 45 * 60);
        assert_eq!(s.next(now, now), Some(at(86_400 + 6 * 3600)));
        // At 06:05 the :10 minute mark comes first.
        let now = at(86_400 + 6 * 3600 + 5 * 60);
        assert_eq!(s.next(now, now), Some(at(86_400 + 6 * 3600 + 600)));
        let only_interval = Schedule::parse(Some(&json!("1.5s")), None, None, "w")
            .unwrap()
            .unwrap();
        assert_eq!(
            only_interval.next(at(10), at(11)),
            Some(at(10) + Duration::from_millis(1500))
        );
    }

    #[test]
    fn bad_values_name_their_path() {
        let e = Schedule::parse(None, Some(&json!(["25:00"])), None, "w").unwrap_err();
        assert!(e.to_string().contains("w.roll_at[0]"), "{e}");
        let e = Schedule::parse(None, None, Some(&json!([60])), "w").unwrap_err();
        assert!(e.to_string().contains("w.roll_minutes[0]"), "{e}");
        assert_eq!(Schedule::parse(None, None, None, "w").unwrap(), None);
    }
}
