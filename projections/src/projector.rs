//! The in-memory projection: case views, the queue index and the aggregates.
//!
//! [`Projector::apply`] folds one commit. It is deterministic: the same commits in the same
//! order always give the same state, which is what makes rebuilds byte-identical.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use gridcase_bus::{Committed, Position};
use gridcase_domain::{
    CaseId, CaseState, Event, EventHeader, Level, MediationOutcome, RegionCode, Status, TextOpener,
    Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::aggregates::{Aggregates, Deferred};
use crate::calendar::{Calendar, Day, Month};
use crate::counts::{Cells, Counts, Delta, Dim};
use crate::search::{IndexKeys, Indexes};
use crate::ProjectionError;

/// Where a case stands in its registration cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Reported, not yet registered: in no cohort yet.
    Pending,
    /// Not registered (不予立案).
    Rejected,
    /// Registered and still being handled.
    Open,
    /// The resolution in force is at this level.
    ResolvedAt(Level),
    /// Referred out and not returned.
    ReferredOut,
    /// Registered, then merged into another case as a duplicate.
    Merged,
}

impl Outcome {
    fn of(s: &CaseState) -> Outcome {
        match s.status {
            Status::New | Status::Reported => Outcome::Pending,
            Status::Rejected => Outcome::Rejected,
            // A duplicate merged before registration never entered a cohort.
            Status::Merged if s.registered_at.is_none() => Outcome::Pending,
            Status::Merged => Outcome::Merged,
            Status::Referred => Outcome::ReferredOut,
            Status::Registered | Status::Assigned => Outcome::Open,
            Status::Resolved | Status::Verified | Status::Closed => match &s.resolution {
                Some(r) => Outcome::ResolvedAt(r.level),
                None => Outcome::Open,
            },
        }
    }

    fn counts(self, flags: u8) -> Counts {
        let mut c = Counts::default();
        if self.is_registered() {
            c.cases_escalated = i64::from(flags & FLAG_ESCALATED != 0);
            c.cases_extended = i64::from(flags & FLAG_EXTENDED != 0);
            c.cases_reopened = i64::from(flags & FLAG_REOPENED != 0);
            c.cases_closed = i64::from(flags & FLAG_CLOSED != 0);
        }
        match self {
            Outcome::Pending => {}
            Outcome::Rejected => c.rejected = 1,
            Outcome::Merged => {
                c.registered = 1;
                c.merged = 1;
            }
            Outcome::Open => c.registered = 1,
            Outcome::ReferredOut => {
                c.registered = 1;
                c.referred_out = 1;
            }
            Outcome::ResolvedAt(l) => {
                c.registered = 1;
                c.resolved_at[l.rank() as usize - 1] = 1;
            }
        }
        c
    }
}

impl Outcome {
    /// Whether the case is in its registration cohort (registered, whatever became of it).
    pub fn is_registered(self) -> bool {
        !matches!(self, Outcome::Pending | Outcome::Rejected)
    }
}

/// [`CohortMark::flags`]: escalated at least once (上交).
pub const FLAG_ESCALATED: u8 = 1;
/// [`CohortMark::flags`]: a deadline extension approved at least once (延期).
pub const FLAG_EXTENDED: u8 = 2;
/// [`CohortMark::flags`]: reopened at least once.
pub const FLAG_REOPENED: u8 = 4;
/// [`CohortMark::flags`]: closed at least once (a reopened case was closed before).
pub const FLAG_CLOSED: u8 = 8;

fn case_flags(s: &CaseState) -> u8 {
    let mut f = 0;
    if s.escalations > 0 {
        f |= FLAG_ESCALATED;
    }
    if s.extensions > 0 {
        f |= FLAG_EXTENDED;
    }
    if s.reopens > 0 {
        f |= FLAG_REOPENED;
    }
    if s.closed_at.is_some() || s.reopens > 0 {
        f |= FLAG_CLOSED;
    }
    f
}

/// A case's place in the cohort aggregates, kept so it can be moved when the outcome changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohortMark {
    /// Registration day (report day if never registered).
    pub day: Day,
    /// The case's location.
    pub location: RegionCode,
    /// Category, source, kind.
    pub dims: [Dim; 3],
    /// The outcome counted.
    pub outcome: Outcome,
    /// What the case went through, counted per case rather than per event: the
    /// `FLAG_*` bits (escalated, extended, reopened, closed at least once).
    pub flags: u8,
}

impl CohortMark {
    fn counts(&self) -> Counts {
        self.outcome.counts(self.flags)
    }
}

/// One event's activity counters, kept with the case so that a correction of its location,
/// category, source or kind can move them (DOMAIN.md: every figure uses the details as
/// corrected). Every activity counter of one event is 0 or 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acted {
    /// The local day the event happened.
    pub day: Day,
    /// Bit `id` set: counter slot `id` counted 1.
    pub slots: u64,
    /// A resolution's level and time since registration (ms), for the histogram.
    pub ttr: Option<(Level, i64)>,
}

impl Acted {
    fn counts(&self) -> Counts {
        Counts::from_slot_mask(self.slots)
    }
}

/// The projected view of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEntry {
    /// The folded state.
    pub state: CaseState,
    /// Position of the last commit applied.
    pub position: Position,
    /// When the last event was recorded.
    pub updated_at: Timestamp,
    /// The cohort the case is counted in.
    pub cohort: Option<CohortMark>,
    /// The activity counted for the case, event by event, where its details put it.
    pub acted: Vec<Acted>,
}

/// A time bucket of the aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Bucket {
    /// A local month.
    Month(Month),
    /// A local day.
    Day(Day),
}

/// Whether regions of this level keep month aggregates. Townships and above do (a city's
/// year is twelve lookups); a village's or grid's month is summed from its few small days at
/// query time, which spares two of every ten aggregate updates a commit makes.
pub fn has_month_buckets(level: Level) -> bool {
    level.rank() >= Level::Township.rank()
}

/// An aggregate's key: a region and a bucket.
pub type AggKey = (RegionCode, Bucket);

/// An open case in the queue index: holder, deadline, case.
pub type QueueKey = (RegionCode, i64, CaseId);

/// An open case in the deadline index: deadline (ms), case.
pub type DeadlineKey = (i64, CaseId);

/// Hash maps of the projection: foldhash (fast, seeded per process; case ids come from
/// clients, so the hasher must not be predictable).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What one commit changes in the counters of one (location, day, dimensions): activity and
/// cohort moves that land on the same day are summed first, so the ten aggregates above the
/// location are visited once.
#[derive(Debug, Clone)]
struct Change {
    location: RegionCode,
    day: Day,
    dims: [Dim; 3],
    counts: Counts,
    /// A resolution duration added (sign 1) or taken back (sign −1).
    ttr: Option<(Level, i64, i64)>,
}

/// The lookups derived from the case views, built apart ([`Projector::derive_lookups`]).
pub(crate) struct DerivedLookups {
    queue: BTreeSet<QueueKey>,
    deadlines: BTreeSet<DeadlineKey>,
    index: Indexes,
}

/// The aggregate changes of commits applied while the aggregates are kept by an
/// [`AggregateWorker`] ([`Projector::stage_aggregates`]), in the order they were applied.
#[derive(Debug, Clone, Default)]
pub(crate) struct StagedChanges {
    changes: Vec<Change>,
    units: Vec<(RegionCode, Day, u64)>,
}

/// A projector's two aggregates, taken out to be kept up to date on a thread of their own
/// while a long catch-up applies the case views on another ([`Projector::stage_aggregates`]):
/// the counters' updates are about half of what applying a commit costs. The changes it is
/// handed are counted below the regions that keep months and rolled up when it is done
/// ([`Deferred`]).
#[derive(Debug, Default)]
pub(crate) struct AggregateWorker {
    aggregates: Aggregates,
    unit_aggregates: Aggregates,
    /// The changes handed so far, not yet rolled up into `aggregates`.
    pending: Deferred,
    /// The same for `unit_aggregates`.
    pending_units: Deferred,
}

impl AggregateWorker {
    /// Adds staged changes, to the same counters as the projector would have added them to
    /// commit by commit once [`AggregateWorker::into_aggregates`] has rolled them up.
    pub(crate) fn apply(&mut self, staged: &StagedChanges) {
        for ch in &staged.changes {
            if let Some(delta) = counted(ch) {
                self.pending
                    .add(ch.location, ch.day, |cells| count(cells, ch, &delta));
            }
        }
        for &(unit, day, slots) in &staged.units {
            if let Some(delta) = unit_counted(slots) {
                self.pending_units
                    .add(unit, day, |cells| cells.add(&delta, &[], 1));
            }
        }
    }

    /// Rolls the changes handed so far up into the aggregates (see [`Deferred`]); done on
    /// the worker's thread once it has been handed everything.
    pub(crate) fn roll_up(&mut self) {
        std::mem::take(&mut self.pending).roll_into(&mut self.aggregates);
        std::mem::take(&mut self.pending_units).roll_into(&mut self.unit_aggregates);
    }

    /// The aggregates with every change handed rolled up: (aggregates, unit aggregates).
    fn into_aggregates(mut self) -> (Aggregates, Aggregates) {
        self.roll_up();
        (self.aggregates, self.unit_aggregates)
    }
}

/// The change of counters `ch` makes, if it makes one.
fn counted(ch: &Change) -> Option<Delta> {
    let delta = ch.counts.delta();
    (!delta.is_empty() || ch.ttr.is_some()).then_some(delta)
}

/// The change of an acting unit's activity counters one event's slots make, if any.
fn unit_counted(slots: u64) -> Option<Delta> {
    let delta = Counts::from_slot_mask(slots).delta();
    (!delta.is_empty()).then_some(delta)
}

/// Adds `ch` (whose counters change by `delta`) to one region's counters of one bucket.
fn count(cells: &mut Cells, ch: &Change, delta: &Delta) {
    cells.add(delta, &ch.dims, 1);
    if let Some((level, ms, sign)) = ch.ttr {
        cells.add_ttr(level, ms, sign);
    }
}

/// Adds one change to the day and month aggregates of its location and every region above.
fn add_everywhere(aggregates: &mut Aggregates, ch: &Change) {
    let Some(delta) = counted(ch) else {
        return;
    };
    aggregates.roll_up(ch.location, ch.day, |regions, region| {
        let cells = regions.entry(region).or_default();
        count(cells, ch, &delta);
        if cells.is_empty() {
            regions.remove(&region);
        }
    });
}

/// Adds one event's activity (its [`Counts::slot_mask`]) to the acting unit's day and month
/// aggregates and its ancestors'.
fn add_unit_activity(unit_aggregates: &mut Aggregates, unit: RegionCode, day: Day, slots: u64) {
    let Some(delta) = unit_counted(slots) else {
        return;
    };
    unit_aggregates.roll_up(unit, day, |regions, region| {
        regions.entry(region).or_default().add(&delta, &[], 1);
    });
}

/// Case views, queue index and aggregates.
#[derive(Debug, Clone)]
pub struct Projector {
    pub(crate) calendar: Calendar,
    pub(crate) cases: FastMap<CaseId, CaseEntry>,
    pub(crate) aggregates: Aggregates,
    /// Activity by the unit that acted (the acting actor's unit, rolled up to its ancestors),
    /// totals only: a correction of a case's location or category never moves it.
    pub(crate) unit_aggregates: Aggregates,
    pub(crate) queue: BTreeSet<QueueKey>,
    /// Open cases (registered, not resolved, referred or merged) by deadline: the overdue
    /// ones at any time T are a prefix. Derived from the case views (never persisted).
    pub(crate) deadlines: BTreeSet<DeadlineKey>,
    /// Search indexes, derived from the case views (never persisted).
    pub(crate) index: Indexes,
    pub(crate) checkpoint: Position,
    /// Reused per commit (no allocation per commit).
    changes: Vec<Change>,
    /// Activity by acting unit of the commit being applied: (unit, day, slot mask); reused.
    unit_changes: Vec<(RegionCode, Day, u64)>,
    /// While the aggregates are kept on another thread ([`Projector::stage_aggregates`]): the
    /// changes of the commits applied since they were last taken.
    staged: Option<StagedChanges>,
    /// Whether the lookups derived from the case views (`queue`, `deadlines`, `index`) follow
    /// every commit, or wait to be rebuilt once from the views ([`Projector::defer_lookups`]).
    lookups: Lookups,
    /// Opens sealed summaries for the text index ([`Projector::set_text_opener`]).
    pub(crate) opener: Option<Arc<dyn TextOpener>>,
}

fn dims(s: &CaseState) -> Option<(RegionCode, [Dim; 3])> {
    let d = s.details.as_ref()?;
    Some((
        d.location,
        [
            Dim::Category(d.category),
            Dim::Source(d.source),
            Dim::Kind(d.kind),
        ],
    ))
}

/// Whether the derived lookups follow every commit (see [`Projector::defer_lookups`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookups {
    Current,
    Deferred,
}

/// A case's keys in the lookups derived from its view: compared before and after a commit.
struct LookupKeys {
    queue: Option<QueueKey>,
    deadline: Option<DeadlineKey>,
    index: IndexKeys,
}

impl LookupKeys {
    fn of(s: &CaseState) -> LookupKeys {
        LookupKeys {
            queue: queue_key(s),
            deadline: deadline_key(s),
            index: IndexKeys::of(s),
        }
    }
}

/// Moves one case's entry in a set from its `old` key to its `new` one.
fn replace_key<K: Ord>(set: &mut BTreeSet<K>, old: Option<K>, new: Option<K>) {
    if old != new {
        if let Some(k) = old {
            set.remove(&k);
        }
        if let Some(k) = new {
            set.insert(k);
        }
    }
}

fn queue_key(s: &CaseState) -> Option<QueueKey> {
    if !s.status.is_open() {
        return None;
    }
    Some((
        s.holder?,
        s.deadline.map_or(i64::MAX, |d| d.as_millis()),
        s.id.clone()?,
    ))
}

fn deadline_key(s: &CaseState) -> Option<DeadlineKey> {
    if Outcome::of(s) != Outcome::Open {
        return None;
    }
    Some((s.deadline?.as_millis(), s.id.clone()?))
}

impl Change {
    fn of(m: &CohortMark, counts: Counts) -> Change {
        Change {
            location: m.location,
            day: m.day,
            dims: m.dims,
            counts,
            ttr: None,
        }
    }

    fn at(place: (RegionCode, [Dim; 3]), day: Day, counts: Counts) -> Change {
        Change {
            location: place.0,
            day,
            dims: place.1,
            counts,
            ttr: None,
        }
    }
}

/// Moves a case's activity from one place (location and dimensions) to another: what a
/// correction of those details does to the figures.
fn move_activity(
    changes: &mut Vec<Change>,
    acted: &[Acted],
    from: (RegionCode, [Dim; 3]),
    to: (RegionCode, [Dim; 3]),
) {
    for a in acted {
        let counts = a.counts();
        let mut minus = Counts::default();
        minus.add(&counts, -1);
        let mut out = Change::at(from, a.day, minus);
        let mut into = Change::at(to, a.day, counts);
        if let Some((level, ms)) = a.ttr {
            out.ttr = Some((level, ms, -1));
            into.ttr = Some((level, ms, 1));
        }
        push_change(changes, out);
        push_change(changes, into);
    }
}

/// Adds a change to the commit's list, summed into one for the same place and day.
fn push_change(changes: &mut Vec<Change>, ch: Change) {
    let same = changes.iter_mut().find(|c| {
        (c.location, c.day, c.dims) == (ch.location, ch.day, ch.dims)
            && (c.ttr.is_none() || ch.ttr.is_none())
    });
    match same {
        Some(c) => {
            c.counts.add(&ch.counts, 1);
            c.ttr = c.ttr.or(ch.ttr);
        }
        None => changes.push(ch),
    }
}

fn cohort_mark(calendar: &Calendar, s: &CaseState) -> Option<CohortMark> {
    let (location, dims) = dims(s)?;
    let at = s.registered_at.or(s.reported_at)?;
    Some(CohortMark {
        day: calendar.day(at),
        location,
        dims,
        outcome: Outcome::of(s),
        flags: case_flags(s),
    })
}

/// The activity counters one event adds, on the day it happened.
fn activity(
    calendar: &Calendar,
    s: &CaseState,
    header: &EventHeader,
    event: &Event,
    registered_at: Option<Timestamp>,
) -> Option<Change> {
    let (location, dims) = dims(s)?;
    let mut c = Counts::default();
    let mut ttr = None;
    match event {
        Event::CaseReported(_) => c.reported = 1,
        Event::CaseRegistered(_) => c.registrations = 1,
        Event::CaseEscalated(_) => c.escalated = 1,
        Event::CaseDelegated(_) => c.delegated = 1,
        Event::CaseTakenOver(_) => c.taken_over = 1,
        Event::CaseReferred(_) => c.referred = 1,
        Event::MediationConcluded(e) => {
            c.mediations_concluded = 1;
            c.mediation_agreements = i64::from(e.outcome == MediationOutcome::Agreement);
        }
        Event::CaseResolved(e) => {
            c.resolved = 1;
            c.resolved_on_time = i64::from(e.on_time);
            c.resolved_by_level[e.level.rank() as usize - 1] = 1;
            if let Some(reg) = registered_at {
                ttr = Some((e.level, header.occurred_at.as_millis() - reg.as_millis(), 1));
            }
        }
        Event::ResolutionRejected(_) => c.reworked = 1,
        Event::DeadlineExtended(_) => c.extended = 1,
        Event::CaseReopened(_) => c.reopened = 1,
        Event::CaseClosed(_) => c.closed = 1,
        Event::SupervisionIssued(_) => c.supervised = 1,
        Event::FeedbackRecorded(e) => {
            c.feedback = 1;
            c.feedback_positive = i64::from(e.satisfaction.is_positive());
        }
        _ => return None,
    }
    Some(Change {
        location,
        day: calendar.day(header.occurred_at),
        dims,
        counts: c,
        ttr,
    })
}

impl Projector {
    /// An empty projection bucketing days in `calendar`.
    pub fn new(calendar: Calendar) -> Projector {
        Projector {
            calendar,
            cases: FastMap::default(),
            aggregates: Aggregates::default(),
            unit_aggregates: Aggregates::default(),
            queue: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            index: Indexes::default(),
            checkpoint: Position::ZERO,
            changes: Vec::new(),
            unit_changes: Vec::new(),
            staged: None,
            lookups: Lookups::Current,
            opener: None,
        }
    }

    /// Stops keeping the work queues, the deadline index and the search indexes up to date
    /// commit by commit, until [`Projector::set_lookups`]: for replays of many commits
    /// (a rebuild, a long catch-up, an as-of replay), where one pass over the final case views
    /// costs less than following each case through every change of its keys. Until then
    /// those lookups are empty: nothing may read them.
    pub(crate) fn defer_lookups(&mut self) {
        self.lookups = Lookups::Deferred;
        self.queue.clear();
        self.deadlines.clear();
        self.index = Indexes::default();
    }

    /// Whether the lookups wait to be rebuilt ([`Projector::defer_lookups`]).
    pub(crate) fn lookups_deferred(&self) -> bool {
        self.lookups == Lookups::Deferred
    }

    /// Builds the work queues, the deadline index and the search indexes from the case views,
    /// reading only: the projector can be read (a snapshot saved) meanwhile.
    pub(crate) fn derive_lookups(&self) -> DerivedLookups {
        DerivedLookups {
            queue: self
                .cases
                .values()
                .filter_map(|e| queue_key(&e.state))
                .collect(),
            deadlines: self
                .cases
                .values()
                .filter_map(|e| deadline_key(&e.state))
                .collect(),
            index: self.indexes_of_views(),
        }
    }

    /// Puts lookups built by [`Projector::derive_lookups`] in place, and follows every commit
    /// again.
    pub(crate) fn set_lookups(&mut self, derived: DerivedLookups) {
        self.queue = derived.queue;
        self.deadlines = derived.deadlines;
        self.index = derived.index;
        self.lookups = Lookups::Current;
    }

    /// Builds the work queues, the deadline index and the search indexes from the case views
    /// (after loading a snapshot, or when they were deferred).
    pub(crate) fn build_lookups(&mut self) {
        let derived = self.derive_lookups();
        self.set_lookups(derived);
    }

    /// Checks, in debug builds, that the lookups are not waiting to be rebuilt.
    pub(crate) fn debug_assert_lookups_current(&self) {
        debug_assert!(
            self.lookups == Lookups::Current,
            "the lookups were read while deferred, before they were built"
        );
    }

    /// Drops the opened summary of `case` (its key was destroyed): text queries no longer
    /// match it.
    pub fn forget_text(&mut self, case: &CaseId) {
        self.index.forget_text(case);
    }

    /// Lets the text index open sealed summaries (the vault's case keys), and indexes those
    /// already held. Without one, sealed summaries are not searchable by text.
    pub fn set_text_opener(&mut self, opener: Arc<dyn TextOpener>) {
        self.opener = Some(opener);
        // While the lookups are deferred, the indexes are built (with the opener) when they are.
        if self.lookups == Lookups::Current {
            self.index = self.indexes_of_views();
        }
    }

    /// The last position applied.
    pub fn checkpoint(&self) -> Position {
        self.checkpoint
    }

    /// The calendar.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Number of cases.
    pub fn case_count(&self) -> usize {
        self.cases.len()
    }

    /// One case's view.
    pub fn case(&self, id: &CaseId) -> Option<&CaseEntry> {
        self.cases.get(id)
    }

    /// Applies one commit. Commits at or below the checkpoint are ignored (exactly-once in
    /// effect on resume); a gap is an error.
    pub fn apply(&mut self, c: &Committed) -> Result<(), ProjectionError> {
        self.apply_decoded(c, None)
    }

    /// Decodes the bodies of a commit's events (what [`Projector::apply_decoded`] takes), so
    /// another thread can do it ahead of the projector.
    pub fn decode_bodies(c: &Committed) -> Result<Vec<Event>, ProjectionError> {
        c.events
            .iter()
            .map(|r| {
                r.decode().map_err(|source| ProjectionError::Corrupt {
                    position: c.position,
                    source,
                })
            })
            .collect()
    }

    /// [`Projector::apply`] with the bodies already decoded by [`Projector::decode_bodies`]
    /// (`None`: decode them here).
    pub fn apply_decoded(
        &mut self,
        c: &Committed,
        bodies: Option<&[Event]>,
    ) -> Result<(), ProjectionError> {
        if c.position <= self.checkpoint {
            return Ok(());
        }
        if c.position != self.checkpoint.next() {
            return Err(ProjectionError::Gap {
                expected: self.checkpoint.next(),
                got: c.position,
            });
        }
        let mut changes = std::mem::take(&mut self.changes);
        let mut unit_changes = std::mem::take(&mut self.unit_changes);
        unit_changes.clear();
        changes.clear();
        let calendar = &self.calendar;
        let entry = match self.cases.get_mut(&c.case_id) {
            Some(e) => e,
            None => self.cases.entry(c.case_id.clone()).or_insert(CaseEntry {
                state: CaseState::default(),
                position: Position::ZERO,
                updated_at: Timestamp::EPOCH,
                cohort: None,
                acted: Vec::new(),
            }),
        };
        let old_lookups = (self.lookups == Lookups::Current).then(|| LookupKeys::of(&entry.state));
        debug_assert!(
            bodies.is_none_or(|b| b.len() == c.events.len()),
            "decoded bodies do not match the commit's events"
        );
        // Bodies that do not match (a bug of the caller) are decoded again here.
        let bodies = bodies.filter(|b| b.len() == c.events.len());
        for (i, r) in c.events.iter().enumerate() {
            let decoded;
            let event = match bodies {
                Some(b) => &b[i],
                None => {
                    decoded = r.decode().map_err(|source| ProjectionError::Corrupt {
                        position: c.position,
                        source,
                    })?;
                    &decoded
                }
            };
            if r.header.case_version != entry.state.version + 1 {
                return Err(ProjectionError::VersionJump {
                    position: c.position,
                    case: c.case_id.clone(),
                    from: entry.state.version,
                    to: r.header.case_version,
                });
            }
            let registered_at = entry.state.registered_at;
            let place = dims(&entry.state);
            entry.state.apply_recorded(&r.header, event, r.hash);
            let new_place = dims(&entry.state);
            if let (Some(from), Some(to)) = (place, new_place) {
                if from != to {
                    move_activity(&mut changes, &entry.acted, from, to);
                }
            }
            if let Some(change) = activity(calendar, &entry.state, &r.header, event, registered_at)
            {
                let slots = change.counts.slot_mask();
                entry.acted.push(Acted {
                    day: change.day,
                    slots,
                    ttr: change.ttr.map(|(l, ms, _)| (l, ms)),
                });
                unit_changes.push((r.header.actor.unit(), change.day, slots));
                push_change(&mut changes, change);
            }
            entry.updated_at = r.header.recorded_at;
        }
        entry.position = c.position;
        let new_mark = cohort_mark(calendar, &entry.state);
        if new_mark != entry.cohort {
            match (entry.cohort, new_mark) {
                // The usual move: same case, same day, only the outcome changes.
                (Some(old), Some(new))
                    if (old.day, old.location, old.dims) == (new.day, new.location, new.dims) =>
                {
                    let mut counts = new.counts();
                    counts.add(&old.counts(), -1);
                    push_change(&mut changes, Change::of(&new, counts));
                }
                (old, new) => {
                    if let Some(old) = old {
                        let mut counts = Counts::default();
                        counts.add(&old.counts(), -1);
                        push_change(&mut changes, Change::of(&old, counts));
                    }
                    if let Some(new) = new {
                        push_change(&mut changes, Change::of(&new, new.counts()));
                    }
                }
            }
            entry.cohort = new_mark;
        }
        if let Some(old) = old_lookups {
            let new = LookupKeys::of(&entry.state);
            if new.index != old.index {
                let parties = entry.state.details.as_ref().map_or(&[][..], |d| &d.parties);
                self.index.update(
                    &c.case_id,
                    &old.index,
                    &new.index,
                    parties,
                    self.opener.as_deref(),
                );
            }
            replace_key(&mut self.queue, old.queue, new.queue);
            replace_key(&mut self.deadlines, old.deadline, new.deadline);
        }
        match &mut self.staged {
            Some(staged) => {
                staged.changes.extend_from_slice(&changes);
                staged.units.extend_from_slice(&unit_changes);
            }
            None => {
                for ch in &changes {
                    add_everywhere(&mut self.aggregates, ch);
                }
                for &(unit, day, slots) in &unit_changes {
                    add_unit_activity(&mut self.unit_aggregates, unit, day, slots);
                }
            }
        }
        self.changes = changes;
        self.unit_changes = unit_changes;
        self.checkpoint = c.position;
        Ok(())
    }

    /// The counters of one region and bucket.
    pub fn aggregate(&self, region: RegionCode, bucket: Bucket) -> Option<&Cells> {
        self.debug_assert_aggregates_here();
        self.aggregates.get(region, bucket)
    }

    /// The activity of the units in `region` (by the unit that acted) in one bucket.
    pub fn unit_aggregate(&self, region: RegionCode, bucket: Bucket) -> Option<&Cells> {
        self.debug_assert_aggregates_here();
        self.unit_aggregates.get(region, bucket)
    }

    /// Takes the aggregates out, for an [`AggregateWorker`] on another thread to keep up to
    /// date while this projector applies the case views of a long catch-up: from now on each
    /// commit's aggregate changes are kept for [`Projector::take_staged`] instead of being
    /// added here. Until [`Projector::unstage_aggregates`] the aggregates here are empty:
    /// nothing may read them (or save a snapshot).
    pub(crate) fn stage_aggregates(&mut self) -> AggregateWorker {
        debug_assert!(self.staged.is_none(), "the aggregates are already staged");
        self.staged = Some(StagedChanges::default());
        AggregateWorker {
            aggregates: std::mem::take(&mut self.aggregates),
            unit_aggregates: std::mem::take(&mut self.unit_aggregates),
            ..AggregateWorker::default()
        }
    }

    /// The aggregate changes of the commits applied since the last call, for the worker.
    pub(crate) fn take_staged(&mut self) -> StagedChanges {
        self.staged.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Puts back the aggregates `worker` kept, with the changes it was not handed yet, and
    /// adds every commit's changes here again.
    pub(crate) fn unstage_aggregates(&mut self, mut worker: AggregateWorker) {
        if let Some(rest) = self.staged.take() {
            worker.apply(&rest);
        }
        (self.aggregates, self.unit_aggregates) = worker.into_aggregates();
    }

    /// Whether the aggregates are kept on another thread ([`Projector::stage_aggregates`]).
    pub(crate) fn aggregates_staged(&self) -> bool {
        self.staged.is_some()
    }

    /// Checks, in debug builds, that the aggregates are not kept on another thread.
    pub(crate) fn debug_assert_aggregates_here(&self) {
        debug_assert!(
            self.staged.is_none(),
            "the aggregates were read while kept on another thread"
        );
    }

    /// Open cases held by exactly `unit`, soonest deadline first.
    pub fn queue(&self, unit: RegionCode) -> impl Iterator<Item = &CaseEntry> + '_ {
        self.debug_assert_lookups_current();
        let lo = (unit, i64::MIN, CaseId::new("0").expect("valid"));
        self.queue
            .range(lo..)
            .take_while(move |(h, _, _)| *h == unit)
            .filter_map(|(_, _, id)| self.cases.get(id))
    }

    /// Open cases held anywhere in `region`'s subtree.
    pub fn open_in_subtree(&self, region: RegionCode) -> impl Iterator<Item = &CaseEntry> + '_ {
        self.debug_assert_lookups_current();
        let lo = (region, i64::MIN, CaseId::new("0").expect("valid"));
        self.queue
            .range(lo..)
            .take_while(move |(h, _, _)| region.contains(*h))
            .filter_map(|(_, _, id)| self.cases.get(id))
    }

    /// Open cases (registered, not resolved, referred or merged) whose deadline in force is
    /// before `t` (ms), soonest first: the overdue open cases at `t`, everywhere.
    pub fn overdue_at(&self, t: i64) -> impl Iterator<Item = &CaseEntry> + '_ {
        self.debug_assert_lookups_current();
        self.deadlines
            .iter()
            .take_while(move |(d, _)| *d < t)
            .filter_map(|(_, id)| self.cases.get(id))
    }

    /// Every case, in no particular order.
    pub fn cases(&self) -> impl Iterator<Item = &CaseEntry> + '_ {
        self.cases.values()
    }
}

/// The field names of a case view as it is stored, every nested field included, e.g.
/// `state.details.location`: part of the snapshot's layout fingerprint. Case views are stored
/// compactly (fields by position), so a field added, removed or moved anywhere in
/// [`CaseEntry`] or [`CaseState`] must force a rebuild instead of a misread. The sample below
/// names every field explicitly, so a new field fails to compile here until it is added.
pub fn case_view_shape() -> String {
    use gridcase_domain::state::{
        ActiveMediation, CaseDetails, MediationRecord, Referral, Resolution,
    };
    use gridcase_domain::*;
    let t = Timestamp::EPOCH;
    let code: RegionCode = "330802005001001".parse().expect("valid");
    let actor = ActorId::new("a").expect("valid");
    let state = CaseState {
        id: Some(CaseId::new("c").expect("valid")),
        version: 1,
        last_hash: Hash::ZERO,
        status: Status::New,
        details: Some(CaseDetails {
            kind: CaseKind::Dispute,
            category: Category::Other,
            source: Source::GridPatrol,
            severity: Severity::Normal,
            location: code,
            summary: String::new().into(),
            happened_at: t,
            parties: vec![Party {
                id: PartyId::new("p").expect("valid"),
                role: PartyRole::Applicant,
            }],
        }),
        holder: Some(code),
        handler: Some(actor.clone()),
        deadline: Some(t),
        reported_at: Some(t),
        registered_at: Some(t),
        path: vec![code],
        escalations: 0,
        delegations: 0,
        takeovers: 0,
        mediation: Some(ActiveMediation {
            mediation_type: MediationType::People,
            mediator: actor.clone(),
            organization: code,
            started_at: t,
            deadline: t,
            sessions: 0,
        }),
        mediations: vec![MediationRecord {
            mediation_type: MediationType::People,
            mediator: actor.clone(),
            organization: code,
            started_at: t,
            concluded_at: t,
            sessions: 0,
            outcome: MediationOutcome::Agreement,
        }],
        resolution: Some(Resolution {
            method: ResolutionMethod::OnTheSpot,
            level: Level::Grid,
            unit: code,
            by: actor,
            at: t,
            on_time: true,
        }),
        resolutions: 0,
        feedback: Some(Satisfaction::Satisfied),
        reworks: 0,
        reopens: 0,
        extensions: 0,
        supervisions: 0,
        referral: Some(Referral {
            target: ReferralTarget::Court,
            body: String::new(),
            at: t,
        }),
        rejected: Some(RejectReason::Duplicate),
        merged_into: Some(CaseId::new("d").expect("valid")),
        closed_at: Some(t),
        agreement_pending: false,
    };
    let entry = CaseEntry {
        state,
        position: Position::ZERO,
        updated_at: t,
        cohort: Some(CohortMark {
            day: 0,
            location: code,
            dims: [
                Dim::Category(Category::Other),
                Dim::Source(Source::GridPatrol),
                Dim::Kind(CaseKind::Dispute),
            ],
            outcome: Outcome::Open,
            flags: 0,
        }),
        acted: vec![Acted {
            day: 0,
            slots: 0,
            ttr: Some((Level::Grid, 0)),
        }],
    };
    fn walk(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let here = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    out.push(here.clone());
                    walk(v, &here, out);
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{at}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut fields = Vec::new();
    walk(
        &serde_json::to_value(&entry).expect("a case view serializes"),
        "",
        &mut fields,
    );
    fields.join(" ")
}
