//! The in-memory projection: case views, the queue index and the aggregates.
//!
//! [`Projector::apply`] folds one commit. It is deterministic: the same commits in the same
//! order always give the same state, which is what makes rebuilds byte-identical.

use std::collections::{BTreeSet, HashMap, HashSet};

use gridcase_bus::{Committed, Position};
use gridcase_domain::{
    CaseId, CaseState, Envelope, Event, Level, MediationOutcome, RegionCode, Status, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::calendar::{month_of, Calendar, Day, Month};
use crate::counts::{Aggregate, Counts, Delta, Dim};
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

    fn counts(self) -> Counts {
        let mut c = Counts::default();
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
}

/// A time bucket of the aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Bucket {
    /// A local month.
    Month(Month),
    /// A local day.
    Day(Day),
}

/// An aggregate's key: a region and a bucket.
pub type AggKey = (RegionCode, Bucket);

/// An open case in the queue index: holder, deadline, case.
pub type QueueKey = (RegionCode, i64, CaseId);

/// Case views, queue index and aggregates.
#[derive(Debug, Clone)]
pub struct Projector {
    pub(crate) calendar: Calendar,
    pub(crate) cases: HashMap<CaseId, CaseEntry>,
    pub(crate) aggregates: HashMap<AggKey, Aggregate>,
    pub(crate) queue: BTreeSet<QueueKey>,
    pub(crate) checkpoint: Position,
    pub(crate) dirty_cases: BTreeSet<CaseId>,
    pub(crate) dirty_aggs: HashSet<AggKey>,
    /// Whether changes are tracked for saving (off for throwaway as-of projections).
    pub(crate) track_dirty: bool,
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

impl Projector {
    /// An empty projection bucketing days in `calendar`.
    pub fn new(calendar: Calendar) -> Projector {
        Projector {
            calendar,
            cases: HashMap::new(),
            aggregates: HashMap::new(),
            queue: BTreeSet::new(),
            checkpoint: 0,
            dirty_cases: BTreeSet::new(),
            dirty_aggs: HashSet::new(),
            track_dirty: true,
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
        if c.position <= self.checkpoint {
            return Ok(());
        }
        if c.position != self.checkpoint + 1 {
            return Err(ProjectionError::Gap {
                expected: self.checkpoint + 1,
                got: c.position,
            });
        }
        let mut entry = self.cases.remove(&c.case_id).unwrap_or_else(|| CaseEntry {
            state: CaseState::default(),
            position: 0,
            updated_at: Timestamp::EPOCH,
            cohort: None,
        });
        let old_queue = queue_key(&entry.state);
        for r in &c.events {
            let env = Envelope::try_from(r).map_err(|e| ProjectionError::Corrupt {
                position: c.position,
                reason: e.to_string(),
            })?;
            if env.header.case_version != entry.state.version + 1 {
                return Err(ProjectionError::Corrupt {
                    position: c.position,
                    reason: format!(
                        "case {} jumps from version {} to {}",
                        c.case_id, entry.state.version, env.header.case_version
                    ),
                });
            }
            let registered_at = entry.state.registered_at;
            entry.state.apply(&env);
            self.count_activity(&entry.state, &env, registered_at);
            entry.updated_at = env.header.recorded_at;
        }
        entry.position = c.position;
        let new_mark = self.cohort_mark(&entry.state);
        if new_mark != entry.cohort {
            if let Some(old) = entry.cohort {
                self.add_cohort(&old, -1);
            }
            if let Some(new) = new_mark {
                self.add_cohort(&new, 1);
            }
            entry.cohort = new_mark;
        }
        let new_queue = queue_key(&entry.state);
        if old_queue != new_queue {
            if let Some(k) = old_queue {
                self.queue.remove(&k);
            }
            if let Some(k) = new_queue {
                self.queue.insert(k);
            }
        }
        if self.track_dirty {
            self.dirty_cases.insert(c.case_id.clone());
        }
        self.cases.insert(c.case_id.clone(), entry);
        self.checkpoint = c.position;
        Ok(())
    }

    fn cohort_mark(&self, s: &CaseState) -> Option<CohortMark> {
        let (location, dims) = dims(s)?;
        let at = s.registered_at.or(s.reported_at)?;
        Some(CohortMark {
            day: self.calendar.day(at),
            location,
            dims,
            outcome: Outcome::of(s),
        })
    }

    fn add_cohort(&mut self, m: &CohortMark, sign: i64) {
        let delta = m.outcome.counts().delta();
        if delta.is_empty() {
            return;
        }
        self.add_everywhere(m.location, m.day, &delta, &m.dims, sign, None);
    }

    fn add_everywhere(
        &mut self,
        location: RegionCode,
        day: Day,
        delta: &Delta,
        dims: &[Dim; 3],
        sign: i64,
        ttr: Option<(Level, i64)>,
    ) {
        for region in location.self_and_ancestors() {
            for bucket in [Bucket::Day(day), Bucket::Month(month_of(day))] {
                let key = (region, bucket);
                let agg = self.aggregates.entry(key).or_default();
                agg.add(delta, dims, sign);
                if let Some((level, ms)) = ttr {
                    agg.add_ttr(level, ms);
                }
                if sign < 0 && agg.is_empty() {
                    self.aggregates.remove(&key);
                }
                if self.track_dirty {
                    self.dirty_aggs.insert(key);
                }
            }
        }
    }

    fn count_activity(&mut self, s: &CaseState, env: &Envelope, registered_at: Option<Timestamp>) {
        let Some((location, dims)) = dims(s) else {
            return;
        };
        let mut c = Counts::default();
        let mut ttr = None;
        match &env.event {
            Event::CaseReported(_) => c.reported = 1,
            Event::CaseRegistered(_) => c.registrations = 1,
            Event::CaseEscalated(_) => c.escalated = 1,
            Event::CaseDelegated(_) => c.delegated = 1,
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
                    ttr = Some((
                        e.level,
                        env.header.occurred_at.as_millis() - reg.as_millis(),
                    ));
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
            _ => return,
        }
        let day = self.calendar.day(env.header.occurred_at);
        self.add_everywhere(location, day, &c.delta(), &dims, 1, ttr);
    }

    /// The aggregate of one region and bucket.
    pub fn aggregate(&self, region: RegionCode, bucket: Bucket) -> Option<&Aggregate> {
        self.aggregates.get(&(region, bucket))
    }

    /// Open cases held by exactly `unit`, soonest deadline first.
    pub fn queue(&self, unit: RegionCode) -> impl Iterator<Item = &CaseEntry> + '_ {
        let lo = (unit, i64::MIN, CaseId::new("0").expect("valid"));
        self.queue
            .range(lo..)
            .take_while(move |(h, _, _)| *h == unit)
            .filter_map(|(_, _, id)| self.cases.get(id))
    }

    /// Open cases held anywhere in `region`'s subtree.
    pub fn open_in_subtree(&self, region: RegionCode) -> impl Iterator<Item = &CaseEntry> + '_ {
        let lo = (region, i64::MIN, CaseId::new("0").expect("valid"));
        self.queue
            .range(lo..)
            .take_while(move |(h, _, _)| region.contains(*h))
            .filter_map(|(_, _, id)| self.cases.get(id))
    }

    /// Every case, in no particular order.
    pub fn cases(&self) -> impl Iterator<Item = &CaseEntry> + '_ {
        self.cases.values()
    }
}
