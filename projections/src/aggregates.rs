//! The aggregates' map: counters by time bucket, then by region.
//!
//! A commit changes the counters of its location and of every region above it, for its day and
//! month: eight or so aggregates per change. Held in one hash map keyed by (region, bucket),
//! each of those was a probe into a table of hundreds of thousands of entries, nearly always a
//! miss in the CPU's cache. Commits come in time order, so held bucket first — one small map
//! per day and per month of the regions counted in it — a commit's updates land in the one or
//! two small maps of its day and month, which stay in the cache while that day is applied.
//! Reads (a region's bucket) are two probes, the first into a map of a few hundred buckets.

use std::borrow::Cow;
use std::collections::hash_map::Entry;

use gridcase_domain::{Level, RegionCode};

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

    /// Adds `cells` to one region's counters in one bucket (dropping them if they come to
    /// nothing, as every update does).
    fn add_cells(
        regions: &mut FastMap<RegionCode, Cells>,
        region: RegionCode,
        cells: Cow<'_, Cells>,
    ) {
        match regions.entry(region) {
            Entry::Occupied(mut e) => {
                e.get_mut().add_cells(&cells);
                if e.get().is_empty() {
                    e.remove();
                }
            }
            Entry::Vacant(e) => {
                if !cells.is_empty() {
                    e.insert(cells.into_owned());
                }
            }
        }
    }

    /// Adds every counter of `other` (moving whole buckets this one lacks).
    fn add_all(&mut self, other: Aggregates) {
        for (bucket, regions) in other.by_bucket {
            match self.by_bucket.entry(bucket) {
                Entry::Vacant(e) => {
                    e.insert(regions);
                }
                Entry::Occupied(mut e) => {
                    for (region, cells) in regions {
                        Aggregates::add_cells(e.get_mut(), region, Cow::Owned(cells));
                    }
                }
            }
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

/// A long catch-up's counter changes, added below the regions that keep months and rolled up
/// once at the end (issue 17).
///
/// Added one by one, a change updates the day of its location and of every region above,
/// and the month of each region from the township up: eight aggregates or so, most of what a
/// catch-up counts. What a region above a township counts in a day is the sum of what its
/// children count (plus what is located at the region itself), and a month is the sum of its
/// days. So a catch-up adds each change only to the days of its location and of the regions
/// above it up to the first that keeps months ([`Deferred::add`]); [`Deferred::roll_into`]
/// then adds each township's day to its county's, each county's to its city's, and every day
/// of a region that keeps months to its month. Sums do not depend on the order of their
/// terms, so the counters are those that adding each change everywhere gives.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    days: FastMap<Day, FastMap<RegionCode, Cells>>,
}

impl Deferred {
    /// Calls `f` with the day counters a change at `location` on `day` updates now: the
    /// location's and those above it up to the first region that keeps months.
    pub(crate) fn add(&mut self, location: RegionCode, day: Day, mut f: impl FnMut(&mut Cells)) {
        let regions = self.days.entry(day).or_default();
        for region in location.self_and_ancestors() {
            let cells = regions.entry(region).or_default();
            f(cells);
            if cells.is_empty() {
                regions.remove(&region);
            }
            if has_month_buckets(region.level()) {
                break;
            }
        }
    }

    /// Rolls the counters up (see the type's documentation) and adds them to `into`: the
    /// earlier and the later half of the days side by side (a catch-up's other threads are
    /// done by then), each into aggregates of its own, then those into `into`.
    pub(crate) fn roll_into(self, into: &mut Aggregates) {
        if self.days.is_empty() {
            return;
        }
        let mut days: Vec<(Day, FastMap<RegionCode, Cells>)> = self.days.into_iter().collect();
        days.sort_unstable_by_key(|(day, _)| *day);
        let later = days.split_off(days.len() / 2);
        let rolled = |days: Vec<(Day, FastMap<RegionCode, Cells>)>| {
            let mut out = Aggregates::default();
            for (day, regions) in days {
                roll_day(day, regions, &mut out);
            }
            out
        };
        let (earlier, later) = std::thread::scope(|scope| {
            // The later days go to the helper only once it runs: if it cannot start (or
            // stops before taking them), they are rolled up here.
            let (hand, handed) = std::sync::mpsc::channel();
            let helper = std::thread::Builder::new()
                .name("projection-roll-up".into())
                .spawn_scoped(scope, move || handed.recv().ok().map(rolled));
            let helper = match helper {
                Ok(thread) => match hand.send(later) {
                    Ok(()) => Some(thread),
                    Err(back) => return (rolled(days), rolled(back.0)),
                },
                Err(e) => {
                    tracing::debug!(error = %e, "rolling the aggregates up on one thread");
                    return (rolled(days), rolled(later));
                }
            };
            let earlier = rolled(days);
            let later = helper
                .and_then(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .expect("the helper rolls up the days it was handed");
            (earlier, later)
        });
        into.add_all(earlier);
        into.add_all(later);
    }
}

/// Rolls one day's counters up into `into` (see [`Deferred`]).
fn roll_day(day: Day, mut regions: FastMap<RegionCode, Cells>, into: &mut Aggregates) {
    // Level by level from the township up: each region's day into its parent's.
    for rank in Level::Township.rank()..Level::City.rank() {
        let at_rank: Vec<RegionCode> = regions
            .keys()
            .filter(|r| r.level().rank() == rank)
            .copied()
            .collect();
        for region in at_rank {
            let Some(parent) = region.parent() else {
                continue;
            };
            let cells = regions.remove(&region).expect("a region just listed");
            regions.entry(parent).or_default().add_cells(&cells);
            regions.insert(region, cells);
        }
    }
    let months = into.bucket_mut(Bucket::Month(month_of(day)));
    for (region, cells) in &regions {
        if has_month_buckets(region.level()) {
            Aggregates::add_cells(months, *region, Cow::Borrowed(cells));
        }
    }
    let days = into.bucket_mut(Bucket::Day(day));
    for (region, cells) in regions {
        Aggregates::add_cells(days, region, Cow::Owned(cells));
    }
}
