//! Model-based property test of the decider, the codec and `evolve` together.
//!
//! Random command sequences — from a pool of actors and actions with valid-ish parameters, most
//! steps biased toward the "next sensible" action so that runs reach deep states (mediated,
//! resolved, verified, closed, reopened, referred, merged) — are decided, accepted events are
//! sealed exactly as the bus seals them, and after every step:
//!
//! - a reported case has exactly one holder, a known region, the end of its path; it moves only
//!   up by escalation or take-over, or down by delegation;
//! - versions run 1, 2, 3… without gaps, every `prev_hash` is the previous record's hash and
//!   every record verifies;
//! - every status change follows the life cycle written out below, independently of the code;
//! - `CaseState::replay` of all envelopes equals the incrementally maintained state;
//! - every record survives `to_bytes` → `from_bytes` → `decode` as the event it was sealed from.
//!
//! Rejected commands (most random ones) are fine: they must leave nothing behind.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use gridcase_domain::event::*;
use gridcase_domain::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use support::*;

// --- the life cycle, written out independently of the code ------------------------------------

/// Every status change a case may make (from ≠ to). Staying put is always allowed.
const EDGES: &[(Status, Status)] = {
    use Status::*;
    &[
        (New, Reported),
        (Reported, Registered),
        (Reported, Rejected),
        (Reported, Merged),
        (Registered, Assigned),
        (Registered, Referred),
        (Registered, Merged),
        (Assigned, Registered), // moved up or down: the new unit dispatches again
        (Assigned, Referred),
        (Assigned, Resolved),
        (Assigned, Merged),
        (Referred, Registered), // returned
        (Resolved, Verified),
        (Resolved, Assigned), // rework
        (Resolved, Closed),   // on-the-spot at grid level
        (Verified, Closed),
        (Closed, Registered), // reopened
    ]
};

/// The status an event leads to from `from`, or `None` if the event may not happen there.
fn expected_status(from: Status, event: &Event) -> Option<Status> {
    use Status::*;
    let open = matches!(from, Reported | Registered | Assigned);
    let to = match (event.type_name(), from) {
        ("CaseReported", New) => Reported,
        ("CaseRegistered", Reported) => Registered,
        ("CaseRejected", Reported) => Rejected,
        ("CaseAssigned", Registered | Assigned) => Assigned,
        ("CaseEscalated" | "CaseTakenOver", Reported) => Reported,
        ("CaseEscalated" | "CaseDelegated" | "CaseTakenOver", Registered | Assigned) => Registered,
        ("CaseReferred", Registered | Assigned) => Referred,
        ("ReferralReturned", Referred) => Registered,
        ("MediationStarted" | "MediationSessionHeld" | "MediationConcluded", Assigned) => Assigned,
        ("CaseResolved", Assigned) => Resolved,
        ("ResolutionVerified", Resolved) => Verified,
        ("ResolutionRejected", Resolved) => Assigned,
        ("CaseClosed", Resolved | Verified) => Closed,
        ("FeedbackRecorded", Resolved | Verified | Closed) => from,
        ("CaseReopened", Closed) => Registered,
        ("DeadlineExtended" | "SupervisionIssued", _) if open => from,
        ("CaseMerged", _) if open => Merged,
        ("NoteAdded" | "EvidenceAttached" | "CaseDetailsCorrected", _) if from != New => from,
        ("PartyAdded", Reported | Registered | Assigned | Referred | Resolved | Verified) => from,
        _ => return None,
    };
    Some(to)
}

#[test]
fn the_transition_table_only_uses_the_edges() {
    // Every (status, event) pair the table allows moves along an edge or stays put.
    let statuses = Status::ALL;
    let events = sample_events();
    let mut used = BTreeSet::new();
    for from in statuses {
        for e in &events {
            if let Some(to) = expected_status(from, e) {
                assert!(
                    from == to || EDGES.contains(&(from, to)),
                    "{from} --{}--> {to}",
                    e.type_name()
                );
                if from != to {
                    used.insert((from, to));
                }
            }
        }
    }
    assert_eq!(
        used,
        EDGES.iter().copied().collect(),
        "every edge is reachable by some event"
    );
}

/// One event of every type (contents irrelevant to the status table).
fn sample_events() -> Vec<Event> {
    let gw = grid_worker(grid1());
    let t = t0();
    vec![
        report(grid1()).event(grid1()),
        registered(grid1()),
        CaseRejected {
            reason: RejectReason::Invalid,
            note: String::new().into(),
        }
        .into(),
        assigned(grid1(), &gw, t),
        escalated(grid1(), village1(), t),
        delegated(village1(), grid1(), t),
        CaseReferred {
            target: ReferralTarget::Court,
            body: "b".into(),
            reason: "r".into(),
        }
        .into(),
        ReferralReturned {
            unit: grid1(),
            reason: "r".into(),
            deadline: t,
        }
        .into(),
        mediation_started(&mediator(town1()), town1()),
        MediationSessionHeld {
            session: 1,
            summary: "s".into(),
        }
        .into(),
        mediation_concluded(MediationOutcome::Agreement),
        resolved(grid1(), &gw, ResolutionMethod::OnTheSpot),
        verified(),
        ResolutionRejected {
            reason: "r".into(),
            deadline: t,
        }
        .into(),
        closed(false),
        feedback(),
        CaseReopened {
            reason: ReopenReason::NewFacts,
            note: String::new().into(),
            unit: grid1(),
            deadline: t,
        }
        .into(),
        DeadlineExtended {
            previous: t,
            deadline: t.plus_days(1),
            reason: "r".into(),
        }
        .into(),
        SupervisionIssued {
            by_unit: town1(),
            overdue: false,
            note: "n".into(),
        }
        .into(),
        NoteAdded { text: "n".into() }.into(),
        EvidenceAttached {
            content_hash: Hash::of(b"x"),
            media_type: "image/png".into(),
            description: String::new().into(),
        }
        .into(),
        CaseMerged {
            into: CaseId::new("c2").unwrap(),
            reason: "r".into(),
        }
        .into(),
        CaseDetailsCorrected {
            kind: None,
            category: Some(Category::Other),
            source: None,
            severity: None,
            location: None,
            summary: None,
            reason: "r".into(),
        }
        .into(),
        taken_over(grid1(), town1(), t),
    ]
}

// --- the model ---------------------------------------------------------------------------------

/// One case's log, driven command by command, checking every invariant on the way.
struct Model {
    policy: Policy,
    log: History,
    now: Timestamp,
    statuses: BTreeSet<Status>,
    event_types: BTreeSet<&'static str>,
    rejections: BTreeMap<&'static str, usize>,
}

impl Model {
    fn new(on_the_spot_close_at_grid: bool) -> Model {
        Model {
            policy: Policy {
                on_the_spot_close_at_grid,
                ..Policy::default()
            },
            log: History::default(),
            now: t0(),
            statuses: [Status::New].into(),
            event_types: BTreeSet::new(),
            rejections: BTreeMap::new(),
        }
    }

    fn state(&self) -> &CaseState {
        &self.log.state
    }

    /// Decides `cmd`; on acceptance seals, checks and folds the events.
    fn apply(&mut self, cmd: &Command) -> Result<(), Rejection> {
        let ctx = Context {
            regions: regions(),
            policy: &self.policy,
            now: cmd.occurred_at,
        };
        let before = self.log.state.clone();
        let decision = decide(&before, cmd, &ctx);
        assert_eq!(
            decision,
            decide(&before, cmd, &ctx),
            "decide is deterministic"
        );
        let events = match decision {
            Ok(events) => events,
            Err(r) => {
                *self.rejections.entry(r.code()).or_default() += 1;
                return Err(r);
            }
        };
        assert!(
            !events.is_empty(),
            "an accepted command produces events: {cmd:?}"
        );
        assert!(
            events.len() <= 2,
            "one fact per command, and the escalation of a critical case to its township: {events:?}"
        );
        if let [_, second] = events.as_slice() {
            assert!(
                matches!(second, Event::CaseEscalated(e) if e.to_level == Level::Township),
                "only a critical case's escalation to the township follows another fact: {events:?}"
            );
        }

        let first = self.log.records.len();
        self.log.append(&cmd.actor, cmd.occurred_at, &events);

        let mut s = before;
        for (record, event) in self.log.records[first..].iter().zip(&events) {
            check_record(record, event, s.version + 1, s.last_hash);
            let envelope = Envelope::try_from(record).unwrap();
            assert_eq!(envelope.header.actor, cmd.actor);
            assert_eq!(envelope.header.occurred_at, cmd.occurred_at);
            let next = evolve(s.clone(), &envelope);
            check_step(&s, event, &next);
            self.event_types.insert(event.type_name());
            self.statuses.insert(next.status);
            s = next;
        }
        assert_eq!(
            s, self.log.state,
            "folding the commit event by event gives the log's state"
        );
        self.check_invariants();
        Ok(())
    }

    fn check_invariants(&self) {
        let s = &self.log.state;
        let records = &self.log.records;

        // Versions 1, 2, 3… without gaps; each record links to the one before.
        assert_eq!(s.version, records.len() as u64);
        let mut prev = Hash::ZERO;
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.header.case_version, i as u64 + 1);
            assert_eq!(r.prev_hash, prev, "version {} does not link", i + 1);
            assert!(r.verify_hash());
            prev = r.hash;
        }
        assert_eq!(s.last_hash, prev);

        // Replaying everything gives the incrementally maintained state.
        assert_eq!(CaseState::replay(&self.log.envelopes), *s);

        // Exactly one holder once reported.
        if s.status == Status::New {
            assert!(records.is_empty() && s.holder.is_none());
            return;
        }
        assert_eq!(s.id, Some(case_id()));
        let holder = s.holder.expect("a reported case has exactly one holder");
        assert!(regions().contains_code(holder), "held by unknown {holder}");
        assert_eq!(s.path.last(), Some(&holder));
        for w in s.path.windows(2) {
            assert!(
                w[0] != w[1] && (w[0].contains(w[1]) || w[1].contains(w[0])),
                "path jumps sideways: {:?}",
                s.path
            );
        }
        // Critical cases reach the township at once: at report, at a correction to critical,
        // and whenever a critical case held below it is open again. A case corrected while not
        // open stays where it was handled until then.
        let details = s.details.as_ref().expect("a reported case has details");
        if details.severity == Severity::Critical && s.status.is_open() {
            assert!(
                holder.level() >= Level::Township,
                "open critical case held at {holder}"
            );
        }

        // What each status implies.
        if s.mediation.is_some() {
            assert_eq!(
                s.status,
                Status::Assigned,
                "mediations run only on assigned cases"
            );
        }
        assert_eq!(
            s.resolution.is_some(),
            matches!(
                s.status,
                Status::Resolved | Status::Verified | Status::Closed
            ),
            "a resolution is in force exactly while resolved, verified or closed"
        );
        if let Some(r) = &s.resolution {
            assert_eq!(r.unit, holder);
            assert_eq!(r.level, holder.level());
        }
        if s.feedback.is_some() {
            assert!(
                s.resolution.is_some(),
                "feedback only on a resolution in force"
            );
        }
        if s.status == Status::Assigned {
            assert!(
                s.deadline.is_some() && s.handler.is_some(),
                "an assigned case has a handler and a clock"
            );
        }
        if s.status == Status::Registered {
            assert!(s.deadline.is_some(), "the clock runs from registration");
        }
        if matches!(
            s.status,
            Status::Referred | Status::Rejected | Status::Merged
        ) {
            assert_eq!(s.deadline, None);
        }
        assert!(s.resolutions >= s.reworks + s.reopens);
    }

    /// A command for the next step: mostly the sensible next action by the right actor, else a
    /// random action by a random actor.
    fn command(&mut self, step: &Step) -> Command {
        self.now = plus_hours(self.now, i64::from(step.hours));
        let (actor, action) = if step.sensible {
            sensible(self.state(), step, self.now)
        } else {
            random(self.state(), step, self.now)
        };
        cmd_at(actor, self.now, action)
    }
}

/// Checks one sealed record against the event it was sealed from.
fn check_record(record: &EventRecord, event: &Event, version: u64, prev_hash: Hash) {
    assert_eq!(record.header.case_version, version);
    assert_eq!(record.prev_hash, prev_hash);
    assert_eq!(record.event_type, event.type_name());
    assert_eq!(record.schema_version, event.schema_version());
    assert!(record.verify_hash());
    let bytes = record.to_bytes().unwrap();
    let back = EventRecord::from_bytes(&bytes).unwrap();
    assert_eq!(&back, record);
    assert!(back.verify_hash());
    assert_eq!(back.decode().unwrap(), *event);
}

/// Checks one applied event: the status moves along the life cycle and the holder only moves
/// up by escalation or take-over, or down by delegation.
fn check_step(before: &CaseState, event: &Event, after: &CaseState) {
    let from = before.status;
    let to = after.status;
    assert_eq!(
        expected_status(from, event),
        Some(to),
        "{from} --{}--> {to}",
        event.type_name()
    );
    assert!(from == to || EDGES.contains(&(from, to)));
    assert_eq!(after.version, before.version + 1);
    match event {
        Event::CaseReported(e) => assert_eq!(after.holder, Some(e.received_by)),
        Event::CaseEscalated(e) => {
            assert_eq!(before.holder, Some(e.from));
            assert!(
                e.to != e.from && e.to.contains(e.from),
                "escalated sideways or down: {e:?}"
            );
            assert_eq!(e.to_level, e.to.level());
            assert_eq!(after.holder, Some(e.to));
        }
        Event::CaseDelegated(e) => {
            assert_eq!(before.holder, Some(e.from));
            assert!(
                e.to != e.from && e.from.contains(e.to),
                "delegated sideways or up: {e:?}"
            );
            assert_eq!(e.to_level, e.to.level());
            assert_eq!(after.holder, Some(e.to));
        }
        Event::CaseTakenOver(e) => {
            assert_eq!(before.holder, Some(e.from));
            assert!(
                e.to != e.from && e.to.contains(e.from),
                "taken over sideways or from above: {e:?}"
            );
            assert_eq!(e.to_level, e.to.level());
            assert_eq!(after.holder, Some(e.to));
            assert_eq!(after.takeovers, before.takeovers + 1);
        }
        _ => assert_eq!(
            after.holder,
            before.holder,
            "{} moved the case",
            event.type_name()
        ),
    }
    match event {
        Event::CaseRegistered(e) => {
            assert_eq!((Some(e.unit), e.level), (before.holder, e.unit.level()))
        }
        Event::CaseResolved(e) => {
            assert_eq!(Some(e.unit), before.holder, "resolved by the holding unit");
            assert_eq!(e.level, e.unit.level(), "at the holding unit's level");
        }
        Event::CaseReopened(e) => assert_eq!(Some(e.unit), before.holder),
        Event::ReferralReturned(e) => assert_eq!(Some(e.unit), before.holder),
        _ => {}
    }
}

// --- the generator -----------------------------------------------------------------------------

/// Raw randomness for one step; interpreted against the state when the step runs, so shrinking
/// works on plain numbers.
#[derive(Debug, Clone, Copy)]
struct Step {
    sensible: bool,
    a: u8,
    b: u8,
    c: u8,
    hours: u8,
}

fn step() -> impl Strategy<Value = Step> {
    (0u8..10, any::<u8>(), any::<u8>(), any::<u8>(), 0u8..72).prop_map(|(s, a, b, c, hours)| Step {
        sensible: s < 8,
        a,
        b,
        c,
        hours,
    })
}

/// Whether on-the-spot grid resolutions close without verification, and the steps.
fn run() -> impl Strategy<Value = (bool, Vec<Step>)> {
    (any::<bool>(), prop::collection::vec(step(), 1..60))
}

fn pick<T: Clone>(items: &[T], n: u8) -> T {
    items[usize::from(n) % items.len()].clone()
}

/// Mostly a valid text, sometimes empty (rejected where text is required).
fn text(n: u8) -> String {
    if n & 15 == 0 {
        String::new()
    } else {
        format!("说明{n}")
    }
}

fn grids() -> Vec<RegionCode> {
    vec![grid1(), grid2(), grid3(), grid4()]
}

fn region_pool() -> Vec<RegionCode> {
    let mut all = all_regions();
    all.extend([unknown_village(), unknown_grid()]);
    all
}

fn actor_pool() -> Vec<Actor> {
    let mut actors: Vec<Actor> = grids().into_iter().map(grid_worker).collect();
    actors.extend(
        [
            village1(),
            village2(),
            village3(),
            town1(),
            town2(),
            county(),
            city(),
        ]
        .map(staff),
    );
    actors.extend([
        mediator(town1()),
        mediator(town2()),
        supervisor(county()),
        supervisor(town2()),
        admin(county()),
        admin(village1()),
        auditor(),
        analyst(),
    ]);
    actors
}

/// Whoever acts for the holding unit: its grid worker or its staff.
fn holder_actor(holder: RegionCode) -> Actor {
    if holder.level() == Level::Grid {
        grid_worker(holder)
    } else {
        staff(holder)
    }
}

/// Staff of the unit above the holder (the city's own staff for a city-held case).
fn overseer(holder: RegionCode) -> Actor {
    staff(holder.parent().unwrap_or(holder))
}

fn report_action(
    kind: CaseKind,
    severity: Severity,
    source: Source,
    location: RegionCode,
) -> Action {
    report(location)
        .kind(kind)
        .severity(severity)
        .source(source)
        .action()
}

fn sensible(s: &CaseState, step: &Step, now: Timestamp) -> (Actor, Action) {
    let Step { a, b, c, .. } = *step;
    let holder = s.holder.unwrap_or_else(grid1);
    let worker = holder_actor(holder);
    let reason = || format!("理由{a}");
    match s.status {
        Status::New => {
            let grid = pick(&grids(), a);
            let actor = if b % 5 == 0 {
                staff(grid.parent().unwrap())
            } else {
                grid_worker(grid)
            };
            let severity = match c % 10 {
                0 => Severity::Critical,
                1 => Severity::Urgent,
                _ => Severity::Normal,
            };
            let kind = match (c / 10) % 6 {
                0 => CaseKind::Incident,
                1 => CaseKind::Request,
                _ => CaseKind::Dispute,
            };
            (
                actor,
                report_action(kind, severity, pick(Source::ALL, b), grid),
            )
        }
        Status::Reported => match a % 10 {
            0 => (
                worker,
                Action::Reject {
                    reason: pick(RejectReason::ALL, b),
                    note: String::new(),
                },
            ),
            1 => (
                worker,
                Action::Escalate {
                    to: None,
                    reason: reason(),
                },
            ),
            2 => (
                worker,
                Action::Merge {
                    into: CaseId::new("c2").unwrap(),
                    reason: reason(),
                },
            ),
            _ => (worker, Action::Register),
        },
        Status::Registered => {
            let children = regions().children(holder);
            match a % 10 {
                0 => (
                    worker,
                    Action::Escalate {
                        to: None,
                        reason: reason(),
                    },
                ),
                1 | 2 if !children.is_empty() => (
                    worker,
                    Action::Delegate {
                        to: pick(children, b),
                        reason: reason(),
                    },
                ),
                3 => (
                    worker,
                    Action::Refer {
                        target: pick(ReferralTarget::ALL, b),
                        body: "法院".into(),
                        reason: reason(),
                    },
                ),
                4 if holder != city() => (overseer(holder), Action::TakeOver { reason: reason() }),
                _ => {
                    let handler = worker.id().clone();
                    (worker, Action::Assign { handler })
                }
            }
        }
        Status::Assigned => {
            if let Some(m) = &s.mediation {
                let mediator = Actor::new(
                    m.mediator.clone(),
                    Role::Mediator,
                    Scope::Assignment {
                        organization: m.organization,
                    },
                )
                .unwrap();
                if a % 3 == 0 {
                    (
                        mediator,
                        Action::HoldMediationSession {
                            summary: format!("第{}次调解", m.sessions + 1),
                        },
                    )
                } else {
                    let outcome = if b % 4 == 0 {
                        MediationOutcome::Failure
                    } else {
                        MediationOutcome::Agreement
                    };
                    (
                        mediator,
                        Action::ConcludeMediation {
                            outcome,
                            note: "调解结果".into(),
                        },
                    )
                }
            } else {
                let last = s.mediations.last().map(|m| m.outcome);
                let dispute = s
                    .details
                    .as_ref()
                    .is_some_and(|d| d.kind == CaseKind::Dispute);
                match a % 10 {
                    0 => (
                        worker,
                        Action::Escalate {
                            to: None,
                            reason: reason(),
                        },
                    ),
                    1 => {
                        let deadline = s.deadline.unwrap_or(now).plus_days(2);
                        (
                            supervisor(county()),
                            Action::ExtendDeadline {
                                deadline,
                                reason: reason(),
                            },
                        )
                    }
                    2 => (
                        overseer(holder),
                        Action::IssueSupervision { note: reason() },
                    ),
                    3..=5 if dispute && last != Some(MediationOutcome::Agreement) => {
                        let org = pick(&[town1(), town2(), village1()], b);
                        let action = Action::StartMediation {
                            mediation_type: pick(MediationType::ALL, c),
                            mediator: mediator(org).id().clone(),
                            organization: org,
                        };
                        (worker, action)
                    }
                    _ => {
                        let method = if last == Some(MediationOutcome::Agreement) {
                            ResolutionMethod::MediatedAgreement
                        } else if holder.level() == Level::Grid && b % 2 == 0 {
                            ResolutionMethod::OnTheSpot
                        } else {
                            pick(
                                &[
                                    ResolutionMethod::Explanation,
                                    ResolutionMethod::DepartmentHandling,
                                    ResolutionMethod::Withdrawal,
                                ],
                                b,
                            )
                        };
                        (
                            worker,
                            Action::Resolve {
                                method,
                                summary: "已化解".into(),
                            },
                        )
                    }
                }
            }
        }
        Status::Referred => (staff(holder), Action::ReturnReferral { reason: reason() }),
        Status::Resolved => {
            let on_the_spot = s
                .resolution
                .as_ref()
                .is_some_and(|r| r.method == ResolutionMethod::OnTheSpot && r.level == Level::Grid);
            match a % 10 {
                0..=2 => (
                    if on_the_spot {
                        worker
                    } else {
                        overseer(holder)
                    },
                    Action::Close,
                ),
                3..=6 => (
                    overseer(holder),
                    Action::VerifyResolution {
                        note: String::new(),
                    },
                ),
                7 => (
                    overseer(holder),
                    Action::RejectResolution { reason: reason() },
                ),
                _ => (
                    overseer(holder),
                    Action::RecordFeedback {
                        satisfaction: pick(Satisfaction::ALL, b),
                        comment: String::new(),
                    },
                ),
            }
        }
        Status::Verified => match a % 10 {
            0..=6 => (overseer(holder), Action::Close),
            _ => (
                overseer(holder),
                Action::RecordFeedback {
                    satisfaction: pick(Satisfaction::ALL, b),
                    comment: String::new(),
                },
            ),
        },
        Status::Closed => match a % 10 {
            0..=4 => (
                supervisor(county()),
                Action::Reopen {
                    reason: pick(ReopenReason::ALL, b),
                    note: String::new(),
                },
            ),
            5 | 6 => (
                overseer(holder),
                Action::RecordFeedback {
                    satisfaction: pick(Satisfaction::ALL, b),
                    comment: String::new(),
                },
            ),
            _ => (overseer(holder), Action::AddNote { text: reason() }),
        },
        Status::Rejected | Status::Merged => (staff(county()), Action::AddNote { text: reason() }),
    }
}

fn random(s: &CaseState, step: &Step, now: Timestamp) -> (Actor, Action) {
    let Step { a, b, c, .. } = *step;
    let actor = pick(&actor_pool(), a);
    let regions = region_pool();
    let action = match b % 25 {
        0 => report_action(
            pick(CaseKind::ALL, a),
            pick(Severity::ALL, c),
            pick(Source::ALL, b / 24),
            pick(&regions, c / 3),
        ),
        1 => Action::Register,
        2 => Action::Reject {
            reason: pick(RejectReason::ALL, c),
            note: text(a),
        },
        3 => Action::Assign {
            handler: if c % 2 == 0 {
                actor.id().clone()
            } else {
                aid("handler-1")
            },
        },
        4 => Action::Escalate {
            to: (c % 3 != 0).then(|| pick(&regions, c)),
            reason: text(a ^ c),
        },
        5 => Action::Delegate {
            to: pick(&regions, c),
            reason: text(a ^ c),
        },
        6 => Action::Refer {
            target: pick(ReferralTarget::ALL, c),
            body: text(a),
            reason: text(c),
        },
        7 => Action::ReturnReferral { reason: text(c) },
        8 => Action::StartMediation {
            mediation_type: pick(MediationType::ALL, c),
            mediator: pick(&[mediator(town1()), mediator(town2())], a)
                .id()
                .clone(),
            organization: pick(&[town1(), town2(), unknown_village()], c),
        },
        9 => Action::HoldMediationSession { summary: text(c) },
        10 => Action::ConcludeMediation {
            outcome: pick(MediationOutcome::ALL, c),
            note: text(a),
        },
        11 => Action::Resolve {
            method: pick(ResolutionMethod::ALL, c),
            summary: text(a),
        },
        12 => Action::VerifyResolution { note: text(c) },
        13 => Action::RejectResolution { reason: text(c) },
        14 => Action::Close,
        15 => Action::RecordFeedback {
            satisfaction: pick(Satisfaction::ALL, c),
            comment: String::new(),
        },
        16 => Action::Reopen {
            reason: pick(ReopenReason::ALL, c),
            note: String::new(),
        },
        17 => Action::ExtendDeadline {
            deadline: s.deadline.unwrap_or(now).plus_days(i64::from(c % 7) - 2),
            reason: text(a),
        },
        18 => Action::IssueSupervision { note: text(c) },
        19 => Action::AddNote { text: text(c) },
        20 => Action::AttachEvidence {
            content_hash: Hash::of(&[c]),
            media_type: pick(&["image/jpeg", "jpeg", ""], c).into(),
            description: String::new(),
        },
        21 => Action::Merge {
            into: CaseId::new(pick(&["c1", "c2"], c)).unwrap(),
            reason: text(a),
        },
        23 => Action::TakeOver { reason: text(c) },
        24 => Action::AddParty {
            party: Party {
                id: PartyId::new(pick(&["p-1", "p-2", "p-late"], c)).unwrap(),
                role: pick(PartyRole::ALL, a),
            },
        },
        _ => Action::CorrectDetails {
            kind: (c & 1 != 0).then(|| pick(CaseKind::ALL, a)),
            category: (c & 2 != 0).then(|| pick(Category::ALL, a)),
            source: (c & 4 != 0).then(|| pick(Source::ALL, a)),
            severity: (c & 8 != 0).then(|| pick(Severity::ALL, a)),
            location: (c & 16 != 0).then(|| pick(&regions, a)),
            summary: (c & 32 != 0).then(|| text(a)),
            reason: text(c ^ 1),
        },
    };
    (actor, action)
}

fn run_model(on_the_spot_close_at_grid: bool, steps: &[Step]) -> Model {
    let mut model = Model::new(on_the_spot_close_at_grid);
    for step in steps {
        let command = model.command(step);
        // Rejections are expected; `apply` checks everything on acceptance.
        let _ = model.apply(&command);
    }
    model
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_every_invariant((on_the_spot, steps) in run()) {
        run_model(on_the_spot, &steps);
    }
}

/// The generator is only as good as the states it reaches: over a fixed set of runs it must
/// reach every status, produce every event type, and often get deep into the life cycle.
#[test]
fn the_generator_reaches_every_status_and_every_event_type() {
    let mut runner = TestRunner::deterministic();
    let strategy = run();
    let runs = 300;
    let mut statuses = BTreeSet::new();
    let mut types = BTreeSet::new();
    let mut rejections: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut closed, mut reopened, mut mediated, mut reworked) = (0, 0, 0, 0);
    for _ in 0..runs {
        let (on_the_spot, steps) = strategy.new_tree(&mut runner).unwrap().current();
        let m = run_model(on_the_spot, &steps);
        statuses.extend(m.statuses.iter().copied());
        types.extend(m.event_types.iter().copied());
        for (code, n) in &m.rejections {
            *rejections.entry(code).or_default() += n;
        }
        closed += usize::from(m.statuses.contains(&Status::Closed));
        reopened += usize::from(m.state().reopens > 0);
        mediated += usize::from(
            m.state()
                .mediations
                .iter()
                .any(|r| r.outcome == MediationOutcome::Agreement),
        );
        reworked += usize::from(m.state().reworks > 0);
    }
    eprintln!(
        "{runs} runs: closed {closed}, reopened {reopened}, mediated agreement {mediated}, reworked {reworked}\n\
         rejections: {rejections:?}"
    );
    let all_statuses: BTreeSet<Status> = [
        Status::New,
        Status::Reported,
        Status::Registered,
        Status::Assigned,
        Status::Referred,
        Status::Resolved,
        Status::Verified,
        Status::Closed,
        Status::Rejected,
        Status::Merged,
    ]
    .into();
    assert_eq!(statuses, all_statuses);
    assert_eq!(
        types,
        Event::TYPE_NAMES.iter().copied().collect::<BTreeSet<_>>()
    );
    assert!(
        closed * 4 >= runs,
        "only {closed} of {runs} runs closed a case"
    );
    assert!(
        reopened * 10 >= runs,
        "only {reopened} of {runs} runs reopened a case"
    );
    assert!(
        mediated * 10 >= runs,
        "only {mediated} of {runs} runs resolved by mediation"
    );
    assert!(
        reworked * 20 >= runs,
        "only {reworked} of {runs} runs reworked a resolution"
    );
}

// --- scripted life cycles ----------------------------------------------------------------------

/// Runs `script` through the model (every invariant checked), asserting each command is
/// accepted and lands in the expected status.
fn play(model: &mut Model, script: Vec<(Actor, Action, Status)>) {
    for (i, (actor, action, status)) in script.into_iter().enumerate() {
        model.now = plus_hours(model.now, 1);
        let name = action.name();
        let command = cmd_at(actor, model.now, action);
        if let Err(r) = model.apply(&command) {
            panic!("step {i} ({name}) rejected: {r:?}");
        }
        assert_eq!(model.state().status, status, "after step {i} ({name})");
    }
}

#[test]
fn a_scripted_full_life_cycle_is_reachable() {
    use Status::*;
    let mut m = Model::new(true);
    let gw = grid_worker(grid1());
    let med = mediator(town1());
    let assign = |a: &Actor| Action::Assign {
        handler: a.id().clone(),
    };
    play(
        &mut m,
        vec![
            (gw.clone(), report(grid1()).action(), Reported),
            (gw.clone(), Action::Register, Registered),
            (gw.clone(), assign(&gw), Assigned),
            (
                gw.clone(),
                Action::StartMediation {
                    mediation_type: MediationType::People,
                    mediator: med.id().clone(),
                    organization: town1(),
                },
                Assigned,
            ),
            (
                med.clone(),
                Action::HoldMediationSession {
                    summary: "首次调解".into(),
                },
                Assigned,
            ),
            (
                med.clone(),
                Action::AddNote {
                    text: "双方同意再谈".into(),
                },
                Assigned,
            ),
            (
                med.clone(),
                Action::ConcludeMediation {
                    outcome: MediationOutcome::Agreement,
                    note: "协议".into(),
                },
                Assigned,
            ),
            (
                gw.clone(),
                Action::Resolve {
                    method: ResolutionMethod::MediatedAgreement,
                    summary: "调解成功".into(),
                },
                Resolved,
            ),
            (
                staff(village1()),
                Action::VerifyResolution {
                    note: String::new(),
                },
                Verified,
            ),
            (staff(village1()), Action::Close, Closed),
            (
                staff(village1()),
                Action::RecordFeedback {
                    satisfaction: Satisfaction::Dissatisfied,
                    comment: String::new(),
                },
                Closed,
            ),
            (
                supervisor(county()),
                Action::Reopen {
                    reason: ReopenReason::AgreementNotHonoured,
                    note: String::new(),
                },
                Registered,
            ),
            (gw.clone(), assign(&gw), Assigned),
            (
                staff(town1()),
                Action::IssueSupervision {
                    note: "督办".into(),
                },
                Assigned,
            ),
            (
                gw.clone(),
                Action::Escalate {
                    to: None,
                    reason: "网格无法处置".into(),
                },
                Registered,
            ),
            (
                staff(village1()),
                Action::Escalate {
                    to: Some(town1()),
                    reason: "需乡镇协调".into(),
                },
                Registered,
            ),
            (staff(town1()), assign(&staff(town1())), Assigned),
            (
                supervisor(county()),
                Action::ExtendDeadline {
                    deadline: now().plus_days(60),
                    reason: "复杂".into(),
                },
                Assigned,
            ),
            (
                staff(town1()),
                Action::Refer {
                    target: ReferralTarget::Court,
                    body: "柯城区人民法院".into(),
                    reason: "诉讼".into(),
                },
                Referred,
            ),
            (
                staff(town1()),
                Action::ReturnReferral {
                    reason: "诉前调解".into(),
                },
                Registered,
            ),
            (
                staff(town1()),
                Action::Delegate {
                    to: village2(),
                    reason: "属地".into(),
                },
                Registered,
            ),
            (staff(village2()), assign(&staff(village2())), Assigned),
            (
                staff(village2()),
                Action::Resolve {
                    method: ResolutionMethod::Explanation,
                    summary: "解释".into(),
                },
                Resolved,
            ),
            (
                staff(town1()),
                Action::RejectResolution {
                    reason: "未解决".into(),
                },
                Assigned,
            ),
            (
                staff(village2()),
                Action::Resolve {
                    method: ResolutionMethod::Explanation,
                    summary: "再次解释".into(),
                },
                Resolved,
            ),
            (
                supervisor(town1()),
                Action::VerifyResolution {
                    note: String::new(),
                },
                Verified,
            ),
            (staff(village2()), Action::Close, Closed),
            (
                staff(town1()),
                Action::RecordFeedback {
                    satisfaction: Satisfaction::Satisfied,
                    comment: String::new(),
                },
                Closed,
            ),
            (
                admin(county()),
                Action::CorrectDetails {
                    kind: None,
                    category: Some(Category::HousingHomestead),
                    source: None,
                    severity: None,
                    location: None,
                    summary: None,
                    reason: "归类错误".into(),
                },
                Closed,
            ),
            (
                staff(county()),
                Action::AttachEvidence {
                    content_hash: Hash::of(b"agreement.pdf"),
                    media_type: "application/pdf".into(),
                    description: String::new(),
                },
                Closed,
            ),
        ],
    );
    let s = m.state();
    assert_eq!(s.path, vec![grid1(), village1(), town1(), village2()]);
    assert_eq!(
        (
            s.escalations,
            s.delegations,
            s.reopens,
            s.reworks,
            s.resolutions
        ),
        (2, 1, 1, 1, 3)
    );
    assert_eq!((s.extensions, s.supervisions), (1, 1));
    assert_eq!(
        s.resolution.as_ref().map(|r| (r.level, r.unit)),
        Some((Level::Village, village2()))
    );
    assert_eq!(s.feedback, Some(Satisfaction::Satisfied));
    assert_eq!(s.mediations.len(), 1);
    assert_eq!(s.version, 30);
}

#[test]
fn scripted_short_cuts_are_reachable() {
    use Status::*;
    let gw = grid_worker(grid1());
    // 小事不出格: resolved and closed on the spot by the grid worker.
    let mut m = Model::new(true);
    play(
        &mut m,
        vec![
            (gw.clone(), report(grid1()).action(), Reported),
            (gw.clone(), Action::Register, Registered),
            (
                gw.clone(),
                Action::Assign {
                    handler: gw.id().clone(),
                },
                Assigned,
            ),
            (
                gw.clone(),
                Action::Resolve {
                    method: ResolutionMethod::OnTheSpot,
                    summary: "当场化解".into(),
                },
                Resolved,
            ),
            (gw.clone(), Action::Close, Closed),
        ],
    );
    assert_eq!(
        m.log.envelopes.last().map(|e| &e.event),
        Some(&closed(true))
    );

    // A critical report goes to the township at once, and is merged there as a duplicate.
    let mut m = Model::new(true);
    play(
        &mut m,
        vec![
            (
                gw.clone(),
                report(grid1()).severity(Severity::Critical).action(),
                Reported,
            ),
            (
                staff(town1()),
                Action::Merge {
                    into: CaseId::new("c0").unwrap(),
                    reason: "重复".into(),
                },
                Merged,
            ),
            (
                staff(town1()),
                Action::AddNote {
                    text: "已并案".into(),
                },
                Merged,
            ),
        ],
    );
    assert_eq!(m.state().holder, Some(town1()));
    assert_eq!(m.state().version, 4);

    // Not registered.
    let mut m = Model::new(false);
    play(
        &mut m,
        vec![
            (
                staff(village1()),
                report(grid2()).kind(CaseKind::Request).action(),
                Reported,
            ),
            (
                staff(village1()),
                Action::Reject {
                    reason: RejectReason::OutOfScope,
                    note: String::new(),
                },
                Rejected,
            ),
        ],
    );
}
