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

/// The scalar counters of [`Counts`], in slot order; the two per-level arrays follow.
macro_rules! scalar_fields {
    ($m:ident) => {
        $m!(
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
        )
    };
}

/// Number of scalar slots.
const SCALARS: usize = 20;
/// Number of slots: scalars, then `resolved_at[5]`, then `resolved_by_level[5]`.
const SLOTS: usize = SCALARS + 10;

/// The non-zero slots of a [`Counts`]: what one event or outcome changes (a few slots), so
/// applying it to the ~40 aggregates it touches costs a few additions each.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delta {
    len: usize,
    slots: [(u8, i64); 8],
}

impl Delta {
    fn iter(&self) -> impl Iterator<Item = (usize, i64)> + '_ {
        self.slots[..self.len]
            .iter()
            .map(|(i, v)| (*i as usize, *v))
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Counts {
    /// Slot `i`: the scalars in [`scalar_fields`] order, then `resolved_at`, then
    /// `resolved_by_level`.
    fn slot_mut(&mut self, i: usize) -> &mut i64 {
        match i {
            0 => &mut self.registered,
            1 => &mut self.referred_out,
            2 => &mut self.rejected,
            3 => &mut self.merged,
            4 => &mut self.reported,
            5 => &mut self.registrations,
            6 => &mut self.escalated,
            7 => &mut self.delegated,
            8 => &mut self.referred,
            9 => &mut self.mediations_concluded,
            10 => &mut self.mediation_agreements,
            11 => &mut self.resolved,
            12 => &mut self.resolved_on_time,
            13 => &mut self.reworked,
            14 => &mut self.extended,
            15 => &mut self.reopened,
            16 => &mut self.closed,
            17 => &mut self.supervised,
            18 => &mut self.feedback,
            19 => &mut self.feedback_positive,
            20..25 => &mut self.resolved_at[i - SCALARS],
            _ => &mut self.resolved_by_level[i - SCALARS - 5],
        }
    }

    /// The non-zero counters as a [`Delta`].
    pub fn delta(&self) -> Delta {
        let mut copy = self.clone();
        let mut d = Delta::default();
        for i in 0..SLOTS {
            let v = *copy.slot_mut(i);
            if v != 0 {
                assert!(d.len < d.slots.len(), "a delta changes at most 8 counters");
                d.slots[d.len] = (i as u8, v);
                d.len += 1;
            }
        }
        d
    }

    /// Adds a delta times `sign`.
    pub fn apply(&mut self, d: &Delta, sign: i64) {
        for (i, v) in d.iter() {
            *self.slot_mut(i) += sign * v;
        }
    }

    /// Adds `other` times `sign`.
    pub fn add(&mut self, o: &Counts, sign: i64) {
        macro_rules! add { ($($f:ident),*) => { $( self.$f += sign * o.$f; )* } }
        scalar_fields!(add);
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
    pub fn add(&mut self, delta: &Delta, dims: &[Dim], sign: i64) {
        self.total.apply(delta, sign);
        for d in dims {
            let e = self.by.entry(*d).or_default();
            e.apply(delta, sign);
            if sign < 0 && e.is_zero() {
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
    fn every_slot_is_a_distinct_field_and_deltas_add_like_counts() {
        for i in 0..SLOTS {
            let mut c = Counts::default();
            *c.slot_mut(i) = 7;
            // Exactly one field changed, and no other slot aliases it.
            for j in 0..SLOTS {
                assert_eq!(
                    *c.clone().slot_mut(j),
                    if i == j { 7 } else { 0 },
                    "slot {j} with {i} set"
                );
            }
            let mut by_delta = Counts::default();
            by_delta.apply(&c.delta(), 3);
            let mut by_add = Counts::default();
            by_add.add(&c, 3);
            assert_eq!(by_delta, by_add);
            assert!(!by_delta.is_zero());
        }
    }

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
