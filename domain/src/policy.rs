//! The decider's policy: deadlines (办理时限) per level, severity, kind and source, and how far
//! a command's times may stray from the engine's clock; configurable.
//!
//! Deadline defaults follow DOMAIN.md: urgent at grid the same (local) day; grid 3 days,
//! village 7, township 15, county 30 (city 30); people's mediation 30 days (人民调解工作若干规定
//! art. 33); petitions 60. Urgent and critical cases above the grid get half the level's days.
//!
//! Verification ([`VerifierRule`]): never by the resolver; by default another staff member of
//! the resolving unit may verify.
//!
//! Time defaults ([`TimePolicy`]): a command may be dated up to 5 minutes after the engine's
//! clock (devices' clocks drift) and up to 30 days before it (late entry, 补录).

use serde::{Deserialize, Serialize};

use crate::region::Level;
use crate::time::{Timestamp, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::vocab::{CaseKind, Severity, Source};

/// Days allowed at each level for a normal case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlinePolicy {
    /// Grid (网格).
    pub grid_days: u32,
    /// Village (村社).
    pub village_days: u32,
    /// Township (乡镇).
    pub township_days: u32,
    /// County (县).
    pub county_days: u32,
    /// City (市).
    pub city_days: u32,
    /// A mediation, from its start.
    pub mediation_days: u32,
    /// Cases whose source is a petition (信访), at any level.
    pub petition_days: u32,
    /// Urgent or critical cases above the grid get the level's days divided by this (at least
    /// one day). At the grid they are due at the end of the local day.
    pub urgent_divisor: u32,
    /// Per-kind overrides of a level's days (e.g. requests at the grid in 2 days).
    pub kind_overrides: Vec<KindDeadline>,
    /// The deployment's offset from UTC in minutes, for "same day" (China: +480, no DST).
    pub utc_offset_minutes: i32,
}

/// A per-kind override of the days allowed at one level (or every level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindDeadline {
    /// The kind it applies to.
    pub kind: CaseKind,
    /// The level, or every level when absent.
    pub level: Option<Level>,
    /// Days allowed.
    pub days: u32,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        DeadlinePolicy {
            grid_days: 3,
            village_days: 7,
            township_days: 15,
            county_days: 30,
            city_days: 30,
            mediation_days: 30,
            petition_days: 60,
            urgent_divisor: 2,
            kind_overrides: Vec::new(),
            utc_offset_minutes: 8 * 60,
        }
    }
}

impl DeadlinePolicy {
    /// Days allowed at `level` for a normal case of `kind`.
    pub fn level_days(&self, level: Level, kind: CaseKind) -> u32 {
        if let Some(o) = self
            .kind_overrides
            .iter()
            .find(|o| o.kind == kind && o.level.is_none_or(|l| l == level))
        {
            return o.days;
        }
        match level {
            Level::Grid => self.grid_days,
            Level::Village => self.village_days,
            Level::Township => self.township_days,
            Level::County => self.county_days,
            Level::City => self.city_days,
        }
    }

    /// When a case handled at `level` from `from` is due.
    pub fn due(
        &self,
        level: Level,
        severity: Severity,
        kind: CaseKind,
        source: Source,
        from: Timestamp,
    ) -> Timestamp {
        if source == Source::Petition {
            return from.plus_days(self.petition_days.into());
        }
        let days = self.level_days(level, kind);
        match severity {
            Severity::Normal => from.plus_days(days.into()),
            Severity::Urgent | Severity::Critical if level == Level::Grid => {
                self.end_of_local_day(from)
            }
            Severity::Urgent | Severity::Critical => {
                from.plus_days(days.div_ceil(self.urgent_divisor.max(1)).max(1).into())
            }
        }
    }

    /// When a mediation started at `from` is due.
    pub fn mediation_due(&self, from: Timestamp) -> Timestamp {
        from.plus_days(self.mediation_days.into())
    }

    /// The last millisecond of the local day containing `t`.
    pub fn end_of_local_day(&self, t: Timestamp) -> Timestamp {
        let offset = i64::from(self.utc_offset_minutes) * HOUR_MS / 60;
        let local = t.as_millis() + offset;
        let day_start = local.div_euclid(DAY_MS) * DAY_MS;
        Timestamp::from_millis(day_start + DAY_MS - 1 - offset)
    }
}

/// Everything configurable about how the decider treats cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Deadlines.
    pub deadlines: DeadlinePolicy,
    /// Whether a case resolved on the spot at grid level may be closed without verification.
    pub on_the_spot_close_at_grid: bool,
    /// Who may verify (核查) a resolution besides the rule that the resolver never does.
    pub verification: VerifierRule,
    /// How far a command's times may stray from the engine's clock.
    pub times: TimePolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            deadlines: DeadlinePolicy::default(),
            on_the_spot_close_at_grid: true,
            verification: VerifierRule::default(),
            times: TimePolicy::default(),
        }
    }
}

/// Who may verify (核查: verify, or send back for rework) a resolution.
///
/// Whoever resolved a case never verifies it. Beyond that, verification is by unit staff of
/// the resolving unit or of a unit above it, or by a supervisor covering it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifierRule {
    /// Whether another staff member of the resolving unit may verify (default). When false,
    /// verification comes from above the resolving unit: staff of an ancestor unit or a
    /// supervisor.
    pub allow_same_unit: bool,
}

impl Default for VerifierRule {
    fn default() -> Self {
        VerifierRule {
            allow_same_unit: true,
        }
    }
}

/// How far the times a command carries (`occurred_at`, a report's `happened_at`) may stray
/// from the engine's clock ([`crate::decide::Context::now`]).
///
/// Ahead of the clock: nothing has happened in the future, but devices' clocks drift, so a
/// little skew is allowed. Behind it: an act may be entered late (补录), but `occurred_at`
/// decides whether a resolution was on time and in which period an event counts, so unbounded
/// back-dating would let a unit move a late resolution before its deadline or into a report
/// already published. `happened_at` (when the matter itself happened) is not bounded in the
/// past: old grievances are reported too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimePolicy {
    /// Minutes a time may lie after the engine's clock.
    pub future_skew_minutes: u32,
    /// Days `occurred_at` may lie before the engine's clock; 0 for no bound (e.g. while
    /// migrating old paper records through the API).
    pub max_backdate_days: u32,
}

impl Default for TimePolicy {
    fn default() -> Self {
        TimePolicy {
            future_skew_minutes: 5,
            max_backdate_days: 30,
        }
    }
}

impl TimePolicy {
    /// The latest time a command may carry when the engine's clock reads `now`.
    pub fn latest(&self, now: Timestamp) -> Timestamp {
        now.plus_millis(i64::from(self.future_skew_minutes) * MINUTE_MS)
    }

    /// The earliest `occurred_at` a command may carry when the engine's clock reads `now`;
    /// `None` when back-dating is not bounded.
    pub fn earliest(&self, now: Timestamp) -> Option<Timestamp> {
        (self.max_backdate_days > 0).then(|| now.plus_days(-i64::from(self.max_backdate_days)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn defaults_follow_the_domain() {
        let p = DeadlinePolicy::default();
        let from = t("2026-03-02T02:00:00Z");
        let due = |level, sev, source| p.due(level, sev, CaseKind::Dispute, source, from);
        assert_eq!(
            due(Level::Grid, Severity::Normal, Source::GridPatrol),
            from.plus_days(3)
        );
        assert_eq!(
            due(Level::Village, Severity::Normal, Source::GridPatrol),
            from.plus_days(7)
        );
        assert_eq!(
            due(Level::Township, Severity::Normal, Source::Hotline),
            from.plus_days(15)
        );
        assert_eq!(
            due(Level::County, Severity::Normal, Source::Hotline),
            from.plus_days(30)
        );
        assert_eq!(
            due(Level::Village, Severity::Normal, Source::Petition),
            from.plus_days(60)
        );
        // Urgent at the grid: the end of the same day in Asia/Shanghai (UTC+8).
        assert_eq!(
            due(Level::Grid, Severity::Urgent, Source::GridPatrol),
            t("2026-03-02T15:59:59.999Z")
        );
        assert_eq!(
            due(Level::Township, Severity::Critical, Source::Police),
            from.plus_days(8)
        );
        assert_eq!(p.mediation_due(from), from.plus_days(30));
    }

    #[test]
    fn same_day_is_the_local_day() {
        let p = DeadlinePolicy::default();
        // 23:30 local on 2 March is 15:30Z; the end of that local day is 15:59:59.999Z.
        assert_eq!(
            p.end_of_local_day(t("2026-03-02T15:30:00Z")),
            t("2026-03-02T15:59:59.999Z")
        );
        // 00:30 local on 3 March is 16:30Z on 2 March.
        assert_eq!(
            p.end_of_local_day(t("2026-03-02T16:30:00Z")),
            t("2026-03-03T15:59:59.999Z")
        );
    }

    #[test]
    fn times_default_to_five_minutes_ahead_and_thirty_days_back() {
        let now = t("2026-03-02T02:00:00Z");
        let p = TimePolicy::default();
        assert_eq!(p.latest(now), t("2026-03-02T02:05:00Z"));
        assert_eq!(p.earliest(now), Some(t("2026-01-31T02:00:00Z")));
        let unbounded = TimePolicy {
            max_backdate_days: 0,
            ..p
        };
        assert_eq!(unbounded.earliest(now), None);
    }

    #[test]
    fn kind_overrides_apply() {
        let p = DeadlinePolicy {
            kind_overrides: vec![KindDeadline {
                kind: CaseKind::Request,
                level: Some(Level::Grid),
                days: 2,
            }],
            ..Default::default()
        };
        assert_eq!(p.level_days(Level::Grid, CaseKind::Request), 2);
        assert_eq!(p.level_days(Level::Grid, CaseKind::Dispute), 3);
        assert_eq!(p.level_days(Level::Village, CaseKind::Request), 7);
    }
}
