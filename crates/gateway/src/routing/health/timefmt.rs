//! Parsers for the time formats upstreams put in rate-limit headers: HTTP dates, RFC 3339
//! timestamps, Go-style durations (`6m0s`) and plain seconds.
//!
//! Small and strict rather than a dependency: each parser accepts exactly the format named
//! and returns `None` for anything else, so a malformed header is ignored, never guessed at.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An HTTP date in the IMF-fixdate form every current server sends
/// (`Sun, 06 Nov 1994 08:49:37 GMT`). The obsolete RFC 850 and asctime forms are not
/// accepted; the weekday is not checked against the date.
pub(super) fn parse_http_date(s: &str) -> Option<SystemTime> {
    let (_weekday, rest) = s.trim().split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u32 = digits(parts.next()?, 2)?;
    let month = month_number(parts.next()?)?;
    let year: i64 = digits(parts.next()?, 4)?;
    let (h, m, sec) = clock(parts.next()?)?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    to_system_time(year, month, day, h, m, sec, 0, Duration::ZERO)
}

/// An RFC 3339 timestamp (`2024-05-01T12:00:30Z`, `2024-05-01T14:00:30.25+02:00`).
pub(super) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let (date, time) = s.split_at_checked(10)?;
    let mut ymd = date.split('-');
    let year: i64 = digits(ymd.next()?, 4)?;
    let month: u32 = digits(ymd.next()?, 2)?;
    let day: u32 = digits(ymd.next()?, 2)?;
    let time = time.strip_prefix(['T', 't', ' '])?;
    let (h, m, sec) = clock(time.get(..8)?)?;
    let mut rest = &time[8..];
    let mut frac = Duration::ZERO;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let end = after_dot
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_dot.len());
        if end == 0 {
            return None;
        }
        frac =
            Duration::try_from_secs_f64(format!("0.{}", &after_dot[..end]).parse().ok()?).ok()?;
        rest = &after_dot[end..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let (oh, om) = rest.get(1..)?.split_once(':')?;
            let (oh, om): (i64, i64) = (digits(oh, 2)?, digits(om, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    to_system_time(year, month, day, h, m, sec, offset_secs, frac)
}

/// A Go `time.Duration` string as OpenAI sends in `x-ratelimit-reset-*` (`1s`, `6m0s`,
/// `20ms`, `1h2m3.5s`), or a bare number of seconds (`0`, `2.5`) as some compatible
/// servers send.
pub(super) fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let (unit, secs) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ms", 1e-3),
            ("h", 3600.0),
            ("m", 60.0),
            ("s", 1.0),
        ]
        .into_iter()
        .find(|(unit, _)| rest.starts_with(unit))?;
        total += value * secs;
        rest = &rest[unit.len()..];
    }
    Duration::try_from_secs_f64(total).ok()
}

/// A non-negative number of seconds, possibly fractional (`120`, `1.5`).
pub(super) fn parse_seconds(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// Exactly `width` ASCII digits.
fn digits<T: std::str::FromStr>(s: &str, width: usize) -> Option<T> {
    if s.len() != width || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `HH:MM:SS`.
fn clock(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.split(':');
    let hms = (
        digits(it.next()?, 2)?,
        digits(it.next()?, 2)?,
        digits(it.next()?, 2)?,
    );
    if it.next().is_some() || hms.0 > 23 || hms.1 > 59 || hms.2 > 60 {
        return None;
    }
    Some(hms)
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let i = MONTHS.iter().position(|m| *m == name)?;
    u32::try_from(i + 1).ok()
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A validated UTC civil time, shifted back by `offset_secs`; `None` before 1970.
#[expect(
    clippy::too_many_arguments,
    reason = "the fields of one civil timestamp"
)]
fn to_system_time(
    year: i64,
    month: u32,
    day: u32,
    h: u32,
    m: u32,
    s: u32,
    offset_secs: i64,
    frac: Duration,
) -> Option<SystemTime> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(h) * 3600
        + i64::from(m) * 60
        + i64::from(s)
        - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs) + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(secs: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            unix(784_111_777)
        );
        assert_eq!(
            parse_http_date("Wed, 01 May 2024 12:00:30 GMT"),
            unix(1_714_564_830)
        );
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"),
            unix(1_709_164_800)
        );
        for bad in [
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 31 Apr 2024 00:00:00 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_timestamps() {
        assert_eq!(parse_rfc3339("2024-05-01T12:00:30Z"), unix(1_714_564_830));
        assert_eq!(
            parse_rfc3339("2024-05-01T14:00:30+02:00"),
            unix(1_714_564_830)
        );
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:30.250Z"),
            Some(UNIX_EPOCH + Duration::from_millis(1_714_564_830_250))
        );
        for bad in [
            "2024-05-01 12:00:30",
            "2024-13-01T00:00:00Z",
            "2024-05-01T12:00Z",
            "2024-05-01T12:00:30.Z",
            "1969-12-31T23:59:59Z",
            "1714564830",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("1s"), Some(ms(1_000)));
        assert_eq!(parse_go_duration("6m0s"), Some(ms(360_000)));
        assert_eq!(parse_go_duration("20ms"), Some(ms(20)));
        assert_eq!(parse_go_duration("1h2m3.5s"), Some(ms(3_723_500)));
        assert_eq!(parse_go_duration("1.5s"), Some(ms(1_500)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("7"), Some(ms(7_000)));
        for bad in ["", "6 minutes", "5x", "-1s", "s", "1m-2s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }
}
