//! UTC calendar periods for budgets: which period a moment falls in (its tag, part of the
//! counter's name) and when that period ends.
//!
//! The Redis script computes the same tags from Redis `TIME` (see `redis/admit.lua`); a test
//! checks the two agree.

use super::spec::BudgetPeriod;

const DAY: u64 = 86_400;

/// The period a moment falls in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PeriodWindow {
    /// `d20261122`, `w20261116` (the Monday), `m202611`, or `t` for a total budget.
    pub tag: String,
    /// Unix seconds at which the period began (0 for a total budget).
    pub starts_at: u64,
    /// Unix seconds at which the period ends; `None` for a total budget.
    pub ends_at: Option<u64>,
}

/// The period of `kind` that contains `unix_secs`.
pub(super) fn period_at(kind: BudgetPeriod, unix_secs: u64) -> PeriodWindow {
    let days = unix_secs / DAY;
    match kind {
        BudgetPeriod::Day => {
            let (y, m, d) = civil_from_days(days);
            PeriodWindow {
                tag: format!("d{y:04}{m:02}{d:02}"),
                starts_at: days * DAY,
                ends_at: Some((days + 1) * DAY),
            }
        }
        BudgetPeriod::Week => {
            // 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays.
            let monday = days - (days + 3) % 7;
            let (y, m, d) = civil_from_days(monday);
            PeriodWindow {
                tag: format!("w{y:04}{m:02}{d:02}"),
                starts_at: monday * DAY,
                ends_at: Some((monday + 7) * DAY),
            }
        }
        BudgetPeriod::Month => {
            let (y, m, d) = civil_from_days(days);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            PeriodWindow {
                tag: format!("m{y:04}{m:02}"),
                starts_at: (days + 1 - d) * DAY,
                ends_at: Some(days_from_civil(ny, nm, 1) * DAY),
            }
        }
        BudgetPeriod::Total => PeriodWindow {
            tag: "t".to_owned(),
            starts_at: 0,
            ends_at: None,
        },
    }
}

/// The one-letter code the Redis script takes for a period.
pub(super) fn period_code(kind: BudgetPeriod) -> &'static str {
    match kind {
        BudgetPeriod::Day => "d",
        BudgetPeriod::Week => "w",
        BudgetPeriod::Month => "m",
        BudgetPeriod::Total => "t",
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's
/// algorithm, restricted to dates after 1970).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) → days since 1970-01-01, the inverse of [`civil_from_days`].
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22 12:00:00 UTC, a Sunday.
    const SUNDAY_NOON: u64 = 1_795_348_800;

    #[test]
    fn calendar_round_trips() {
        for days in [0, 59, 365, 10_957, 20_414, 20_513, 60_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn periods_are_utc_calendar_periods() {
        let day = period_at(BudgetPeriod::Day, SUNDAY_NOON);
        assert_eq!(day.tag, "d20261122");
        assert_eq!(day.ends_at, Some(SUNDAY_NOON + 12 * 3600));
        assert_eq!(day.starts_at, SUNDAY_NOON - 12 * 3600);

        let week = period_at(BudgetPeriod::Week, SUNDAY_NOON);
        assert_eq!(week.tag, "w20261116", "weeks start on Monday");
        assert_eq!(week.ends_at, Some(SUNDAY_NOON + 12 * 3600));
        assert_eq!(week.starts_at, SUNDAY_NOON - 6 * DAY - 12 * 3600);

        let month = period_at(BudgetPeriod::Month, SUNDAY_NOON);
        assert_eq!(month.tag, "m202611");
        assert_eq!(month.ends_at, Some(SUNDAY_NOON + 8 * DAY + 12 * 3600));
        assert_eq!(month.starts_at, days_from_civil(2026, 11, 1) * DAY);

        let december = period_at(BudgetPeriod::Month, SUNDAY_NOON + 20 * DAY);
        assert_eq!(december.tag, "m202612");
        assert_eq!(december.ends_at, Some(days_from_civil(2027, 1, 1) * DAY));

        let total = period_at(BudgetPeriod::Total, SUNDAY_NOON);
        assert_eq!((total.tag.as_str(), total.ends_at), ("t", None));
        assert_eq!(total.starts_at, 0);
    }
}
