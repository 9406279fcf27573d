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

/// The non-zero slots of a [`Counts`]: what one commit changes (a few slots), so applying it
/// to the ten aggregates it touches costs a few additions each.
#[derive(Debug, Clone, Copy)]
pub struct Delta {
    len: usize,
    slots: [(u8, i64); SLOTS],
}

impl Default for Delta {
    fn default() -> Delta {
        Delta {
            len: 0,
            slots: [(0, 0); SLOTS],
        }
    }
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

/// A breakdown dimension by dense index: categories, then sources, then kinds.
impl Dim {
    /// How many dimension values there are.
    pub const COUNT: usize = Category::ALL.len() + Source::ALL.len() + CaseKind::ALL.len();

    /// The dense index of this value (`0..Dim::COUNT`).
    pub fn index(self) -> usize {
        fn pos<T: PartialEq>(all: &[T], v: &T) -> usize {
            all.iter()
                .position(|x| x == v)
                .expect("every value is in ALL")
        }
        match self {
            Dim::Category(c) => pos(Category::ALL, &c),
            Dim::Source(s) => Category::ALL.len() + pos(Source::ALL, &s),
            Dim::Kind(k) => Category::ALL.len() + Source::ALL.len() + pos(CaseKind::ALL, &k),
        }
    }

    /// The value at a dense index.
    pub fn from_index(i: usize) -> Option<Dim> {
        let (c, s) = (Category::ALL.len(), Source::ALL.len());
        if i < c {
            Some(Dim::Category(Category::ALL[i]))
        } else if i < c + s {
            Some(Dim::Source(Source::ALL[i - c]))
        } else {
            CaseKind::ALL.get(i - c - s).map(|k| Dim::Kind(*k))
        }
    }
}

/// Slots per counter group in a [`Cells`] key.
const GROUP_SLOTS: u16 = 32;
/// Keys at and above this are time-to-resolution buckets: `TTR_BASE + rank * 128 + bucket`.
const TTR_BASE: u16 = 0x8000;

/// One counter of a [`Cells`]: which (group, slot) or TTR bucket, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// `group * 32 + slot` (group 0 is the total, group `1 + d` the dimension of index `d`),
    /// or `TTR_BASE + level rank * 128 + histogram bucket`.
    pub key: u16,
    /// The count (never zero while stored).
    pub value: i32,
}

/// What one region and time bucket has counted: its non-zero counters in key order — the
/// totals, then each breakdown dimension, then the time-to-resolution histogram.
///
/// Most aggregates (a grid's day) hold a handful of counters and are kept as a flat sorted
/// vector: one small allocation, cheap to update and to store. The few busy ones (a city's or
/// county's day and month) are promoted to a dense array indexed by key once they hold
/// 192 counters (`DENSE_FROM`), so updating them is an index, not a search. Both forms hold,
/// iterate and encode the same counters.
#[derive(Debug, Clone)]
pub struct Cells {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Sparse(Vec<Cell>),
    /// Indexed by [`dense_index`]; `nonzero` counts the non-zero values.
    Dense {
        values: Box<[i32]>,
        nonzero: usize,
    },
}

impl Default for Cells {
    fn default() -> Cells {
        Cells {
            repr: Repr::Sparse(Vec::new()),
        }
    }
}

impl PartialEq for Cells {
    fn eq(&self, o: &Cells) -> bool {
        self.iter().eq(o.iter())
    }
}

impl Eq for Cells {}

/// Sparse aggregates with this many counters become dense.
pub const DENSE_FROM: usize = 192;
/// Counter keys below this (all groups × slots).
const COUNTER_KEYS: usize = (1 + Dim::COUNT) * GROUP_SLOTS as usize;
/// Length of a dense aggregate: every counter key, then 5 levels × 128 TTR buckets.
const DENSE_LEN: usize = COUNTER_KEYS + 5 * 128;

fn dense_index(key: u16) -> usize {
    if key >= TTR_BASE {
        COUNTER_KEYS + usize::from(key - TTR_BASE) - 128
    } else {
        usize::from(key)
    }
}

fn dense_key(i: usize) -> u16 {
    if i >= COUNTER_KEYS {
        TTR_BASE + 128 + (i - COUNTER_KEYS) as u16
    } else {
        i as u16
    }
}

/// Whether `key` names a counter this build knows.
fn known_key(key: u16) -> bool {
    if key >= TTR_BASE {
        let (rank, b) = ((key - TTR_BASE) / 128, (key - TTR_BASE) % 128);
        (1..=5).contains(&rank) && usize::from(b) < TTR_BUCKETS
    } else {
        usize::from(key / GROUP_SLOTS) <= Dim::COUNT && usize::from(key % GROUP_SLOTS) < SLOTS
    }
}

impl Cells {
    /// Adds `v` to counter `key`, searching a sparse vector from `from` on (keys of one update
    /// come in increasing order); returns where the search may resume.
    fn add_key(&mut self, key: u16, v: i64, from: usize) -> usize {
        if v == 0 {
            return from;
        }
        let v = i32::try_from(v).expect("a counter delta fits in i32");
        match &mut self.repr {
            Repr::Dense { values, nonzero } => {
                let slot = &mut values[dense_index(key)];
                let was = *slot;
                *slot = was.checked_add(v).expect("a counter fits in i32");
                match (was == 0, *slot == 0) {
                    (true, false) => *nonzero += 1,
                    (false, true) => *nonzero -= 1,
                    _ => {}
                }
                from
            }
            Repr::Sparse(cells) => {
                let from = from.min(cells.len());
                match cells[from..].binary_search_by_key(&key, |c| c.key) {
                    Ok(i) => {
                        let i = from + i;
                        let c = &mut cells[i];
                        c.value = c.value.checked_add(v).expect("a counter fits in i32");
                        if c.value == 0 {
                            cells.remove(i);
                        }
                        i
                    }
                    Err(i) => {
                        let i = from + i;
                        cells.insert(i, Cell { key, value: v });
                        if cells.len() >= DENSE_FROM {
                            self.densify();
                        }
                        i
                    }
                }
            }
        }
    }

    fn densify(&mut self) {
        let mut values = vec![0i32; DENSE_LEN].into_boxed_slice();
        let mut nonzero = 0;
        for c in self.iter() {
            values[dense_index(c.key)] = c.value;
            nonzero += 1;
        }
        self.repr = Repr::Dense { values, nonzero };
    }

    /// Adds a delta times `sign` to the totals and to each of `dims` (in increasing index
    /// order, as a case's dimensions always are).
    pub fn add(&mut self, delta: &Delta, dims: &[Dim], sign: i64) {
        let mut at = 0;
        for (slot, v) in delta.iter() {
            at = self.add_key(slot as u16, sign * v, at);
        }
        let mut last_base = 0;
        for d in dims {
            let base = (1 + d.index() as u16) * GROUP_SLOTS;
            if base < last_base {
                at = 0;
            }
            last_base = base;
            for (slot, v) in delta.iter() {
                at = self.add_key(base + slot as u16, sign * v, at);
            }
        }
    }

    /// Counts one resolution duration in the histogram.
    pub fn add_ttr(&mut self, level: Level, ms: i64) {
        self.add_key(
            TTR_BASE + u16::from(level.rank()) * 128 + u16::from(ttr_bucket(ms)),
            1,
            0,
        );
    }

    /// Whether nothing is counted.
    pub fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::Sparse(c) => c.is_empty(),
            Repr::Dense { nonzero, .. } => *nonzero == 0,
        }
    }

    /// Number of non-zero counters.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Sparse(c) => c.len(),
            Repr::Dense { nonzero, .. } => *nonzero,
        }
    }

    /// The counters, in key order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Cell> + '_> {
        match &self.repr {
            Repr::Sparse(c) => Box::new(c.iter().copied()),
            Repr::Dense { values, .. } => Box::new(
                values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0)
                    .map(|(i, v)| Cell {
                        key: dense_key(i),
                        value: *v,
                    }),
            ),
        }
    }

    /// Encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.len() * 6
    }

    /// Appends the storage encoding: per counter its key (u16) and value (i32), little-endian.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        for c in self.iter() {
            out.extend_from_slice(&c.key.to_le_bytes());
            out.extend_from_slice(&c.value.to_le_bytes());
        }
    }

    /// Decodes [`Cells::encode_into`]'s output, checking it is well formed: whole counters,
    /// keys strictly increasing and known, no zero values.
    pub fn decode(bytes: &[u8]) -> Result<Cells, String> {
        if !bytes.len().is_multiple_of(6) {
            return Err(format!(
                "{} bytes is not a whole number of counters",
                bytes.len()
            ));
        }
        let mut cells = Vec::with_capacity(bytes.len() / 6);
        for ch in bytes.chunks_exact(6) {
            let key = u16::from_le_bytes([ch[0], ch[1]]);
            let value = i32::from_le_bytes([ch[2], ch[3], ch[4], ch[5]]);
            if !known_key(key) || value == 0 {
                return Err(format!("counter {key} = {value} is not a valid counter"));
            }
            if cells.last().is_some_and(|l: &Cell| l.key >= key) {
                return Err(format!("counter {key} is out of order"));
            }
            cells.push(Cell { key, value });
        }
        let mut out = Cells {
            repr: Repr::Sparse(cells),
        };
        if out.len() >= DENSE_FROM {
            out.densify();
        }
        Ok(out)
    }
}

/// Everything counted for a region over some buckets, summed at query time from [`Cells`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    /// Totals.
    pub total: Counts,
    /// Breakdowns (only dimensions with a non-zero counter).
    pub by: BTreeMap<Dim, Counts>,
    /// Time to resolution (registration to resolution) of resolutions in the buckets:
    /// (level rank 1–5, histogram bucket) → count.
    pub ttr: BTreeMap<(u8, u8), i64>,
}

/// A dense sum of [`Cells`], for queries over many buckets: adding a bucket is an index per
/// counter, and the [`Aggregate`] is built once at the end.
#[derive(Debug, Clone)]
pub struct Accumulator {
    values: Vec<i64>,
}

impl Default for Accumulator {
    fn default() -> Accumulator {
        Accumulator {
            values: vec![0; DENSE_LEN],
        }
    }
}

impl Accumulator {
    /// Adds a bucket's counters.
    pub fn add(&mut self, cells: &Cells) {
        match &cells.repr {
            Repr::Dense { values, .. } => {
                for (acc, v) in self.values.iter_mut().zip(values.iter()) {
                    *acc += i64::from(*v);
                }
            }
            Repr::Sparse(cs) => {
                for c in cs {
                    self.values[dense_index(c.key)] += i64::from(c.value);
                }
            }
        }
    }

    /// The sum as an [`Aggregate`].
    pub fn finish(&self) -> Aggregate {
        let mut a = Aggregate::default();
        for (i, v) in self.values.iter().enumerate() {
            if *v != 0 {
                a.add_counter(dense_key(i), *v);
            }
        }
        a
    }
}

impl Aggregate {
    fn add_counter(&mut self, key: u16, v: i64) {
        if key >= TTR_BASE {
            let k = key - TTR_BASE;
            *self
                .ttr
                .entry(((k / 128) as u8, (k % 128) as u8))
                .or_default() += v;
            return;
        }
        let (group, slot) = (
            usize::from(key / GROUP_SLOTS),
            usize::from(key % GROUP_SLOTS),
        );
        let counts = match group.checked_sub(1) {
            None => &mut self.total,
            Some(d) => match Dim::from_index(d) {
                Some(dim) => self.by.entry(dim).or_default(),
                None => return,
            },
        };
        *counts.slot_mut(slot) += v;
    }

    /// Adds a bucket's counters.
    pub fn merge(&mut self, cells: &Cells) {
        for c in cells.iter() {
            self.add_counter(c.key, i64::from(c.value));
        }
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

    use proptest::prelude::*;

    fn delta_of(slot: usize, v: i64) -> Delta {
        let mut c = Counts::default();
        *c.slot_mut(slot) = v;
        c.delta()
    }

    proptest! {
        /// Cells hold exactly the non-zero sums of what was added, in key order, in either
        /// form (sparse or dense), and survive encoding.
        #[test]
        fn cells_match_a_plain_map(ops in proptest::collection::vec(
            (0..SLOTS, 0..Dim::COUNT, 0..Dim::COUNT, -3i64..4, any::<bool>(), 1u8..=5, 0i64..5_000_000_000),
            0..400,
        )) {
            let mut cells = Cells::default();
            let mut model: BTreeMap<u16, i64> = BTreeMap::new();
            for (slot, d1, d2, v, ttr, rank, ms) in ops {
                let mut dims = [Dim::from_index(d1).unwrap(), Dim::from_index(d2).unwrap()];
                dims.sort_by_key(|d| d.index());
                cells.add(&delta_of(slot, v), &dims, 1);
                for g in [0, 1 + dims[0].index(), 1 + dims[1].index()] {
                    *model.entry(g as u16 * GROUP_SLOTS + slot as u16).or_default() += v;
                }
                if ttr {
                    let level = Level::from_rank(rank).unwrap();
                    cells.add_ttr(level, ms);
                    *model.entry(TTR_BASE + u16::from(rank) * 128 + u16::from(ttr_bucket(ms))).or_default() += 1;
                }
            }
            model.retain(|_, v| *v != 0);
            let got: Vec<(u16, i64)> = cells.iter().map(|c| (c.key, i64::from(c.value))).collect();
            let want: Vec<(u16, i64)> = model.into_iter().collect();
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(cells.is_empty(), want.is_empty());
            let mut bytes = Vec::new();
            cells.encode_into(&mut bytes);
            prop_assert_eq!(bytes.len(), cells.encoded_len());
            let back = Cells::decode(&bytes).unwrap();
            prop_assert!(back == cells);
            // Summing densely (queries) equals summing counter by counter.
            let mut by_merge = Aggregate::default();
            by_merge.merge(&cells);
            by_merge.merge(&back);
            let mut acc = Accumulator::default();
            acc.add(&cells);
            acc.add(&back);
            prop_assert_eq!(acc.finish(), by_merge);
        }
    }

    #[test]
    fn malformed_cells_are_refused() {
        let mut ok = Vec::new();
        let mut c = Cells::default();
        c.add(&delta_of(0, 1), &[Dim::from_index(0).unwrap()], 1);
        c.encode_into(&mut ok);
        assert!(Cells::decode(&ok).is_ok());
        assert!(Cells::decode(&ok[..ok.len() - 1]).is_err(), "truncated");
        let mut swapped = ok[6..].to_vec();
        swapped.extend_from_slice(&ok[..6]);
        assert!(Cells::decode(&swapped).is_err(), "out of order");
        let mut zero = ok.clone();
        zero[2..6].copy_from_slice(&0i32.to_le_bytes());
        assert!(Cells::decode(&zero).is_err(), "zero value");
        let mut unknown = ok.clone();
        unknown[..2].copy_from_slice(&0x7fffu16.to_le_bytes());
        assert!(Cells::decode(&unknown).is_err(), "unknown key");
    }
}
