//! Parsing a time by a Go layout (for `humanize "time:LAYOUT"`): numeric
//! fields, month names, `PM`, numeric offsets and `Z`, fractions; weekday
//! and zone names are skipped. The result is a UTC instant.

use super::{tokens, Tk, MONTHS};
use crate::http::handlers::templates::value::unix_time;
use std::time::SystemTime;

/// Parses `s` by a Go layout (for `humanize "time"`).
pub fn parse(layout: &str, s: &str) -> Result<SystemTime, String> {
    let bad = || format!("parsing time {s:?} as {layout:?}");
    let (mut year, mut month, mut day, mut hour, mut min, mut sec) =
        (1i64, 1u32, 1u32, 0u32, 0u32, 0u32);
    let (mut pm, mut offset, mut nanos) = (None, 0i64, 0u32);
    let mut rest = s;
    let num = |rest: &mut &str, max: usize| -> Result<u32, String> {
        let n = rest
            .bytes()
            .take(max)
            .take_while(u8::is_ascii_digit)
            .count();
        let v = rest[..n].parse().map_err(|_| bad())?;
        *rest = &rest[n..];
        Ok(v)
    };
    for tk in tokens(layout) {
        match tk {
            Tk::Lit(l) => rest = rest.strip_prefix(l).ok_or_else(bad)?,
            Tk::Year4 => year = i64::from(num(&mut rest, 4)?),
            Tk::Year2 => year = 2000 + i64::from(num(&mut rest, 2)?),
            Tk::MonthLong | Tk::MonthShort => {
                let i = MONTHS
                    .iter()
                    .position(|m| {
                        let m = if tk == Tk::MonthShort { &m[..3] } else { m };
                        rest.starts_with(m)
                    })
                    .ok_or_else(bad)?;
                rest = &rest[if tk == Tk::MonthShort {
                    3
                } else {
                    MONTHS[i].len()
                }..];
                month = i as u32 + 1;
            }
            Tk::DayLong | Tk::DayShort | Tk::Zone => {
                rest = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            }
            Tk::Month2 | Tk::Month1 => month = num(&mut rest, 2)?,
            Tk::Day2 | Tk::Day1 => day = num(&mut rest, 2)?,
            Tk::DaySpace => {
                rest = rest.strip_prefix(' ').unwrap_or(rest);
                day = num(&mut rest, 2)?;
            }
            Tk::Hour24 | Tk::Hour12Pad | Tk::Hour12 => hour = num(&mut rest, 2)?,
            Tk::Min2 | Tk::Min1 => min = num(&mut rest, 2)?,
            Tk::Sec2 | Tk::Sec1 => sec = num(&mut rest, 2)?,
            Tk::PmUpper | Tk::PmLower => {
                pm = Some(rest.get(..2).ok_or_else(bad)?.eq_ignore_ascii_case("pm"));
                rest = &rest[2..];
            }
            Tk::Offset { .. } => {
                if let Some(r) = rest.strip_prefix('Z') {
                    rest = r;
                    continue;
                }
                let neg = rest.starts_with('-');
                rest = rest.get(1..).ok_or_else(bad)?;
                let h = num(&mut rest, 2)?;
                rest = rest.strip_prefix(':').unwrap_or(rest);
                let m = num(&mut rest, 2).unwrap_or(0);
                offset = i64::from(h * 3600 + m * 60) * if neg { -1 } else { 1 };
            }
            Tk::Frac(..) => {
                if let Some(r) = rest.strip_prefix(['.', ',']) {
                    let n = r.bytes().take_while(u8::is_ascii_digit).count();
                    nanos = format!("{:0<9}", &r[..n.min(9)]).parse().unwrap_or(0);
                    rest = &r[n..];
                }
            }
        }
    }
    if !rest.is_empty() || month == 0 || month > 12 || day == 0 || day > 31 {
        return Err(bad());
    }
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let days = days_from_civil(year, month, day);
    let unix = days * 86_400 + i64::from(hour * 3600 + min * 60 + sec) - offset;
    Ok(unix_time(unix) + std::time::Duration::from_nanos(u64::from(nanos)))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
