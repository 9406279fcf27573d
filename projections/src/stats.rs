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
//! - **rates** — mediation success = agreements / mediations concluded; on-time = resolved by
//!   the deadline / resolved; rework = reworked / resolved; extension = extended /
//!   registrations; escalation = escalations / registrations; reopen = reopened / closed;
//!   satisfaction = (satisfied + basically satisfied) / feedback.
//! - **time to resolution** — registration to resolution, median and p90 by resolving level,
//!   from a log-scale histogram (±5%).

use std::collections::BTreeMap;

use gridcase_domain::{Level, RegionCode, RegionTree};
use serde::{Deserialize, Serialize};

use crate::calendar::Period;
use crate::counts::{ttr_bucket_hours, Accumulator, Aggregate, Counts, Dim};
use crate::projector::{has_month_buckets, Bucket, Projector};

/// A breakdown dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Also compute every child region, ranked by township rate.
    pub drill_down: bool,
}

/// The cohort view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
pub struct Activity {
    /// Reports.
    pub reported: i64,
    /// Registrations.
    pub registered: i64,
    /// Escalations.
    pub escalated: i64,
    /// Delegations.
    pub delegated: i64,
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

/// Rates over the activity in the period (`None` when the denominator is zero).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// 调解成功率.
    pub mediation_success: Option<f64>,
    /// 按期结案率.
    pub on_time: Option<f64>,
    /// 返工率.
    pub rework: Option<f64>,
    /// 延期率.
    pub extension: Option<f64>,
    /// Escalations per registration.
    pub escalation: Option<f64>,
    /// Reopenings per closure.
    pub reopen: Option<f64>,
    /// 满意率.
    pub satisfaction: Option<f64>,
}

/// Time to resolution at one level, in hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    /// Resolutions counted.
    pub count: i64,
    /// Median hours.
    pub median_hours: f64,
    /// 90th percentile hours.
    pub p90_hours: f64,
}

/// Figures for one slice (everything, or one breakdown value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
pub struct ChildFigures {
    /// The child region.
    pub region: RegionCode,
    /// Its name.
    pub name: String,
    /// Rank by township rate (1 = best), ties by resolution rate then code.
    pub rank: usize,
    /// Its figures.
    pub figures: Figures,
}

/// The answer to a [`StatsQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsReport {
    /// The region.
    pub region: RegionCode,
    /// Its level.
    pub level: Level,
    /// The period, as `from..to` local dates (end exclusive).
    pub period: String,
    /// The time zone of the period.
    pub time_zone: String,
    /// Everything.
    pub figures: Figures,
    /// Time to resolution by resolving level.
    pub time_to_resolution: BTreeMap<Level, Durations>,
    /// Change against the previous period.
    pub change: Change,
    /// Breakdown by the requested dimension.
    pub breakdown: Vec<(Dim, Figures)>,
    /// Child regions, ranked.
    pub children: Vec<ChildFigures>,
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
            extension: ratio(c.extended, c.registrations),
            escalation: ratio(c.escalated, c.registrations),
            reopen: ratio(c.reopened, c.closed),
            satisfaction: ratio(c.feedback_positive, c.feedback),
        };
        Figures {
            cohort,
            activity,
            rates,
        }
    }
}

fn quantile(hist: &BTreeMap<u8, i64>, q: f64) -> f64 {
    let total: i64 = hist.values().sum();
    let target = ((total as f64) * q).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (b, n) in hist {
        seen += n;
        if seen >= target {
            return ttr_bucket_hours(*b);
        }
    }
    0.0
}

impl Projector {
    /// The summed aggregate of a region over a period.
    pub fn sum(&self, region: RegionCode, period: &Period) -> Aggregate {
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
            if let Some(cells) = self.aggregate(region, b) {
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
        let time_to_resolution = by_level
            .iter()
            .map(|(l, h)| {
                (
                    *l,
                    Durations {
                        count: h.values().sum(),
                        median_hours: quantile(h, 0.5),
                        p90_hours: quantile(h, 0.9),
                    },
                )
            })
            .collect();
        let prev_period = q.period.previous();
        let prev = Figures::from_counts(&self.sum(q.region, &prev_period).total);
        let change = Change {
            previous_period: prev_period.to_string(),
            previous_registered: prev.cohort.registered,
            registered_change: ratio(
                figures.cohort.registered - prev.cohort.registered,
                prev.cohort.registered,
            ),
            previous_township_rate: prev.cohort.township_rate,
            previous_resolution_rate: prev.cohort.resolution_rate,
        };
        let breakdown = match q.breakdown {
            None => Vec::new(),
            Some(b) => agg
                .by
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
                .collect(),
        };
        let mut children = Vec::new();
        if q.drill_down {
            for child in regions.children(q.region) {
                let c = self.sum(*child, &q.period);
                children.push(ChildFigures {
                    region: *child,
                    name: regions.name(*child).unwrap_or_default().to_owned(),
                    rank: 0,
                    figures: Figures::from_counts(&c.total),
                });
            }
            children.sort_by(|a, b| {
                let key = |f: &Figures| {
                    (
                        f.cohort.township_rate.unwrap_or(-1.0),
                        f.cohort.resolution_rate.unwrap_or(-1.0),
                    )
                };
                key(&b.figures)
                    .partial_cmp(&key(&a.figures))
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(a.region.cmp(&b.region))
            });
            for (i, c) in children.iter_mut().enumerate() {
                c.rank = i + 1;
            }
        }
        StatsReport {
            region: q.region,
            level: q.region.level(),
            period: q.period.to_string(),
            time_zone: self.calendar.name().to_owned(),
            figures,
            time_to_resolution,
            change,
            breakdown,
            children,
        }
    }
}
