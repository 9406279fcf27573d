//! Local calendar days and periods in the deployment's time zone.
//!
//! Statistics bucket events by the *local* day they happened on (default Asia/Shanghai), so
//! an event at 2026-01-31T17:30Z counts on 1 February. A day is a number of days since
//! 1970-01-01 in local time; a month is `year * 12 + month - 1`. Dates are jiff's
//! ([`gridcase_domain::time::civil_date`]): years -9999 to 9999, which hold the local day of
//! every instant; conversions saturate at those ends.

use std::fmt;

use gridcase_domain::time::{civil_date, epoch_days};
use gridcase_domain::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// A local calendar day: days since 1970-01-01.
pub type Day = i32;
/// A local calendar month: `year * 12 + (month - 1)`.
pub type Month = i32;

/// Converts instants to local days in one time zone.
#[derive(Clone, Debug)]
pub struct Calendar {
    tz: jiff::tz::TimeZone,
    name: String,
}

/// An unknown time zone name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown time zone {0:?} (use an IANA name such as Asia/Shanghai)")]
pub struct UnknownTimeZone(pub String);

impl Default for Calendar {
    fn default() -> Self {
        Calendar::new("Asia/Shanghai").expect("the bundled tz database has Asia/Shanghai")
    }
}

impl Calendar {
    /// The calendar of an IANA time zone.
    pub fn new(name: &str) -> Result<Calendar, UnknownTimeZone> {
        let tz = jiff::tz::db()
            .get(name)
            .map_err(|_| UnknownTimeZone(name.to_owned()))?;
        Ok(Calendar {
            tz,
            name: name.to_owned(),
        })
    }

    /// The zone's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local day of an instant.
    pub fn day(&self, t: Timestamp) -> Day {
        let offset = self.tz.to_offset(t.to_jiff()).seconds() as i64 * 1000;
        (t.as_millis() + offset).div_euclid(86_400_000) as Day
    }

    /// The first instant of a local day.
    pub fn day_start(&self, day: Day) -> Timestamp {
        match civil_date(day.into()).to_zoned_datetime(self.tz.clone()) {
            Ok(z) => Timestamp::from_millis(z.timestamp().as_millisecond()),
            Err(_) => Timestamp::from_millis(i64::from(day) * 86_400_000),
        }
    }
}

/// The day number of a date.
fn day_of(date: Date) -> Day {
    epoch_days(date) as Day
}

/// The month a day falls in.
pub fn month_of(day: Day) -> Month {
    let date = civil_date(day.into());
    i32::from(date.year()) * 12 + i32::from(date.month()) - 1
}

/// The first day of a month.
pub fn month_start(month: Month) -> Day {
    let (y, m) = (month.div_euclid(12), month.rem_euclid(12) as i8 + 1);
    let first = i16::try_from(y).ok().and_then(|y| Date::new(y, m, 1).ok());
    day_of(first.unwrap_or(if y < 0 { Date::MIN } else { Date::MAX }))
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), if the date exists (and is
/// within years -9999 to 9999).
pub(crate) fn days_from_civil(y: i32, m: u32, d: u32) -> Option<Day> {
    let date = Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    );
    date.ok().map(day_of)
}

/// The civil date (year, month 1–12, day 1–31) of a day number.
pub fn civil_from_days(day: Day) -> (i32, u32, u32) {
    let date = civil_date(day.into());
    (date.year().into(), date.month() as u32, date.day() as u32)
}

/// A half-open range of local days `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    /// First day.
    pub from: Day,
    /// First day after the period.
    pub to: Day,
}

/// A period that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a period{}: use 2026, 2026-Q1, 2026-03, 2026-W05, 2026-03-02 or 2026-03-01..2026-04-15", reason.map(|r| format!(" ({r})")).unwrap_or_default())]
pub struct PeriodParseError {
    /// The rejected input.
    pub input: String,
    /// What is wrong with it, when its form was right.
    pub reason: Option<&'static str>,
}

/// `2026-03-02` (month and day may have one digit).
fn date(s: &str) -> Option<Day> {
    Date::strptime("%Y-%m-%d", s).ok().map(day_of)
}

impl Period {
    /// One local day.
    pub fn day(day: Day) -> Period {
        Period {
            from: day,
            to: day + 1,
        }
    }

    /// A whole month.
    pub fn month(month: Month) -> Period {
        Period {
            from: month_start(month),
            to: month_start(month + 1),
        }
    }

    /// Parses `2026` (year), `2026-Q1` (quarter), `2026-03` (month), `2026-W05` (ISO week),
    /// `2026-03-02` (day) or `2026-03-01..2026-04-15` (custom, end exclusive).
    pub fn parse(s: &str) -> Result<Period, PeriodParseError> {
        let err = || PeriodParseError {
            input: s.to_owned(),
            reason: None,
        };
        let wrong = |reason| PeriodParseError {
            input: s.to_owned(),
            reason: Some(reason),
        };
        let s = s.trim();
        if let Some((a, b)) = s.split_once("..") {
            let (from, to) = (date(a).ok_or_else(err)?, date(b).ok_or_else(err)?);
            return if from < to {
                Ok(Period { from, to })
            } else {
                Err(wrong("the end is not after the start"))
            };
        }
        let parts: Vec<&str> = s.split('-').collect();
        let year = |p: &str| p.parse::<i32>().ok().filter(|y| (1900..=9999).contains(y));
        match parts.as_slice() {
            [y] => {
                let y = year(y).ok_or_else(err)?;
                Ok(Period {
                    from: month_start(y * 12),
                    to: month_start(y * 12 + 12),
                })
            }
            [y, q] if q.starts_with('Q') => {
                let y = year(y).ok_or_else(err)?;
                let q: i32 = q[1..]
                    .parse()
                    .ok()
                    .filter(|q| (1..=4).contains(q))
                    .ok_or_else(err)?;
                let m = y * 12 + (q - 1) * 3;
                Ok(Period {
                    from: month_start(m),
                    to: month_start(m + 3),
                })
            }
            [y, w] if w.starts_with('W') => {
                let y = year(y).ok_or_else(err)?;
                let w: i32 = w[1..]
                    .parse()
                    .ok()
                    .filter(|w| (1..=53).contains(w))
                    .ok_or_else(err)?;
                // Most ISO years have 52 weeks: week 53 of those does not exist (it is not the
                // next year's first, which an analyst would read under the wrong year).
                let y = i16::try_from(y).map_err(|_| err())?;
                let week = i8::try_from(w).map_err(|_| err())?;
                let monday = jiff::civil::Weekday::Monday;
                let first = jiff::civil::ISOWeekDate::new(y, week, monday)
                    .map_err(|_| wrong("that year has 52 ISO weeks"))?;
                let from = day_of(first.date());
                Ok(Period { from, to: from + 7 })
            }
            [y, m] => {
                let y = year(y).ok_or_else(err)?;
                let m: i32 = m
                    .parse()
                    .ok()
                    .filter(|m| (1..=12).contains(m))
                    .ok_or_else(err)?;
                Ok(Period::month(y * 12 + m - 1))
            }
            [_, _, _] => date(s).map(Period::day).ok_or_else(err),
            _ => Err(err()),
        }
    }

    /// Number of days.
    pub fn days(&self) -> i32 {
        self.to - self.from
    }

    /// Whether a day is inside.
    pub fn contains(&self, day: Day) -> bool {
        self.from <= day && day < self.to
    }

    /// The period just before, of the same calendar shape: the previous month for a whole
    /// month, the previous year for a whole year, else the same number of days before.
    pub fn previous(&self) -> Period {
        let (fm, tm) = (month_of(self.from), month_of(self.to));
        if month_start(fm) == self.from && month_start(tm) == self.to {
            let n = tm - fm;
            return Period {
                from: month_start(fm - n),
                to: self.from,
            };
        }
        Period {
            from: self.from - self.days(),
            to: self.from,
        }
    }

    /// Splits into whole months and leftover days, for pre-aggregated lookups.
    pub fn buckets(&self) -> (Vec<Month>, Vec<Day>) {
        let mut months = Vec::new();
        let mut days = Vec::new();
        let mut d = self.from;
        while d < self.to {
            let m = month_of(d);
            let (ms, me) = (month_start(m), month_start(m + 1));
            if d == ms && me <= self.to {
                months.push(m);
                d = me;
            } else {
                let end = me.min(self.to);
                days.extend(d..end);
                d = end;
            }
        }
        (months, days)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y1, m1, d1) = civil_from_days(self.from);
        let (y2, m2, d2) = civil_from_days(self.to);
        write!(f, "{y1:04}-{m1:02}-{d1:02}..{y2:04}-{m2:02}-{d2:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        for d in -800_000..800_000 {
            if d % 997 == 0 {
                let (y, m, dd) = civil_from_days(d);
                assert_eq!(days_from_civil(y, m, dd), Some(d));
            }
        }
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(days_from_civil(2026, 2, 29), None);
        assert_eq!(days_from_civil(2026, 13, 1), None);
    }

    /// The hand-written conversion these functions used before jiff (H. Hinnant's
    /// `days_from_civil`), kept to check that the day and month numbers did not change.
    fn hinnant_days_from_civil(y: i32, m: u32, d: u32) -> i32 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe as u32 * 365 + yoe as u32 / 4 - yoe as u32 / 100 + doy;
        era * 146_097 + doe as i32 - 719_468
    }

    /// The inverse of [`hinnant_days_from_civil`], as it was.
    fn hinnant_civil_from_days(z: i32) -> (i32, u32, u32) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = (z - era * 146_097) as u32;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe as i32 + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    /// [`jiff_gives_the_days_and_months_of_the_old_formula`] for one day.
    fn same_as_the_old_formula(day: i32) -> Result<(), String> {
        let (y, m, d) = hinnant_civil_from_days(day);
        let got = (
            civil_from_days(day),
            days_from_civil(y, m, d),
            month_of(day),
            month_start(month_of(day)),
        );
        let want = (
            (y, m, d),
            Some(day),
            y * 12 + m as i32 - 1,
            hinnant_days_from_civil(y, m, 1),
        );
        (got == want)
            .then_some(())
            .ok_or_else(|| format!("day {day}: {got:?}, the old formula {want:?}"))
    }

    #[test]
    fn every_day_of_1900_to_2100_and_every_101st_beyond_is_as_before() {
        let (lo, hi) = (
            days_from_civil(1900, 1, 1).unwrap(),
            days_from_civil(2101, 1, 1).unwrap(),
        );
        for day in (-4_371_587..=2_932_896).filter(|d| (lo..hi).contains(d) || d % 101 == 0) {
            same_as_the_old_formula(day).unwrap();
        }
    }

    proptest::proptest! {
        /// Over every day jiff has (years -9999 to 9999): the same dates, day numbers and
        /// months as the old formula.
        #[test]
        fn jiff_gives_the_days_and_months_of_the_old_formula(day in -4_371_587i32..=2_932_896) {
            same_as_the_old_formula(day).map_err(proptest::test_runner::TestCaseError::fail)?;
        }
    }

    #[test]
    fn the_ends_of_the_range_and_beyond_saturate() {
        assert_eq!(civil_from_days(-4_371_587), (-9999, 1, 1));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
        assert_eq!(civil_from_days(i32::MAX), (9999, 12, 31));
        assert_eq!(civil_from_days(i32::MIN), (-9999, 1, 1));
        assert_eq!(month_start(10_000 * 12), 2_932_896);
        assert_eq!(month_start(-10_000 * 12), -4_371_587);
        assert_eq!(month_of(i32::MAX), 9999 * 12 + 11);
    }

    #[test]
    fn an_event_late_on_31_january_utc_is_in_february_in_shanghai() {
        let cal = Calendar::default();
        let t = Timestamp::parse("2026-01-31T17:30:00Z").unwrap();
        let day = cal.day(t);
        assert_eq!(civil_from_days(day), (2026, 2, 1));
        assert!(Period::parse("2026-02").unwrap().contains(day));
        assert!(!Period::parse("2026-01").unwrap().contains(day));
        let utc = Calendar::new("UTC").unwrap();
        assert_eq!(civil_from_days(utc.day(t)), (2026, 1, 31));
        assert_eq!(
            cal.day_start(day),
            Timestamp::parse("2026-01-31T16:00:00Z").unwrap()
        );
    }

    #[test]
    fn periods_parse() {
        let p = |s| Period::parse(s).unwrap();
        assert_eq!(p("2026").days(), 365);
        assert_eq!(p("2024").days(), 366);
        assert_eq!(p("2026-Q1").days(), 90);
        assert_eq!(p("2026-02").days(), 28);
        assert_eq!(p("2026-03-02").days(), 1);
        assert_eq!(p("2026-W01").from, days_from_civil(2025, 12, 29).unwrap());
        assert_eq!(p("2021-W01").from, days_from_civil(2021, 1, 4).unwrap());
        // 2026 has 53 ISO weeks, 2025 has 52.
        assert_eq!(p("2026-W53").from, days_from_civil(2026, 12, 28).unwrap());
        let e = Period::parse("2025-W53").unwrap_err();
        assert_eq!(e.reason, Some("that year has 52 ISO weeks"), "{e}");
        let e = Period::parse("2025-02-01..2025-01-01").unwrap_err();
        assert!(
            e.to_string().contains("the end is not after the start"),
            "{e}"
        );
        assert_eq!(p("2026-03-01..2026-04-15").days(), 45);
        for bad in [
            "",
            "2026-13",
            "2026-02-30",
            "x",
            "2026-Q5",
            "2026-03-02..2026-03-01",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(p("2026-03").previous(), p("2026-02"));
        assert_eq!(p("2026").previous(), p("2025"));
        assert_eq!(p("2026-03-02").previous(), p("2026-03-01"));
    }

    #[test]
    fn buckets_cover_the_period_exactly() {
        let p = Period::parse("2026-01-20..2026-04-03").unwrap();
        let (months, days) = p.buckets();
        assert_eq!(months, vec![2026 * 12 + 1, 2026 * 12 + 2]);
        assert_eq!(days.len(), 12 + 2);
        let total: i32 =
            months.iter().map(|m| Period::month(*m).days()).sum::<i32>() + days.len() as i32;
        assert_eq!(total, p.days());
    }
}
