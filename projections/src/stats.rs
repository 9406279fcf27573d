//! Resolution statistics ("小事不出格"), exactly as defined in DOMAIN.md.
//!
//! A query names a region subtree and a period of local days. The answer sums the
//! pre-aggregated month and day buckets of that one region (a county-year is 12 lookups),
//! never scanning cases:
//!
//! - **cohort** — cases registered in the period, outcome as known now (or as of T when the
//!   projection was replayed up to T): `resolved_at[level]`, referred out, open, rejected (by
//!   report day), and the grid / village / township / county rates and the resolution rate,
//!   each over `registered` (`registered = resolved + referred_out + merged + open`).
//! - **activity** — events in the period: reported, registered, escalated, mediations
//!   concluded, resolved, overdue (resolved after the deadline), reworked, extended, …
//! - **rates** — with DOMAIN.md's denominators: mediation success = agreements / mediations
//!   concluded; on-time = resolved by the deadline / resolved; rework = resolutions sent back /
//!   resolutions (events in the period); and, per *case* of the registration cohort (a case
//!   escalated twice counts once): escalation (上交率) = cases escalated at least once /
//!   registered, extension (延期率) = cases with an approved extension / registered, reopen =
//!   cases reopened / cases closed; satisfaction = (satisfied + basically satisfied) / feedback.
//! - **overdue at T** — open cases (registered, not resolved, referred or merged) whose
//!   deadline in force is before T, located in the region: by holding unit and by child region.
//! - **change** — against the previous period and against the same period a year before.
//! - **time to resolution** — registration to resolution, median and p90 by resolving level,
//!   from a log-scale histogram of `hours + 1`: each figure is within a factor √1.1 (±4.9%) of
//!   the exact nearest-rank quantile's *hours + 1* — not of its hours, so ±0.049 × (hours + 1)
//!   hours — and its bucket's bounds are given beside it (see [`Durations`]).
//! - **series** — one query, many consecutive periods (days, weeks, months, quarters, years),
//!   for trend charts ([`Projector::series`]).
//!
//! Every figure, cohort and activity, counts a case where its details *as corrected* put it
//! (location, category, source, kind): a correction moves the case's past activity too.

use std::collections::BTreeMap;

use gridcase_domain::{Level, RegionCode, RegionTree, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::{civil_from_days, month_of, month_start, Period};
use crate::counts::{ttr_bucket_bounds, ttr_bucket_hours, Accumulator, Aggregate, Counts, Dim};
use crate::projector::{has_month_buckets, Bucket, Projector};

/// A breakdown dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    /// By category.
    Category,
    /// By source.
    Source,
    /// By kind.
    Kind,
}

/// What to compute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsQuery {
    /// The region subtree.
    pub region: RegionCode,
    /// The period (local days).
    pub period: Period,
    /// Break the figures down by one dimension.
    pub breakdown: Option<Breakdown>,
    /// Also compute every child region, ranked by [`StatsQuery::rank_by`] (each broken down
    /// too when [`StatsQuery::breakdown`] is set).
    pub drill_down: bool,
    /// The rate child regions are ranked by.
    pub rank_by: RankBy,
    /// T, for the overdue open cases at T: the time the projection stands at (`None`: now).
    pub as_of: Option<Timestamp>,
}

impl StatsQuery {
    /// The figures of a region and period, no breakdown, no drill-down, as of now.
    pub fn new(region: RegionCode, period: Period) -> StatsQuery {
        StatsQuery {
            region,
            period,
            breakdown: None,
            drill_down: false,
            rank_by: RankBy::default(),
            as_of: None,
        }
    }
}

/// A rate child regions can be ranked by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// 小事不出格.
    GridRate,
    /// 大事不出村.
    VillageRate,
    /// 矛盾不上交 (the default).
    #[default]
    TownshipRate,
    /// Resolved at or below county.
    CountyRate,
    /// 化解率.
    ResolutionRate,
    /// 调解成功率.
    MediationSuccess,
    /// 按期结案率.
    OnTime,
    /// 返工率 (lower ranks first).
    Rework,
    /// 延期率 (lower ranks first).
    Extension,
    /// 上交率 (lower ranks first).
    Escalation,
    /// Reopen rate (lower ranks first).
    Reopen,
    /// 满意率.
    Satisfaction,
}

impl RankBy {
    /// Every rate, in wire order.
    pub const ALL: &'static [RankBy] = &[
        RankBy::GridRate,
        RankBy::VillageRate,
        RankBy::TownshipRate,
        RankBy::CountyRate,
        RankBy::ResolutionRate,
        RankBy::MediationSuccess,
        RankBy::OnTime,
        RankBy::Rework,
        RankBy::Extension,
        RankBy::Escalation,
        RankBy::Reopen,
        RankBy::Satisfaction,
    ];

    /// The wire name, e.g. `township_rate`.
    pub fn as_str(self) -> &'static str {
        match self {
            RankBy::GridRate => "grid_rate",
            RankBy::VillageRate => "village_rate",
            RankBy::TownshipRate => "township_rate",
            RankBy::CountyRate => "county_rate",
            RankBy::ResolutionRate => "resolution_rate",
            RankBy::MediationSuccess => "mediation_success",
            RankBy::OnTime => "on_time",
            RankBy::Rework => "rework",
            RankBy::Extension => "extension",
            RankBy::Escalation => "escalation",
            RankBy::Reopen => "reopen",
            RankBy::Satisfaction => "satisfaction",
        }
    }

    /// The rate with this wire name.
    pub fn parse(s: &str) -> Option<RankBy> {
        RankBy::ALL.iter().copied().find(|r| r.as_str() == s)
    }

    /// Whether a higher value ranks first (false for rework, extension, escalation, reopen).
    pub fn higher_is_better(self) -> bool {
        !matches!(
            self,
            RankBy::Rework | RankBy::Extension | RankBy::Escalation | RankBy::Reopen
        )
    }

    /// The rate's value in `f`.
    pub fn value(self, f: &Figures) -> Option<f64> {
        let (c, r) = (&f.cohort, &f.rates);
        match self {
            RankBy::GridRate => c.grid_rate,
            RankBy::VillageRate => c.village_rate,
            RankBy::TownshipRate => c.township_rate,
            RankBy::CountyRate => c.county_rate,
            RankBy::ResolutionRate => c.resolution_rate,
            RankBy::MediationSuccess => r.mediation_success,
            RankBy::OnTime => r.on_time,
            RankBy::Rework => r.rework,
            RankBy::Extension => r.extension,
            RankBy::Escalation => r.escalation,
            RankBy::Reopen => r.reopen,
            RankBy::Satisfaction => r.satisfaction,
        }
    }
}

/// The cohort view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cohort {
    /// Registered in the period (including those later merged as duplicates).
    pub registered: i64,
    /// Resolution in force at each level.
    pub resolved_at: BTreeMap<Level, i64>,
    /// Resolved at any level.
    pub resolved: i64,
    /// Referred out.
    pub referred_out: i64,
    /// Still open.
    pub open: i64,
    /// Reports in the period not registered.
    pub rejected: i64,
    /// Registered duplicates merged into other cases.
    pub merged: i64,
    /// Registered cases escalated at least once (however often).
    pub escalated: i64,
    /// Registered cases with at least one approved deadline extension.
    pub extended: i64,
    /// Registered cases reopened at least once.
    pub reopened: i64,
    /// Registered cases closed at least once.
    pub closed: i64,
    /// 小事不出格: resolved at grid / registered.
    pub grid_rate: Option<f64>,
    /// 大事不出村: resolved at grid or village / registered.
    pub village_rate: Option<f64>,
    /// 矛盾不上交: resolved at or below township / registered.
    pub township_rate: Option<f64>,
    /// Resolved at or below county / registered.
    pub county_rate: Option<f64>,
    /// 化解率: resolved / registered.
    pub resolution_rate: Option<f64>,
}

/// The activity view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Activity {
    /// Reports.
    pub reported: i64,
    /// Registrations.
    pub registered: i64,
    /// Escalations.
    pub escalated: i64,
    /// Delegations.
    pub delegated: i64,
    /// Take-overs (提级领办) by an ancestor unit: their own fact, not escalations.
    pub taken_over: i64,
    /// Referrals out.
    pub referred: i64,
    /// Mediations concluded.
    pub mediations_concluded: i64,
    /// Of which with an agreement.
    pub mediation_agreements: i64,
    /// Resolutions.
    pub resolved: i64,
    /// Resolutions after the deadline.
    pub overdue: i64,
    /// Resolutions sent back.
    pub reworked: i64,
    /// Deadline extensions.
    pub extended: i64,
    /// Reopenings.
    pub reopened: i64,
    /// Closures.
    pub closed: i64,
    /// Supervisions.
    pub supervised: i64,
    /// Feedback recorded.
    pub feedback: i64,
}

/// Rates (`None` when the denominator is zero), with DOMAIN.md's denominators: the
/// event rates over the activity in the period, the case rates over the registration cohort.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rates {
    /// 调解成功率.
    pub mediation_success: Option<f64>,
    /// 按期结案率.
    pub on_time: Option<f64>,
    /// 返工率: resolutions sent back / resolutions (activity).
    pub rework: Option<f64>,
    /// 延期率: cases with an approved extension / registered (cohort).
    pub extension: Option<f64>,
    /// 上交率: cases escalated at least once / registered (cohort), not escalation events.
    pub escalation: Option<f64>,
    /// Cases reopened / cases closed (cohort).
    pub reopen: Option<f64>,
    /// 满意率.
    pub satisfaction: Option<f64>,
}

/// Time to resolution at one level, in hours, from a histogram.
///
/// Each figure is the nearest-rank quantile's histogram bucket, given as the bucket's
/// geometric middle of `hours + 1`. The exact quantile lies in the bucket's bounds, given in
/// `*_range_hours` as `[low, high)`; the figure is within a factor √1.1 of the exact
/// quantile's `hours + 1` (±4.9% of hours + 1: about ±3 minutes near zero, ±1.2 hours at a
/// day, ±1.5 days at a month). Not ±5% of the hours themselves: for short durations the
/// relative error in hours is larger (a 1-hour median may read 1.1). Durations of about
/// 92,700 hours (10.6 years) and more share the last bucket, whose upper bound is open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Durations {
    /// Resolutions counted.
    pub count: i64,
    /// Median hours.
    pub median_hours: f64,
    /// The bucket the exact median lies in: `[low, high)` hours.
    pub median_range_hours: [f64; 2],
    /// 90th percentile hours.
    pub p90_hours: f64,
    /// The bucket the exact 90th percentile lies in: `[low, high)` hours.
    pub p90_range_hours: [f64; 2],
}

/// Figures for one slice (everything, or one breakdown value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figures {
    /// Cohort view.
    pub cohort: Cohort,
    /// Activity view.
    pub activity: Activity,
    /// Rates.
    pub rates: Rates,
}

/// Change against the previous period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// The previous period.
    pub previous_period: String,
    /// Registrations then.
    pub previous_registered: i64,
    /// Relative change of registrations (−0.1049 = −10.49%).
    pub registered_change: Option<f64>,
    /// Township rate then.
    pub previous_township_rate: Option<f64>,
    /// Resolution rate then.
    pub previous_resolution_rate: Option<f64>,
}

/// One child region in a drill-down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChildFigures {
    /// The child region.
    pub region: RegionCode,
    /// Its name.
    pub name: String,
    /// Rank by the chosen rate (1 = best; regions without the rate last), ties by
    /// resolution rate then code.
    pub rank: usize,
    /// The value of the rate ranked by.
    pub rank_value: Option<f64>,
    /// Its figures.
    pub figures: Figures,
    /// Its breakdown by the requested dimension (empty without one).
    pub breakdown: Vec<(Dim, Figures)>,
    /// Overdue open cases at T located in it.
    pub overdue_open: i64,
    /// What the child's units did in the period (see [`StatsReport::unit_activity`]).
    pub unit_activity: Activity,
}

/// A count of overdue open cases for one unit or region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitCount {
    /// The unit (holding unit) or region (location).
    pub code: RegionCode,
    /// Its name.
    pub name: String,
    /// Its level.
    pub level: Level,
    /// Overdue open cases.
    pub count: i64,
}

/// Overdue open cases at T (督办's figure): open — registered, not resolved, referred out or
/// merged — with the deadline in force before T, located (as corrected) in the region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overdue {
    /// T.
    pub as_of: Timestamp,
    /// Overdue open cases located in the region, whenever registered.
    pub open: i64,
    /// Of them, registered in the period (the cohort's overdue open cases).
    pub registered_in_period: i64,
    /// By the unit holding them (most first, then by code); a unit above the region holds
    /// the cases escalated out of it.
    pub by_holder: Vec<UnitCount>,
    /// By the child region they are located in (most first, then by code).
    pub by_region: Vec<UnitCount>,
}

/// The answer to a [`StatsQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsReport {
    /// The region.
    pub region: RegionCode,
    /// Its level.
    pub level: Level,
    /// The period, as `from..to` local dates (end exclusive).
    pub period: String,
    /// The time zone of the period.
    pub time_zone: String,
    /// Everything, about the cases located in the region (where their details, corrected as
    /// known at T, put them).
    pub figures: Figures,
    /// Activity by handling unit: what the units of the region did in the period (who
    /// reported, escalated, mediated, resolved…), by the acting actor's unit, whatever case
    /// it was about and wherever a later correction puts that case. Cohort figures do not
    /// apply (its `registered` counts registrations made by these units).
    pub unit_activity: Activity,
    /// Time to resolution by resolving level.
    pub time_to_resolution: BTreeMap<Level, Durations>,
    /// Change against the previous period.
    pub change: Change,
    /// Change against the same period a year before (year on year).
    pub year_on_year: Change,
    /// Overdue open cases at T.
    pub overdue: Overdue,
    /// Breakdown by the requested dimension.
    pub breakdown: Vec<(Dim, Figures)>,
    /// The rate the children are ranked by.
    pub ranked_by: RankBy,
    /// Child regions, ranked.
    pub children: Vec<ChildFigures>,
}

/// The step of a [`Series`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Local days.
    Day,
    /// ISO weeks (Monday to Sunday).
    Week,
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
    /// Calendar years.
    Year,
}

impl Step {
    /// The step with this wire name (`day`, `week`, `month`, `quarter`, `year`).
    pub fn parse(s: &str) -> Option<Step> {
        Some(match s {
            "day" => Step::Day,
            "week" => Step::Week,
            "month" => Step::Month,
            "quarter" => Step::Quarter,
            "year" => Step::Year,
            _ => return None,
        })
    }
}

impl Period {
    /// The consecutive periods of `step` covering this one, the first and last cut to it
    /// (so they add up to exactly this period).
    pub fn split(&self, step: Step) -> Vec<Period> {
        let mut out = Vec::new();
        let mut d = self.from;
        while d < self.to {
            let next = match step {
                Step::Day => d + 1,
                // 1970-01-01 (day 0) was a Thursday: Monday is weekday 0.
                Step::Week => d - (d + 3).rem_euclid(7) + 7,
                Step::Month => month_start(month_of(d) + 1),
                Step::Quarter => {
                    let m = month_of(d);
                    month_start(m - m.rem_euclid(3) + 3)
                }
                Step::Year => {
                    let m = month_of(d);
                    month_start(m - m.rem_euclid(12) + 12)
                }
            }
            .min(self.to);
            out.push(Period { from: d, to: next });
            d = next;
        }
        out
    }

    /// The same local dates a year earlier (29 February becomes the 28th); for a week (Monday
    /// to Sunday) the week 52 weeks earlier, Monday to Sunday again.
    pub fn year_before(&self) -> Period {
        // 1970-01-01 (day 0) was a Thursday: Monday is weekday 0.
        if self.days() == 7 && (self.from + 3).rem_euclid(7) == 0 {
            return Period {
                from: self.from - 364,
                to: self.to - 364,
            };
        }
        let back = |d| {
            let (y, m, dd) = civil_from_days(d);
            crate::calendar::days_from_civil(y - 1, m, dd)
                .or_else(|| crate::calendar::days_from_civil(y - 1, m, 28))
                .expect("the 28th exists in every month")
        };
        let from = back(self.from);
        Period {
            from,
            to: back(self.to).max(from + 1),
        }
    }
}

/// One period of a [`Series`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesPoint {
    /// The period, as `from..to` local dates (end exclusive).
    pub period: String,
    /// Its figures.
    pub figures: Figures,
    /// Its breakdown by the requested dimension (empty without one).
    pub breakdown: Vec<(Dim, Figures)>,
}

/// Figures of consecutive periods, for trend charts: one query instead of one per period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Series {
    /// The region.
    pub region: RegionCode,
    /// Its level.
    pub level: Level,
    /// The whole period.
    pub period: String,
    /// The step.
    pub step: Step,
    /// The time zone of the periods.
    pub time_zone: String,
    /// One point per step, in order.
    pub points: Vec<SeriesPoint>,
}

fn ratio(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

impl Figures {
    /// Figures from summed counters.
    pub fn from_counts(c: &Counts) -> Figures {
        let at = |l: usize| c.resolved_at[l];
        let resolved: i64 = c.resolved_at.iter().sum();
        let reg = c.registered;
        let cohort = Cohort {
            registered: reg,
            resolved_at: Level::ALL
                .iter()
                .map(|l| (*l, at(l.rank() as usize - 1)))
                .collect(),
            resolved,
            referred_out: c.referred_out,
            open: reg - resolved - c.referred_out - c.merged,
            rejected: c.rejected,
            merged: c.merged,
            escalated: c.cases_escalated,
            extended: c.cases_extended,
            reopened: c.cases_reopened,
            closed: c.cases_closed,
            grid_rate: ratio(at(0), reg),
            village_rate: ratio(at(0) + at(1), reg),
            township_rate: ratio(at(0) + at(1) + at(2), reg),
            county_rate: ratio(at(0) + at(1) + at(2) + at(3), reg),
            resolution_rate: ratio(resolved, reg),
        };
        let activity = Activity {
            reported: c.reported,
            registered: c.registrations,
            escalated: c.escalated,
            delegated: c.delegated,
            taken_over: c.taken_over,
            referred: c.referred,
            mediations_concluded: c.mediations_concluded,
            mediation_agreements: c.mediation_agreements,
            resolved: c.resolved,
            overdue: c.resolved - c.resolved_on_time,
            reworked: c.reworked,
            extended: c.extended,
            reopened: c.reopened,
            closed: c.closed,
            supervised: c.supervised,
            feedback: c.feedback,
        };
        let rates = Rates {
            mediation_success: ratio(c.mediation_agreements, c.mediations_concluded),
            on_time: ratio(c.resolved_on_time, c.resolved),
            rework: ratio(c.reworked, c.resolved),
            extension: ratio(c.cases_extended, reg),
            escalation: ratio(c.cases_escalated, reg),
            reopen: ratio(c.cases_reopened, c.cases_closed),
            satisfaction: ratio(c.feedback_positive, c.feedback),
        };
        Figures {
            cohort,
            activity,
            rates,
        }
    }
}

/// The histogram bucket of the nearest-rank quantile `q`: the bucket of the
/// `ceil(q × count)`-th smallest duration.
fn quantile_bucket(hist: &BTreeMap<u8, i64>, q: f64) -> u8 {
    let total: i64 = hist.values().sum();
    let target = ((total as f64) * q).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (b, n) in hist {
        seen += n;
        if seen >= target {
            return *b;
        }
    }
    0
}

fn durations(h: &BTreeMap<u8, i64>) -> Durations {
    let (m, p) = (quantile_bucket(h, 0.5), quantile_bucket(h, 0.9));
    Durations {
        count: h.values().sum(),
        median_hours: ttr_bucket_hours(m),
        median_range_hours: ttr_bucket_bounds(m),
        p90_hours: ttr_bucket_hours(p),
        p90_range_hours: ttr_bucket_bounds(p),
    }
}

fn change(now: &Figures, before: &Figures, period: &Period) -> Change {
    Change {
        previous_period: period.to_string(),
        previous_registered: before.cohort.registered,
        registered_change: ratio(
            now.cohort.registered - before.cohort.registered,
            before.cohort.registered,
        ),
        previous_township_rate: before.cohort.township_rate,
        previous_resolution_rate: before.cohort.resolution_rate,
    }
}

fn breakdown_of(agg: &Aggregate, b: Option<Breakdown>) -> Vec<(Dim, Figures)> {
    let Some(b) = b else { return Vec::new() };
    agg.by
        .iter()
        .filter(|(d, _)| {
            matches!(
                (b, d),
                (Breakdown::Category, Dim::Category(_))
                    | (Breakdown::Source, Dim::Source(_))
                    | (Breakdown::Kind, Dim::Kind(_))
            )
        })
        .map(|(d, c)| (*d, Figures::from_counts(c)))
        .collect()
}

/// Counts by key, most first, then by code.
fn unit_counts(counts: BTreeMap<RegionCode, i64>, regions: &RegionTree) -> Vec<UnitCount> {
    let mut out: Vec<UnitCount> = counts
        .into_iter()
        .map(|(code, count)| UnitCount {
            code,
            name: regions.name(code).unwrap_or_default().to_owned(),
            level: code.level(),
            count,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    out
}

impl Projector {
    /// The summed aggregate of a region over a period.
    pub fn sum(&self, region: RegionCode, period: &Period) -> Aggregate {
        self.sum_of(region, period, |r, b| self.aggregate(r, b))
    }

    /// The activity of the units in `region` in `period`, by the unit that acted.
    pub fn unit_activity(&self, region: RegionCode, period: &Period) -> Activity {
        let agg = self.sum_of(region, period, |r, b| self.unit_aggregate(r, b));
        Figures::from_counts(&agg.total).activity
    }

    fn sum_of<'a>(
        &'a self,
        region: RegionCode,
        period: &Period,
        cells: impl Fn(RegionCode, Bucket) -> Option<&'a crate::Cells>,
    ) -> Aggregate {
        let (months, days) = if has_month_buckets(region.level()) {
            period.buckets()
        } else {
            (Vec::new(), (period.from..period.to).collect())
        };
        let mut acc = Accumulator::default();
        let buckets = months
            .into_iter()
            .map(Bucket::Month)
            .chain(days.into_iter().map(Bucket::Day));
        for b in buckets {
            if let Some(cells) = cells(region, b) {
                acc.add(cells);
            }
        }
        acc.finish()
    }

    /// Answers a statistics query from the aggregates.
    pub fn stats(&self, q: &StatsQuery, regions: &RegionTree) -> StatsReport {
        let agg = self.sum(q.region, &q.period);
        let figures = Figures::from_counts(&agg.total);
        let mut by_level: BTreeMap<Level, BTreeMap<u8, i64>> = BTreeMap::new();
        for ((rank, b), n) in &agg.ttr {
            if let Some(l) = Level::from_rank(*rank) {
                *by_level.entry(l).or_default().entry(*b).or_default() += n;
            }
        }
        let time_to_resolution = by_level.iter().map(|(l, h)| (*l, durations(h))).collect();
        let prev_period = q.period.previous();
        let prev = Figures::from_counts(&self.sum(q.region, &prev_period).total);
        let change_now = change(&figures, &prev, &prev_period);
        let yoy_period = q.period.year_before();
        let yoy = Figures::from_counts(&self.sum(q.region, &yoy_period).total);
        let year_on_year = change(&figures, &yoy, &yoy_period);
        let breakdown = breakdown_of(&agg, q.breakdown);
        let overdue = self.overdue(
            q.region,
            &q.period,
            q.as_of.unwrap_or_else(Timestamp::now),
            regions,
        );
        let mut children = Vec::new();
        if q.drill_down {
            for child in regions.children(q.region) {
                let c = self.sum(*child, &q.period);
                let figures = Figures::from_counts(&c.total);
                children.push(ChildFigures {
                    unit_activity: self.unit_activity(*child, &q.period),
                    region: *child,
                    name: regions.name(*child).unwrap_or_default().to_owned(),
                    rank: 0,
                    rank_value: q.rank_by.value(&figures),
                    breakdown: breakdown_of(&c, q.breakdown),
                    overdue_open: overdue
                        .by_region
                        .iter()
                        .find(|u| u.code == *child)
                        .map_or(0, |u| u.count),
                    figures,
                });
            }
            rank(&mut children, q.rank_by);
        }
        StatsReport {
            region: q.region,
            level: q.region.level(),
            period: q.period.to_string(),
            time_zone: self.calendar.name().to_owned(),
            unit_activity: self.unit_activity(q.region, &q.period),
            figures,
            time_to_resolution,
            change: change_now,
            year_on_year,
            overdue,
            breakdown,
            ranked_by: q.rank_by,
            children,
        }
    }

    /// The overdue open cases at `t` located in `region`: the projection must stand at `t`
    /// (now, or replayed up to `t` by [`crate::as_of`]) for the figure to be the one at `t`.
    pub fn overdue(
        &self,
        region: RegionCode,
        period: &Period,
        t: Timestamp,
        regions: &RegionTree,
    ) -> Overdue {
        let (mut open, mut registered_in_period) = (0, 0);
        let mut by_holder: BTreeMap<RegionCode, i64> = BTreeMap::new();
        let mut by_region: BTreeMap<RegionCode, i64> = BTreeMap::new();
        for e in self.overdue_at(t.as_millis()) {
            let Some(d) = &e.state.details else { continue };
            if !region.contains(d.location) {
                continue;
            }
            open += 1;
            if e.state
                .registered_at
                .is_some_and(|r| period.contains(self.calendar.day(r)))
            {
                registered_in_period += 1;
            }
            if let Some(h) = e.state.holder {
                *by_holder.entry(h).or_default() += 1;
            }
            let child = regions
                .children(region)
                .iter()
                .find(|c| c.contains(d.location));
            if let Some(c) = child {
                *by_region.entry(*c).or_default() += 1;
            }
        }
        Overdue {
            as_of: t,
            open,
            registered_in_period,
            by_holder: unit_counts(by_holder, regions),
            by_region: unit_counts(by_region, regions),
        }
    }

    /// The figures of each `step` of `period` (the first and last cut to it), with an
    /// optional breakdown: a trend chart's data in one query.
    pub fn series(
        &self,
        region: RegionCode,
        period: &Period,
        step: Step,
        breakdown: Option<Breakdown>,
    ) -> Series {
        let points = period
            .split(step)
            .into_iter()
            .map(|p| {
                let agg = self.sum(region, &p);
                SeriesPoint {
                    period: p.to_string(),
                    figures: Figures::from_counts(&agg.total),
                    breakdown: breakdown_of(&agg, breakdown),
                }
            })
            .collect();
        Series {
            region,
            level: region.level(),
            period: period.to_string(),
            step,
            time_zone: self.calendar.name().to_owned(),
            points,
        }
    }
}

/// Ranks children by `by` (better first, regions without the rate last), ties by resolution
/// rate then code.
fn rank(children: &mut [ChildFigures], by: RankBy) {
    use std::cmp::Ordering;
    let better = |a: Option<f64>, b: Option<f64>, higher: bool| match (a, b) {
        (Some(a), Some(b)) => {
            let o = b.partial_cmp(&a).unwrap_or(Ordering::Equal);
            if higher {
                o
            } else {
                o.reverse()
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    children.sort_by(|a, b| {
        better(a.rank_value, b.rank_value, by.higher_is_better())
            .then_with(|| {
                better(
                    a.figures.cohort.resolution_rate,
                    b.figures.cohort.resolution_rate,
                    true,
                )
            })
            .then(a.region.cmp(&b.region))
    });
    for (i, c) in children.iter_mut().enumerate() {
        c.rank = i + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counts::ttr_bucket;
    use proptest::prelude::*;

    proptest! {
        /// The median and p90 read from the histogram are the buckets of the exact
        /// nearest-rank quantiles: the exact value lies in the range given, and the figure is
        /// within a factor √1.1 of the exact value's hours + 1.
        #[test]
        fn quantiles_hold_their_stated_error(ms in proptest::collection::vec(0i64..40_000 * 3_600_000, 1..300)) {
            let mut hist: BTreeMap<u8, i64> = BTreeMap::new();
            for m in &ms {
                *hist.entry(ttr_bucket(*m)).or_default() += 1;
            }
            let d = durations(&hist);
            let mut hours: Vec<f64> = ms.iter().map(|m| *m as f64 / 3_600_000.0).collect();
            hours.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let exact = |q: f64| hours[((hours.len() as f64 * q).ceil() as usize).max(1) - 1];
            for (figure, [lo, hi], q) in [
                (d.median_hours, d.median_range_hours, 0.5),
                (d.p90_hours, d.p90_range_hours, 0.9),
            ] {
                let x = exact(q);
                // Bucket bounds are computed in floating point: allow its rounding.
                prop_assert!(lo - 1e-9 <= x && x < hi + 1e-9, "{x} outside [{lo}, {hi})");
                let factor = (figure + 1.0) / (x + 1.0);
                prop_assert!(
                    (1.0 / 1.1f64.sqrt() - 1e-9..=1.1f64.sqrt() + 1e-9).contains(&factor),
                    "{figure} for {x}: factor {factor}"
                );
            }
        }
    }

    /// What the documentation used to claim — ±5% of the hours — does not hold for short
    /// durations; the bound is of hours + 1.
    #[test]
    fn the_error_is_of_hours_plus_one_not_of_hours() {
        let h = 0.2;
        let figure = ttr_bucket_hours(ttr_bucket((h * 3_600_000.0) as i64));
        assert!((figure - h).abs() / h > 0.05, "{figure} for {h} hours");
        assert!(((figure + 1.0) / (h + 1.0) - 1.0).abs() < 0.049);
    }
}
