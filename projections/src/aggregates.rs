//! The aggregates' map: counters by time bucket, then by region.
//!
//! A commit changes the counters of its location and of every region above it, for its day and
//! month: eight or so aggregates per change. Held in one hash map keyed by (region, bucket),
//! each of those was a probe into a table of hundreds of thousands of entries, nearly always a
//! miss in the CPU's cache. Commits come in time order, so held bucket first — one small map
//! per day and per month of the regions counted in it — a commit's updates land in the one or
//! two small maps of its day and month, which stay in the cache while that day is applied.
//! Reads (a region's bucket) are two probes, the first into a map of a few hundred buckets.

use gridcase_domain::RegionCode;

use crate::calendar::{month_of, Day};
use crate::counts::Cells;
use crate::projector::{has_month_buckets, AggKey, Bucket, FastMap};

/// Counters by bucket and region; see the module documentation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Aggregates {
    by_bucket: FastMap<Bucket, FastMap<RegionCode, Cells>>,
}

impl Aggregates {
    /// The counters of one region in one bucket.
    pub(crate) fn get(&self, region: RegionCode, bucket: Bucket) -> Option<&Cells> {
        self.by_bucket.get(&bucket)?.get(&region)
    }

    /// The regions counted in one bucket, to update several of them.
    fn bucket_mut(&mut self, bucket: Bucket) -> &mut FastMap<RegionCode, Cells> {
        self.by_bucket.entry(bucket).or_default()
    }

    /// Calls `f` with the regions of `day` and then of its month, and each region a change at
    /// `location` counts in there: the location and every region above, and for months only
    /// the levels that keep them.
    pub(crate) fn roll_up(
        &mut self,
        location: RegionCode,
        day: Day,
        mut f: impl FnMut(&mut FastMap<RegionCode, Cells>, RegionCode),
    ) {
        let days = self.bucket_mut(Bucket::Day(day));
        for region in location.self_and_ancestors() {
            f(days, region);
        }
        let months = self.bucket_mut(Bucket::Month(month_of(day)));
        for region in location
            .self_and_ancestors()
            .filter(|r| has_month_buckets(r.level()))
        {
            f(months, region);
        }
    }

    /// Sets the counters of one region in one bucket (loading a snapshot).
    pub(crate) fn insert(&mut self, (region, bucket): AggKey, cells: Cells) {
        self.bucket_mut(bucket).insert(region, cells);
    }

    /// Every aggregate, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (AggKey, &Cells)> + '_ {
        self.by_bucket
            .iter()
            .flat_map(|(b, regions)| regions.iter().map(move |(r, c)| ((*r, *b), c)))
    }
}
