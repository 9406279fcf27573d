//! Pre-aggregated counters: what every statistic is summed from.
//!
//! For every region on a case's location's path (grid up to city) and for its local day and
//! month, one [`Aggregate`] holds the cohort counters (by the case's registration day, moved
//! as its outcome changes) and the activity counters (by each event's day, only ever added),
//! totals plus sparse breakdowns by category, source and kind.

use std::collections::BTreeMap;

use gridcase_domain::{CaseKind, Category, Level, Source};
use serde::{Deserialize, Serialize};

/// Counters of one slice (a region × bucket, possibly narrowed to one category/source/kind).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Cohort: registered cases.
    pub registered: i64,
    /// Cohort: resolution in force at each level, grid first.
    pub resolved_at: [i64; 5],
    /// Cohort: referred out and not returned.
    pub referred_out: i64,
    /// Cohort: reports not registered.
    pub rejected: i64,
    /// Cohort: registered cases merged into another as duplicates.
    pub merged: i64,
    /// Activity: reports.
    pub reported: i64,
    /// Activity: registrations.
    pub registrations: i64,
    /// Activity: escalations.
    pub escalated: i64,
    /// Activity: delegations.
    pub delegated: i64,
    /// Activity: referrals out.
    pub referred: i64,
    /// Activity: mediations concluded.
    pub mediations_concluded: i64,
    /// Activity: mediations concluded with an agreement.
    pub mediation_agreements: i64,
    /// Activity: resolutions.
    pub resolved: i64,
    /// Activity: resolutions by the deadline in force.
    pub resolved_on_time: i64,
    /// Activity: resolutions by level, grid first.
    pub resolved_by_level: [i64; 5],
    /// Activity: resolutions sent back (返工).
    pub reworked: i64,
    /// Activity: deadline extensions (延期).
    pub extended: i64,
    /// Activity: reopenings.
    pub reopened: i64,
    /// Activity: closures.
    pub closed: i64,
    /// Activity: supervisions (督办).
    pub supervised: i64,
    /// Activity: feedback recorded.
    pub feedback: i64,
    /// Activity: satisfied or basically satisfied feedback.
    pub feedback_positive: i64,
}

impl Counts {
    /// Adds `other` times `sign`.
    pub fn add(&mut self, o: &Counts, sign: i64) {
        macro_rules! add { ($($f:ident),*) => { $( self.$f += sign * o.$f; )* } }
        add!(
            registered,
            referred_out,
            rejected,
            merged,
            reported,
            registrations,
            escalated,
            delegated,
            referred,
            mediations_concluded,
            mediation_agreements,
            resolved,
            resolved_on_time,
            reworked,
            extended,
            reopened,
            closed,
            supervised,
            feedback,
            feedback_positive
        );
        for i in 0..5 {
            self.resolved_at[i] += sign * o.resolved_at[i];
            self.resolved_by_level[i] += sign * o.resolved_by_level[i];
        }
    }

    /// Whether every counter is zero.
    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// A breakdown dimension value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "dimension", content = "value")]
pub enum Dim {
    /// By category.
    Category(Category),
    /// By source.
    Source(Source),
    /// By kind.
    Kind(CaseKind),
}

/// Buckets of the time-to-resolution histogram: bucket `b` holds durations whose hours `h`
/// satisfy `floor(ln(h + 1) / ln(1.1)) == b`, so medians are exact to about ±5%.
pub const TTR_BUCKETS: usize = 120;

/// The histogram bucket of a duration in milliseconds.
pub fn ttr_bucket(ms: i64) -> u8 {
    let hours = (ms.max(0) as f64) / 3_600_000.0;
    (((hours + 1.0).ln() / 1.1f64.ln()).floor() as usize).min(TTR_BUCKETS - 1) as u8
}

/// The representative duration of a bucket in hours (its geometric middle).
pub fn ttr_bucket_hours(b: u8) -> f64 {
    let lo = 1.1f64.powi(b as i32) - 1.0;
    let hi = 1.1f64.powi(b as i32 + 1) - 1.0;
    ((lo + 1.0) * (hi + 1.0)).sqrt() - 1.0
}

/// Everything counted for one region and one time bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    /// Totals.
    pub total: Counts,
    /// Sparse breakdowns.
    pub by: BTreeMap<Dim, Counts>,
    /// Time to resolution (registration to resolution) of resolutions in the bucket:
    /// (level rank 1–5, histogram bucket) → count.
    pub ttr: BTreeMap<(u8, u8), i64>,
}

impl Aggregate {
    /// Adds a delta to the totals and to the given dimensions.
    pub fn add(&mut self, delta: &Counts, dims: &[Dim], sign: i64) {
        self.total.add(delta, sign);
        for d in dims {
            let e = self.by.entry(*d).or_default();
            e.add(delta, sign);
            if e.is_zero() {
                self.by.remove(d);
            }
        }
    }

    /// Adds a resolution duration.
    pub fn add_ttr(&mut self, level: Level, ms: i64) {
        *self.ttr.entry((level.rank(), ttr_bucket(ms))).or_default() += 1;
    }

    /// Adds another aggregate (query-time summing).
    pub fn merge(&mut self, o: &Aggregate) {
        self.total.add(&o.total, 1);
        for (d, c) in &o.by {
            self.by.entry(*d).or_default().add(c, 1);
        }
        for (k, n) in &o.ttr {
            *self.ttr.entry(*k).or_default() += n;
        }
    }

    /// Whether nothing is counted.
    pub fn is_empty(&self) -> bool {
        self.total.is_zero() && self.by.is_empty() && self.ttr.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttr_buckets_are_monotonic_and_close() {
        let mut last = 0;
        for h in [0.0, 0.5, 1.0, 5.0, 24.0, 72.0, 720.0, 2000.0] {
            let b = ttr_bucket((h * 3_600_000.0) as i64);
            assert!(b >= last);
            last = b;
            let rep = ttr_bucket_hours(b);
            if h >= 5.0 {
                assert!((rep - h).abs() / h < 0.06, "{h} ~ {rep}");
            }
        }
    }
}
