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
    /// Cohort: registered cases escalated at least once (上交率's numerator).
    pub cases_escalated: i64,
    /// Cohort: registered cases with at least one approved extension (延期率's numerator).
    pub cases_extended: i64,
    /// Cohort: registered cases reopened at least once (reopen rate's numerator).
    pub cases_reopened: i64,
    /// Cohort: registered cases closed at least once (reopen rate's denominator).
    pub cases_closed: i64,
    /// Activity: take-overs (提级领办) by an ancestor unit.
    pub taken_over: i64,
}

/// The counter slots of [`Counts`]: each counter's fixed id, written once, here.
///
/// A snapshot stores counters by id ([`Cell::key`]), so an id must keep naming the same
/// counter forever: a new counter takes the next id at the end of the list, an id is never
/// renumbered or reused (a counter no longer counted keeps its line). Ids stay below 64
/// (`GROUP_SLOTS`; it was 32 until the cohort's case counters took ids 30–33, so the key
/// scheme widened and every snapshot was rebuilt once). The ids and names are part of the [`layout_fingerprint`], so a snapshot
/// written under another list is rebuilt rather than misread, and the `released_ids_are_pinned`
/// test fails on any renumbering.
macro_rules! counter_slots {
    ($m:ident) => {
        $m! {
            0 => registered,
            1 => referred_out,
            2 => rejected,
            3 => merged,
            4 => reported,
            5 => registrations,
            6 => escalated,
            7 => delegated,
            8 => referred,
            9 => mediations_concluded,
            10 => mediation_agreements,
            11 => resolved,
            12 => resolved_on_time,
            13 => reworked,
            14 => extended,
            15 => reopened,
            16 => closed,
            17 => supervised,
            18 => feedback,
            19 => feedback_positive,
            20 => resolved_at[0],
            21 => resolved_at[1],
            22 => resolved_at[2],
            23 => resolved_at[3],
            24 => resolved_at[4],
            25 => resolved_by_level[0],
            26 => resolved_by_level[1],
            27 => resolved_by_level[2],
            28 => resolved_by_level[3],
            29 => resolved_by_level[4],
            30 => cases_escalated,
            31 => cases_extended,
            32 => cases_reopened,
            33 => cases_closed,
            34 => taken_over,
        }
    };
}

/// Everything [`counter_slots`] defines: the id table and the code that maps ids to fields.
macro_rules! slot_code {
    ($($id:literal => $f:ident $([$i:literal])?),+ $(,)?) => {
        /// Every counter slot as (id, name), in id order.
        pub const SLOT_IDS: &[(u8, &str)] = &[
            $(($id, concat!(stringify!($f) $(, "[", stringify!($i), "]")?))),+
        ];

        impl Counts {
            /// The counter with slot id `id`.
            ///
            /// # Panics
            /// If no counter has that id (keys are checked when a snapshot is decoded).
            fn slot_mut(&mut self, id: u8) -> &mut i64 {
                match id {
                    $($id => &mut self.$f $([$i])?,)+
                    _ => panic!("no counter has slot id {id}"),
                }
            }

            /// The non-zero counters as a [`Delta`].
            pub fn delta(&self) -> Delta {
                let mut d = Delta::default();
                $(
                    let v = self.$f $([$i])?;
                    if v != 0 {
                        d.slots[d.len] = ($id, v);
                        d.len += 1;
                    }
                )+
                d
            }

            /// Adds `other` times `sign`.
            pub fn add(&mut self, o: &Counts, sign: i64) {
                $( self.$f $([$i])? += sign * o.$f $([$i])?; )+
            }

            /// The slots holding 1 as a bit mask (bit `id` for slot id `id`): how one event's
            /// activity, every counter of it 0 or 1, is kept with its case.
            ///
            /// # Panics
            /// In debug builds, if a counter is neither 0 nor 1.
            pub fn slot_mask(&self) -> u64 {
                let mut m = 0u64;
                $(
                    let v = self.$f $([$i])?;
                    debug_assert!(v == 0 || v == 1, "slot {} is {v}", $id);
                    if v != 0 {
                        m |= 1 << $id;
                    }
                )+
                m
            }

            /// The counters of [`Counts::slot_mask`]'s mask: 1 in each slot whose bit is set.
            pub fn from_slot_mask(m: u64) -> Counts {
                let mut c = Counts::default();
                $(
                    if m & (1 << $id) != 0 {
                        c.$f $([$i])? = 1;
                    }
                )+
                c
            }
        }
    };
}

counter_slots!(slot_code);

/// Number of counter slots.
const SLOTS: usize = SLOT_IDS.len();

/// Counter slot ids per group in a [`Cells`] key.
const GROUP_SLOTS: u16 = 64;

/// Bit `id` is set for every slot id in use.
const SLOT_MASK: u64 = {
    let mut mask = 0;
    let mut i = 0;
    while i < SLOTS {
        mask |= 1 << SLOT_IDS[i].0;
        i += 1;
    }
    mask
};

// The slot table is append-only: ids strictly increase down the list and fit a group.
const _: () = {
    let mut i = 0;
    while i < SLOTS {
        assert!(
            (SLOT_IDS[i].0 as u16) < GROUP_SLOTS,
            "a slot id is 64 or more"
        );
        assert!(
            i == 0 || SLOT_IDS[i - 1].0 < SLOT_IDS[i].0,
            "slot ids must strictly increase: append new counters at the end"
        );
        i += 1;
    }
};

/// The non-zero slots of a [`Counts`]: what one commit changes (a few slots), so applying it
/// to the ten aggregates it touches costs a few additions each.
#[derive(Debug, Clone, Copy)]
pub struct Delta {
    len: usize,
    /// (slot id, value).
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
    /// (slot id, value) of the changed counters, in id order.
    fn iter(&self) -> impl Iterator<Item = (u8, i64)> + '_ {
        self.slots[..self.len].iter().copied()
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Counts {
    /// Adds a delta times `sign`.
    pub fn apply(&mut self, d: &Delta, sign: i64) {
        for (id, v) in d.iter() {
            *self.slot_mut(id) += sign * v;
        }
    }

    /// Whether every counter is zero.
    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// A breakdown dimension value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
/// satisfy `floor(ln(h + 1) / ln(1.1)) == b`, i.e. `1.1^b <= h + 1 < 1.1^(b + 1)`. A bucket's
/// representative ([`ttr_bucket_hours`], the geometric middle of `h + 1`) is within a factor
/// √1.1 — ±4.9% — of every `h + 1` in it: the bound holds for `hours + 1`, not for the hours
/// (a duration of 0.5 h may read 0.45 h or 0.55 h; of 0 h, up to 0.05 h). The last bucket is
/// open above (about 92,700 hours, 10.6 years, and more).
pub const TTR_BUCKETS: usize = 120;

/// The histogram bucket of a duration in milliseconds.
pub fn ttr_bucket(ms: i64) -> u8 {
    let hours = (ms.max(0) as f64) / 3_600_000.0;
    (((hours + 1.0).ln() / 1.1f64.ln()).floor() as usize).min(TTR_BUCKETS - 1) as u8
}

/// The bounds `[low, high)` in hours of the durations a bucket holds (the last bucket's high
/// is infinite).
pub fn ttr_bucket_bounds(b: u8) -> [f64; 2] {
    let lo = 1.1f64.powi(b as i32) - 1.0;
    let hi = if usize::from(b) + 1 >= TTR_BUCKETS {
        f64::INFINITY
    } else {
        1.1f64.powi(b as i32 + 1) - 1.0
    };
    [lo, hi]
}

/// The representative duration of a bucket in hours: the geometric middle of its `hours + 1`.
pub fn ttr_bucket_hours(b: u8) -> f64 {
    let lo = 1.1f64.powi(b as i32) - 1.0;
    let hi = 1.1f64.powi(b as i32 + 1) - 1.0;
    ((lo + 1.0) * (hi + 1.0)).sqrt() - 1.0
}

/// The breakdown dimension values: each value's fixed id, written once, here.
///
/// One id space for every dimension, so that adding a category does not move the sources: a
/// new value of any dimension (a category, source or kind added to the vocabulary) takes the
/// next id at the end of the list; an id is never renumbered or reused. Forgetting to add a
/// new vocabulary value here does not compile ([`Dim::id`] matches every value).
/// The ids and names are part of the [`layout_fingerprint`].
macro_rules! dim_ids {
    ($m:ident) => {
        $m! {
            0 => Category(MarriageFamily),
            1 => Category(Neighbours),
            2 => Category(HousingHomestead),
            3 => Category(Contract),
            4 => Category(Business),
            5 => Category(Damages),
            6 => Category(ForestLand),
            7 => Category(Requisition),
            8 => Category(Pollution),
            9 => Category(Labour),
            10 => Category(Consumer),
            11 => Category(Medical),
            12 => Category(TrafficAccident),
            13 => Category(PropertyManagement),
            14 => Category(Other),
            15 => Source(GridPatrol),
            16 => Source(CitizenApp),
            17 => Source(Hotline),
            18 => Source(Police),
            19 => Source(Petition),
            20 => Source(Court),
            21 => Source(Department),
            22 => Source(HigherLevel),
            23 => Source(Video),
            24 => Kind(Dispute),
            25 => Kind(Incident),
            26 => Kind(Request),
            27 => Category(SafetyHazard),
            28 => Category(FireSafety),
            29 => Category(PublicFacilities),
            30 => Category(EnvironmentSanitation),
            31 => Category(FoodDrug),
            32 => Category(TrafficRoads),
            33 => Category(VulnerableCare),
            34 => Category(SocialServices),
            35 => Source(SmartSensing),
            36 => Source(PlatformAlert),
        }
    };
}

/// Everything [`dim_ids`] defines: the id table and the two directions of the mapping.
macro_rules! dim_code {
    ($($id:literal => $d:ident($v:ident)),+ $(,)?) => {
        /// Every breakdown dimension value with its id, in id order.
        pub const DIM_IDS: &[(u16, Dim)] = &[$(($id, dim_code!(@value $d $v))),+];

        impl Dim {
            /// This value's fixed id (see the table in the source).
            pub const fn id(self) -> u16 {
                match self {
                    $(dim_code!(@value $d $v) => $id,)+
                }
            }

            /// The value with id `id`, if any.
            pub const fn from_id(id: u16) -> Option<Dim> {
                match id {
                    $($id => Some(dim_code!(@value $d $v)),)+
                    _ => None,
                }
            }
        }
    };
    (@value Category $v:ident) => { Dim::Category(Category::$v) };
    (@value Source $v:ident) => { Dim::Source(Source::$v) };
    (@value Kind $v:ident) => { Dim::Kind(CaseKind::$v) };
}

dim_ids!(dim_code);

impl Dim {
    /// One more than the highest id: the ids are `0..Dim::ID_END` (retired ones leave gaps).
    pub const ID_END: u16 = DIM_IDS[DIM_IDS.len() - 1].0 + 1;

    /// The dimension's name, as in the API (`category`, `source`, `kind`).
    pub fn dimension(self) -> &'static str {
        match self {
            Dim::Category(_) => "category",
            Dim::Source(_) => "source",
            Dim::Kind(_) => "kind",
        }
    }

    /// The value's stable wire name.
    pub fn value(self) -> &'static str {
        match self {
            Dim::Category(c) => c.as_str(),
            Dim::Source(s) => s.as_str(),
            Dim::Kind(k) => k.as_str(),
        }
    }
}

/// Keys at and above this are time-to-resolution buckets: `TTR_BASE + rank * 128 + bucket`.
const TTR_BASE: u16 = 0x8000;

// The dimension table is append-only (ids strictly increase down the list) and every group of
// counters has a key below the histogram's.
const _: () = {
    let mut i = 1;
    while i < DIM_IDS.len() {
        assert!(
            DIM_IDS[i - 1].0 < DIM_IDS[i].0,
            "dimension ids must strictly increase: append new values at the end"
        );
        i += 1;
    }
    assert!((1 + Dim::ID_END as u32) * (GROUP_SLOTS as u32) <= TTR_BASE as u32);
};

/// How a snapshot is laid out, as text: the counters' key scheme, every slot and dimension
/// value with its id, the time-to-resolution buckets, and the fields of a stored case view.
/// [`layout_fingerprint`] hashes it.
pub fn layout_description() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "gridcase counters\n\
         key: (1 + dimension id) * 64 + slot id, group 0 = totals\n",
    );
    for (id, name) in SLOT_IDS {
        let _ = writeln!(out, "slot {id} {name}");
    }
    for (id, d) in DIM_IDS {
        let _ = writeln!(out, "dimension {id} {}/{}", d.dimension(), d.value());
    }
    let _ = writeln!(
        out,
        "ttr: key {TTR_BASE} + level rank * 128 + bucket, \
         bucket = min(floor(ln(hours + 1) / ln(1.1)), {})",
        TTR_BUCKETS - 1
    );
    let _ = writeln!(
        out,
        "case views (compact, by position): {}",
        crate::projector::case_view_shape()
    );
    let _ = writeln!(
        out,
        "unit activity: key prefix u, totals only, by the acting actor's unit and its ancestors"
    );
    out
}

/// SHA-256 (hex) of [`layout_description`]: snapshots record it and are rebuilt from the log
/// when it differs from this build's, so a counter can never be read under another's id.
pub fn layout_fingerprint() -> &'static str {
    static FINGERPRINT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(layout_description().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    });
    &FINGERPRINT
}

/// One counter of a [`Cells`]: which (group, slot) or TTR bucket, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// `group * 64 + slot id` (group 0 is the total, group `1 + id` the dimension value of that
    /// [`Dim::id`]), or `0x8000 + level rank * 128 + histogram bucket`.
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
const COUNTER_KEYS: usize = (1 + Dim::ID_END as usize) * GROUP_SLOTS as usize;
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
        let (group, slot) = (key / GROUP_SLOTS, (key % GROUP_SLOTS) as u8);
        (group == 0 || Dim::from_id(group - 1).is_some()) && SLOT_MASK & (1 << slot) != 0
    }
}

/// Where `key` is (`Ok`) or belongs (`Err`) in `cells` (sorted by key), looking from `from`
/// on: a few steps forward first — the keys of one update are close together, usually in
/// the same group — then a binary search of the rest.
fn find_from(cells: &[Cell], from: usize, key: u16) -> Result<usize, usize> {
    const STEPS: usize = 8;
    let mut i = from.min(cells.len());
    let near = (i + STEPS).min(cells.len());
    while i < near {
        match cells[i].key.cmp(&key) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Equal => return Ok(i),
            std::cmp::Ordering::Greater => return Err(i),
        }
    }
    match cells[i..].binary_search_by_key(&key, |c| c.key) {
        Ok(j) => Ok(i + j),
        Err(j) => Err(i + j),
    }
}

/// Adds `v` to counter `key` of a dense aggregate, keeping its count of non-zero counters.
fn add_dense(values: &mut [i32], nonzero: &mut usize, key: u16, v: i32) {
    let slot = &mut values[dense_index(key)];
    let was = *slot;
    *slot = was.checked_add(v).expect("a counter fits in i32");
    match (was == 0, *slot == 0) {
        (true, false) => *nonzero += 1,
        (false, true) => *nonzero -= 1,
        _ => {}
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
                add_dense(values, nonzero, key, v);
                from
            }
            Repr::Sparse(cells) => match find_from(cells, from, key) {
                Ok(i) => {
                    let c = &mut cells[i];
                    c.value = c.value.checked_add(v).expect("a counter fits in i32");
                    if c.value == 0 {
                        cells.remove(i);
                    }
                    i
                }
                Err(i) => {
                    cells.insert(i, Cell { key, value: v });
                    if cells.len() >= DENSE_FROM {
                        self.densify();
                    }
                    i
                }
            },
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

    /// Adds a delta times `sign` to the totals and to each of `dims` (fastest in increasing id
    /// order, as a case's dimensions usually are).
    pub fn add(&mut self, delta: &Delta, dims: &[Dim], sign: i64) {
        let mut at = 0;
        for (slot, v) in delta.iter() {
            at = self.add_key(u16::from(slot), sign * v, at);
        }
        let mut last_base = 0;
        for d in dims {
            let base = (1 + d.id()) * GROUP_SLOTS;
            if base < last_base {
                at = 0;
            }
            last_base = base;
            for (slot, v) in delta.iter() {
                at = self.add_key(base + u16::from(slot), sign * v, at);
            }
        }
    }

    /// Counts one resolution duration in the histogram, `sign` times (−1 takes it back, when
    /// a correction moves a case's resolutions elsewhere).
    pub fn add_ttr(&mut self, level: Level, ms: i64, sign: i64) {
        self.add_key(
            TTR_BASE + u16::from(level.rank()) * 128 + u16::from(ttr_bucket(ms)),
            sign,
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

    /// Calls `f` with each non-zero counter's key and value, in key order. (Not through
    /// [`Cells::iter`], one dynamic call per counter: a snapshot encodes millions.)
    fn for_each_counter(&self, mut f: impl FnMut(u16, i32)) {
        match &self.repr {
            Repr::Sparse(cells) => cells.iter().for_each(|c| f(c.key, c.value)),
            Repr::Dense { values, .. } => {
                // Mostly zeros: skip a run of 16 at a time (one vector compare).
                const RUN: usize = 16;
                for (r, run) in values.chunks(RUN).enumerate() {
                    if run.iter().all(|&v| v == 0) {
                        continue;
                    }
                    for (j, &v) in run.iter().enumerate() {
                        if v != 0 {
                            f(dense_key(r * RUN + j), v);
                        }
                    }
                }
            }
        }
    }

    /// Adds every counter of `other` (summing aggregates: a region's days into its month).
    pub fn add_cells(&mut self, other: &Cells) {
        match &other.repr {
            Repr::Sparse(theirs) => match &mut self.repr {
                // Into dense: an index per counter.
                Repr::Dense { values, nonzero } => {
                    for c in theirs {
                        add_dense(values, nonzero, c.key, c.value);
                    }
                }
                Repr::Sparse(_) => {
                    let mut at = 0;
                    for c in theirs {
                        at = self.add_key(c.key, i64::from(c.value), at);
                    }
                }
            },
            // Dense into dense: one pass over both arrays.
            Repr::Dense { values: theirs, .. } => {
                if matches!(self.repr, Repr::Sparse(_)) {
                    self.densify();
                }
                let Repr::Dense { values, nonzero } = &mut self.repr else {
                    unreachable!("densified above")
                };
                for (v, t) in values.iter_mut().zip(theirs.iter()) {
                    *v = v.checked_add(*t).expect("a counter fits in i32");
                }
                *nonzero = values.iter().filter(|&&v| v != 0).count();
            }
        }
    }

    /// Appends the storage encoding: per counter its key (u16) and value (i32), little-endian.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        self.for_each_counter(|key, value| {
            let mut counter = [0u8; 6];
            counter[..2].copy_from_slice(&key.to_le_bytes());
            counter[2..].copy_from_slice(&value.to_le_bytes());
            out.extend_from_slice(&counter);
        });
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
        let (group, slot) = (key / GROUP_SLOTS, (key % GROUP_SLOTS) as u8);
        let counts = match group.checked_sub(1) {
            None => &mut self.total,
            Some(d) => match Dim::from_id(d) {
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
        for &(i, _) in SLOT_IDS {
            let mut c = Counts::default();
            *c.slot_mut(i) = 7;
            // Exactly one field changed, and no other slot aliases it.
            for &(j, _) in SLOT_IDS {
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
        // And every field of `Counts` has a slot: numbered 1, 2, 3… through the slots, the
        // serialized counters are exactly those numbers.
        let mut all = Counts::default();
        for (n, &(id, _)) in SLOT_IDS.iter().enumerate() {
            *all.slot_mut(id) = n as i64 + 1;
        }
        fn numbers(v: &serde_json::Value, out: &mut Vec<i64>) {
            match v {
                serde_json::Value::Number(n) => out.push(n.as_i64().unwrap()),
                serde_json::Value::Array(a) => a.iter().for_each(|v| numbers(v, out)),
                serde_json::Value::Object(o) => o.values().for_each(|v| numbers(v, out)),
                other => panic!("a counter that is not a number: {other}"),
            }
        }
        let mut got = Vec::new();
        numbers(&serde_json::to_value(&all).unwrap(), &mut got);
        got.sort_unstable();
        assert_eq!(got, (1..=SLOTS as i64).collect::<Vec<_>>());
    }

    /// The ids released so far. Snapshots on disk hold counters under these ids: each must
    /// keep naming the same counter or value. Append new ones; never edit or delete a line (a
    /// value taken out of the vocabulary moves to `RETIRED`, so its id is never reused).
    const RELEASED_SLOTS: &[(u8, &str)] = &[
        (0, "registered"),
        (1, "referred_out"),
        (2, "rejected"),
        (3, "merged"),
        (4, "reported"),
        (5, "registrations"),
        (6, "escalated"),
        (7, "delegated"),
        (8, "referred"),
        (9, "mediations_concluded"),
        (10, "mediation_agreements"),
        (11, "resolved"),
        (12, "resolved_on_time"),
        (13, "reworked"),
        (14, "extended"),
        (15, "reopened"),
        (16, "closed"),
        (17, "supervised"),
        (18, "feedback"),
        (19, "feedback_positive"),
        (20, "resolved_at[0]"),
        (21, "resolved_at[1]"),
        (22, "resolved_at[2]"),
        (23, "resolved_at[3]"),
        (24, "resolved_at[4]"),
        (25, "resolved_by_level[0]"),
        (26, "resolved_by_level[1]"),
        (27, "resolved_by_level[2]"),
        (28, "resolved_by_level[3]"),
        (29, "resolved_by_level[4]"),
        (30, "cases_escalated"),
        (31, "cases_extended"),
        (32, "cases_reopened"),
        (33, "cases_closed"),
        (34, "taken_over"),
    ];

    /// See [`RELEASED_SLOTS`].
    const RELEASED_DIMS: &[(u16, &str)] = &[
        (0, "category/marriage_family"),
        (1, "category/neighbours"),
        (2, "category/housing_homestead"),
        (3, "category/contract"),
        (4, "category/business"),
        (5, "category/damages"),
        (6, "category/forest_land"),
        (7, "category/requisition"),
        (8, "category/pollution"),
        (9, "category/labour"),
        (10, "category/consumer"),
        (11, "category/medical"),
        (12, "category/traffic_accident"),
        (13, "category/property_management"),
        (14, "category/other"),
        (15, "source/grid_patrol"),
        (16, "source/citizen_app"),
        (17, "source/hotline_12345"),
        (18, "source/police_110"),
        (19, "source/petition"),
        (20, "source/court"),
        (21, "source/department"),
        (22, "source/higher_level"),
        (23, "source/video"),
        (24, "kind/dispute"),
        (25, "kind/incident"),
        (26, "kind/request"),
    ];

    /// Dimension ids taken out of use: reserved forever.
    const RETIRED_DIMS: &[(u16, &str)] = &[];

    #[test]
    fn released_ids_are_pinned() {
        for &(id, name) in RELEASED_SLOTS {
            assert_eq!(
                SLOT_IDS.iter().find(|(i, _)| *i == id).map(|(_, n)| *n),
                Some(name),
                "slot id {id} must keep naming {name}: append new counters at the end"
            );
        }
        let dims: Vec<(u16, String)> = DIM_IDS
            .iter()
            .map(|(id, d)| (*id, format!("{}/{}", d.dimension(), d.value())))
            .collect();
        for &(id, name) in RELEASED_DIMS {
            assert!(
                dims.contains(&(id, name.to_owned())) || RETIRED_DIMS.contains(&(id, name)),
                "dimension id {id} must keep naming {name}: append new values at the end"
            );
        }
        for (id, name) in &dims {
            assert!(
                !RETIRED_DIMS.iter().any(|(r, _)| r == id),
                "{name} reuses the retired dimension id {id}"
            );
        }
    }

    #[test]
    fn every_vocabulary_value_has_one_id() {
        let values: Vec<Dim> = (Category::ALL.iter().map(|c| Dim::Category(*c)))
            .chain(Source::ALL.iter().map(|s| Dim::Source(*s)))
            .chain(CaseKind::ALL.iter().map(|k| Dim::Kind(*k)))
            .collect();
        assert_eq!(DIM_IDS.len(), values.len());
        for d in values {
            assert_eq!(Dim::from_id(d.id()), Some(d));
            assert_eq!(DIM_IDS.iter().filter(|(_, x)| *x == d).count(), 1, "{d:?}");
        }
        for &(id, d) in DIM_IDS {
            assert_eq!(d.id(), id);
        }
    }

    /// The fingerprint snapshots are checked against. It changes when the layout does (a slot
    /// or dimension value appended, the histogram changed, a case view field added): then
    /// update it here, and every
    /// snapshot is rebuilt once from the log. It must not change otherwise (it is hashed from
    /// fixed text, not from anything a compiler or platform could vary).
    #[test]
    fn the_layout_fingerprint_is_pinned() {
        assert_eq!(
            layout_fingerprint(),
            "40955775b2a439059880bdfbefdad32bb8e602c3c08fd93fce632af6d5b5395b",
            "the counter layout changed:\n{}",
            layout_description()
        );
        // The histogram's buckets are part of the layout: changing them changes the text above.
        let h = 3_600_000;
        assert_eq!(
            [0, h, 24 * h, 720 * h, i64::MAX].map(ttr_bucket),
            [0, 7, 33, 69, 119]
        );
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

    fn delta_of(slot: u8, v: i64) -> Delta {
        let mut c = Counts::default();
        *c.slot_mut(slot) = v;
        c.delta()
    }

    fn any_slot() -> impl Strategy<Value = u8> {
        proptest::sample::select(SLOT_IDS.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    }

    fn any_dim() -> impl Strategy<Value = Dim> {
        proptest::sample::select(DIM_IDS.iter().map(|(_, d)| *d).collect::<Vec<_>>())
    }

    proptest! {
        /// Cells hold exactly the non-zero sums of what was added, in key order, in either
        /// form (sparse or dense), and survive encoding; dimensions come in any order.
        #[test]
        fn cells_match_a_plain_map(ops in proptest::collection::vec(
            (any_slot(), any_dim(), any_dim(), -3i64..4, any::<bool>(), 1u8..=5, 0i64..5_000_000_000),
            0..400,
        )) {
            let mut cells = Cells::default();
            let mut model: BTreeMap<u16, i64> = BTreeMap::new();
            for (slot, d1, d2, v, ttr, rank, ms) in ops {
                cells.add(&delta_of(slot, v), &[d1, d2], 1);
                for g in [0, 1 + d1.id(), 1 + d2.id()] {
                    *model.entry(g * GROUP_SLOTS + u16::from(slot)).or_default() += v;
                }
                if ttr {
                    let level = Level::from_rank(rank).unwrap();
                    cells.add_ttr(level, ms, 1);
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

        /// Adding one aggregate's counters to another gives the counter-by-counter sums, in
        /// every pairing of the two forms (sparse or dense), zeros dropped.
        #[test]
        fn added_cells_are_the_sums(
            a in proptest::collection::vec((any_slot(), any_dim(), -3i64..4), 0..300),
            b in proptest::collection::vec((any_slot(), any_dim(), -3i64..4), 0..300),
            negate_b in any::<bool>(),
        ) {
            let fill = |ops: &[(u8, Dim, i64)], sign: i64| {
                let mut cells = Cells::default();
                for &(slot, d, v) in ops {
                    cells.add(&delta_of(slot, v), &[d], sign);
                }
                cells
            };
            let (x, y) = (fill(&a, 1), fill(&b, if negate_b { -1 } else { 1 }));
            let mut model: BTreeMap<u16, i64> = BTreeMap::new();
            for c in x.iter().chain(y.iter()) {
                *model.entry(c.key).or_default() += i64::from(c.value);
            }
            model.retain(|_, v| *v != 0);
            let want: Vec<(u16, i64)> = model.into_iter().collect();
            let mut sum = x.clone();
            sum.add_cells(&y);
            let got: Vec<(u16, i64)> = sum.iter().map(|c| (c.key, i64::from(c.value))).collect();
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(sum.len(), want.len());
            // x - x is nothing, whatever its form.
            let mut none = x.clone();
            none.add_cells(&fill(&a, -1));
            prop_assert!(none.is_empty());
        }
    }

    #[test]
    fn malformed_cells_are_refused() {
        let mut ok = Vec::new();
        let mut c = Cells::default();
        c.add(&delta_of(0, 1), &[Dim::from_id(0).unwrap()], 1);
        c.encode_into(&mut ok);
        assert!(Cells::decode(&ok).is_ok());
        assert!(Cells::decode(&ok[..ok.len() - 1]).is_err(), "truncated");
        let mut swapped = ok[6..].to_vec();
        swapped.extend_from_slice(&ok[..6]);
        assert!(Cells::decode(&swapped).is_err(), "out of order");
        let mut zero = ok.clone();
        zero[2..6].copy_from_slice(&0i32.to_le_bytes());
        assert!(Cells::decode(&zero).is_err(), "zero value");
        for key in [0x7fff, 35, 63, GROUP_SLOTS * (1 + Dim::ID_END)] {
            let mut unknown = ok.clone();
            unknown[..2].copy_from_slice(&u16::to_le_bytes(key));
            assert!(Cells::decode(&unknown).is_err(), "unknown key {key}");
        }
    }
}
