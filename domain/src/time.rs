//! Time: UTC instants with millisecond precision.
//!
//! Every event has the time it happened (`occurred_at`, supplied by the client) and the time it
//! was recorded (`recorded_at`, assigned by the engine). Both are [`Timestamp`]s. Bucketing by
//! the deployment's time zone happens in the projections, which (like the fixtures) number
//! local dates as days since 1970-01-01: [`epoch_days`] and [`civil_date`] convert, with jiff.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds in one minute.
pub const MINUTE_MS: i64 = 60_000;
/// Milliseconds in one hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in one day.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// 1970-01-01: day 0 of [`epoch_days`].
const EPOCH_DATE: jiff::civil::Date = jiff::civil::Date::constant(1970, 1, 1);

/// Days from 1970-01-01 to a civil date (negative before it).
pub fn epoch_days(date: jiff::civil::Date) -> i64 {
    date.duration_since(EPOCH_DATE).as_secs() / (DAY_MS / 1000)
}

/// The civil date `days` days after 1970-01-01 (the inverse of [`epoch_days`]). Saturates at
/// the ends of jiff's dates (years -9999 and 9999), which hold the local date of every
/// instant jiff can represent.
pub fn civil_date(days: i64) -> jiff::civil::Date {
    match jiff::Span::new().try_days(days) {
        Ok(span) => EPOCH_DATE.saturating_add(span),
        Err(_) if days < 0 => jiff::civil::Date::MIN,
        Err(_) => jiff::civil::Date::MAX,
    }
}

/// A UTC instant, milliseconds since the Unix epoch.
///
/// Serialized as an integer in binary formats and as RFC 3339 text (`2026-01-31T17:30:00Z`) in
/// human-readable ones such as JSON.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A string that is not an RFC 3339 instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an RFC 3339 time with an offset (e.g. 2026-01-31T17:30:00Z): {reason}")]
pub struct TimeParseError {
    /// The rejected input.
    pub input: String,
    /// What the parser said.
    pub reason: String,
}

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// An instant from milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_millis() as i64)
    }

    /// This instant moved by `ms` milliseconds (saturating).
    pub const fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// This instant moved by whole days.
    pub const fn plus_days(self, days: i64) -> Self {
        self.plus_millis(days.saturating_mul(DAY_MS))
    }

    /// Parses an RFC 3339 instant such as `2026-01-31T17:30:00Z` or `2026-02-01T01:30:00+08:00`.
    pub fn parse(s: &str) -> Result<Self, TimeParseError> {
        let ts: jiff::Timestamp = s.parse().map_err(|e: jiff::Error| TimeParseError {
            input: s.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Timestamp(ts.as_millisecond()))
    }

    /// The `jiff` form of this instant.
    pub fn to_jiff(self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.to_jiff())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimeParseError;
    fn from_str(s: &str) -> Result<Self, TimeParseError> {
        Timestamp::parse(s)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::ids::openapi::string(
            "An RFC 3339 instant with an offset, e.g. 2026-01-31T17:30:00Z.",
            Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::schema::KnownFormat::DateTime,
            )),
            None,
        )
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Timestamp::parse(&s).map_err(serde::de::Error::custom)
        } else {
            Ok(Timestamp(i64::deserialize(d)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_rfc3339() {
        let t = Timestamp::parse("2026-01-31T17:30:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-01-31T17:30:00.000Z");
        assert_eq!(Timestamp::parse("2026-02-01T01:30:00+08:00").unwrap(), t);
        assert!(Timestamp::parse("2026-01-31").is_err());
    }

    #[test]
    fn epoch_days_count_days_since_1970_and_saturate_at_the_ends() {
        use jiff::civil::{date, Date};
        assert_eq!(epoch_days(date(1970, 1, 1)), 0);
        assert_eq!(epoch_days(date(1969, 12, 31)), -1);
        assert_eq!(epoch_days(date(2024, 2, 29)), 19_782);
        assert_eq!(civil_date(19_782), date(2024, 2, 29));
        assert_eq!(epoch_days(Date::MIN), -4_371_587);
        assert_eq!(epoch_days(Date::MAX), 2_932_896);
        assert_eq!(civil_date(epoch_days(Date::MAX) + 1), Date::MAX);
        assert_eq!(civil_date(i64::MAX), Date::MAX);
        assert_eq!(civil_date(i64::MIN), Date::MIN);
    }

    proptest::proptest! {
        #[test]
        fn civil_dates_round_trip(days in -4_371_587i64..=2_932_896) {
            let d = civil_date(days);
            proptest::prop_assert_eq!(epoch_days(d), days);
            proptest::prop_assert_eq!(d.tomorrow().map(epoch_days).ok(), (days < 2_932_896).then_some(days + 1));
        }
    }

    #[test]
    fn json_is_text_and_msgpack_is_integer() {
        let t = Timestamp::from_millis(1_700_000_000_123);
        let j = serde_json::to_string(&t).unwrap();
        assert_eq!(j, "\"2023-11-14T22:13:20.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&j).unwrap(), t);
        let m = rmp_serde::to_vec(&t).unwrap();
        assert_eq!(rmp_serde::from_slice::<Timestamp>(&m).unwrap(), t);
    }
}
