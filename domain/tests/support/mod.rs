//! Test harness shared by the domain's integration tests (`mod support;`).
//!
//! - A tiny region tree: city 330800 → county 330802 → two townships → three villages → four
//!   grids, plus well-formed codes that name no known region.
//! - Actor constructors per role, with deterministic ids (`gw-<grid>`, `staff-<unit>`, …).
//! - Fixed times: history happens at [`t0`], commands at [`now`] (one day later); the engine's
//!   clock reads the command's time unless a test sets it ([`Given::at_clock`]).
//! - A sealed case log ([`History`]) that appends events the way the bus does: versions
//!   1, 2, 3…, `prev_hash` = the state's `last_hash`, each record sealed with
//!   [`EventRecord::seal`], decoded to an [`Envelope`] and folded with [`evolve`].
//! - Given/when/then in the cqrs-es style:
//!   `given(&[events]).when(command).then(&[events])` or `.then_rejected(rejection)`,
//!   always comparing whole event lists and whole `Rejection` values.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use std::sync::OnceLock;

use gridcase_domain::event::*;
use gridcase_domain::*;

/// The divisions of the test tree (code, name), parents first.
pub const DIVISIONS: [(&str, &str); 7] = [
    ("330800", "衢州市"),
    ("330802", "柯城区"),
    ("330802005", "新新街道"),
    ("330802006", "府山街道"),
    ("330802005001", "金桂社区"),
    ("330802005002", "书香社区"),
    ("330802006001", "府山社区"),
];

/// The grids added to the tree with `add_grid`.
pub const GRIDS: [&str; 4] = [
    "330802005001007",
    "330802005001008",
    "330802005002001",
    "330802006001001",
];

/// The test region tree, built once.
pub fn regions() -> &'static RegionTree {
    static TREE: OnceLock<RegionTree> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut tree = RegionTree::new();
        for (c, name) in DIVISIONS {
            tree.insert(code(c), name).expect("test division is valid");
        }
        for g in GRIDS {
            tree.add_grid(code(g), None).expect("test grid is valid");
        }
        tree
    })
}

/// Every known region of the test tree, top-down.
pub fn all_regions() -> Vec<RegionCode> {
    vec![
        city(),
        county(),
        town1(),
        town2(),
        village1(),
        village2(),
        village3(),
        grid1(),
        grid2(),
        grid3(),
        grid4(),
    ]
}

/// Parses a code that the test knows to be well-formed.
pub fn code(s: &str) -> RegionCode {
    s.parse().expect("well-formed test code")
}

/// 衢州市.
pub fn city() -> RegionCode {
    code("330800")
}
/// 柯城区.
pub fn county() -> RegionCode {
    code("330802")
}
/// 新新街道, holding village1 and village2.
pub fn town1() -> RegionCode {
    code("330802005")
}
/// 府山街道, holding village3.
pub fn town2() -> RegionCode {
    code("330802006")
}
/// 金桂社区 (town1), holding grid1 and grid2.
pub fn village1() -> RegionCode {
    code("330802005001")
}
/// 书香社区 (town1), holding grid3.
pub fn village2() -> RegionCode {
    code("330802005002")
}
/// 府山社区 (town2), holding grid4.
pub fn village3() -> RegionCode {
    code("330802006001")
}
/// Grid 7 of village1.
pub fn grid1() -> RegionCode {
    code("330802005001007")
}
/// Grid 8 of village1.
pub fn grid2() -> RegionCode {
    code("330802005001008")
}
/// Grid 1 of village2.
pub fn grid3() -> RegionCode {
    code("330802005002001")
}
/// Grid 1 of village3 (the other township).
pub fn grid4() -> RegionCode {
    code("330802006001001")
}
/// A well-formed village code under town1 that the tree does not know.
pub fn unknown_village() -> RegionCode {
    code("330802005099")
}
/// A well-formed grid code under village1 that the tree does not know.
pub fn unknown_grid() -> RegionCode {
    code("330802005001099")
}

// ------------------------------------------------------------------------------------------
// Actors
// ------------------------------------------------------------------------------------------

/// An actor id the test knows to be valid.
pub fn aid(s: &str) -> ActorId {
    ActorId::new(s).expect("valid test actor id")
}

fn actor(id: String, role: Role, scope: Scope) -> Actor {
    Actor::new(aid(&id), role, scope).expect("role and scope fit")
}

/// 网格员 of `grid`, id `gw-<grid>`.
pub fn grid_worker(grid: RegionCode) -> Actor {
    actor(format!("gw-{grid}"), Role::GridWorker, Scope::Subtree(grid))
}

/// Staff of the handling unit `unit`, id `staff-<unit>`.
pub fn staff(unit: RegionCode) -> Actor {
    actor(
        format!("staff-{unit}"),
        Role::UnitStaff,
        Scope::Subtree(unit),
    )
}

/// A mediator of an organization at `org`, id `med-<org>`.
pub fn mediator(org: RegionCode) -> Actor {
    actor(
        format!("med-{org}"),
        Role::Mediator,
        Scope::Assignment { organization: org },
    )
}

/// A mediator with a chosen id.
pub fn mediator_named(id: &str, org: RegionCode) -> Actor {
    actor(
        id.to_owned(),
        Role::Mediator,
        Scope::Assignment { organization: org },
    )
}

/// A supervisor over `region`, id `sup-<region>`.
pub fn supervisor(region: RegionCode) -> Actor {
    actor(
        format!("sup-{region}"),
        Role::Supervisor,
        Scope::Subtree(region),
    )
}

/// An auditor over the whole city.
pub fn auditor() -> Actor {
    actor("auditor".into(), Role::Auditor, Scope::Subtree(city()))
}

/// An analyst over the whole city.
pub fn analyst() -> Actor {
    actor("analyst".into(), Role::Analyst, Scope::Subtree(city()))
}

/// An admin over `region`, id `admin-<region>`.
pub fn admin(region: RegionCode) -> Actor {
    actor(
        format!("admin-{region}"),
        Role::Admin,
        Scope::Subtree(region),
    )
}

/// An actor of `role` anchored at `region` (a grid for grid workers; the organization for
/// mediators), id `<role>-<region>`.
pub fn actor_of(role: Role, region: RegionCode) -> Actor {
    let scope = match role {
        Role::Mediator => Scope::Assignment {
            organization: region,
        },
        _ => Scope::Subtree(region),
    };
    actor(format!("{role}-{region}"), role, scope)
}

// ------------------------------------------------------------------------------------------
// Time
// ------------------------------------------------------------------------------------------

/// When the given history happened: 2026-03-02 10:00 in Asia/Shanghai.
pub fn t0() -> Timestamp {
    Timestamp::parse("2026-03-02T02:00:00Z").unwrap()
}

/// When commands happen unless a test says otherwise: one day after [`t0`].
pub fn now() -> Timestamp {
    t0().plus_days(1)
}

/// `t` plus `h` hours.
pub fn plus_hours(t: Timestamp, h: i64) -> Timestamp {
    t.plus_millis(h * 3_600_000)
}

// ------------------------------------------------------------------------------------------
// Commands and events
// ------------------------------------------------------------------------------------------

/// A command by `actor` at [`now`].
pub fn cmd(actor: Actor, action: Action) -> Command {
    cmd_at(actor, now(), action)
}

/// A command by `actor` at `at`.
pub fn cmd_at(actor: Actor, at: Timestamp, action: Action) -> Command {
    Command {
        actor,
        occurred_at: at,
        action,
    }
}

/// Two parties by opaque id.
pub fn parties() -> Vec<Party> {
    vec![
        Party {
            id: PartyId::new("p-1").unwrap(),
            role: PartyRole::Applicant,
        },
        Party {
            id: PartyId::new("p-2").unwrap(),
            role: PartyRole::Respondent,
        },
    ]
}

/// What a report says; [`Report::action`] and [`Report::event`] stay consistent.
#[derive(Debug, Clone)]
pub struct Report {
    /// Kind.
    pub kind: CaseKind,
    /// Category (fits the kind).
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Source.
    pub source: Source,
    /// Location.
    pub location: RegionCode,
}

/// A normal neighbours' dispute from a grid patrol at `location`.
pub fn report(location: RegionCode) -> Report {
    Report {
        kind: CaseKind::Dispute,
        category: Category::Neighbours,
        severity: Severity::Normal,
        source: Source::GridPatrol,
        location,
    }
}

impl Report {
    /// With another kind, and that kind's usual test category unless the category fits it:
    /// neighbours for disputes, a safety hazard for incidents, social services for requests.
    pub fn kind(mut self, kind: CaseKind) -> Self {
        self.kind = kind;
        if !self.category.fits(kind) {
            self.category = default_category(kind);
        }
        self
    }

    /// With another category (not necessarily fitting the kind).
    pub fn category(mut self, category: Category) -> Self {
        self.category = category;
        self
    }

    /// With another severity.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// With another source.
    pub fn source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// The report command's action.
    pub fn action(&self) -> Action {
        Action::Report {
            kind: self.kind,
            category: self.category,
            source: self.source,
            severity: self.severity,
            location: self.location,
            parties: parties(),
            summary: "邻里噪音纠纷".into(),
            happened_at: t0().plus_millis(-3_600_000),
        }
    }

    /// The `CaseReported` event the report produces when received by `received_by`.
    pub fn event(&self, received_by: RegionCode) -> Event {
        CaseReported {
            kind: self.kind,
            category: self.category,
            source: self.source,
            severity: self.severity,
            location: self.location,
            received_by,
            parties: parties(),
            summary: "邻里噪音纠纷".into(),
            happened_at: t0().plus_millis(-3_600_000),
        }
        .into()
    }
}

/// The category [`Report::kind`] picks for `kind`.
pub fn default_category(kind: CaseKind) -> Category {
    match kind {
        CaseKind::Dispute => Category::Neighbours,
        CaseKind::Incident => Category::SafetyHazard,
        CaseKind::Request => Category::SocialServices,
    }
}

/// `CaseRegistered` at `unit` with the clock started at [`t0`]: due after the unit's days for
/// a normal dispute (grid 3, village 7, township 15, county and city 30).
pub fn registered(unit: RegionCode) -> Event {
    let days = Policy::default()
        .deadlines
        .level_days(unit.level(), CaseKind::Dispute);
    registered_due(unit, Some(t0().plus_days(days.into())))
}

/// `CaseRegistered` at `unit` due at `deadline` (`None`: as a version 1 event decodes).
pub fn registered_due(unit: RegionCode, deadline: Option<Timestamp>) -> Event {
    CaseRegistered {
        unit,
        level: unit.level(),
        deadline,
    }
    .into()
}

/// `CaseAssigned` at `unit` to `handler`, due at `deadline`.
pub fn assigned(unit: RegionCode, handler: &Actor, deadline: Timestamp) -> Event {
    CaseAssigned {
        unit,
        handler: handler.id().clone(),
        deadline,
    }
    .into()
}

/// `CaseEscalated` from `from` to `to`, due at `deadline`.
pub fn escalated(from: RegionCode, to: RegionCode, deadline: Timestamp) -> Event {
    CaseEscalated {
        from,
        to,
        to_level: to.level(),
        reason: "超出网格处置能力".into(),
        deadline,
    }
    .into()
}

/// `CaseDelegated` from `from` to `to`, due at `deadline`.
pub fn delegated(from: RegionCode, to: RegionCode, deadline: Timestamp) -> Event {
    CaseDelegated {
        from,
        to,
        to_level: to.level(),
        reason: "属地处置".into(),
        deadline,
    }
    .into()
}

/// `CaseTakenOver` from `from` by `to`, due at `deadline`.
pub fn taken_over(from: RegionCode, to: RegionCode, deadline: Timestamp) -> Event {
    CaseTakenOver {
        from,
        to,
        to_level: to.level(),
        reason: "案情复杂，提级领办".into(),
        deadline,
    }
    .into()
}

/// `MediationStarted` by `mediator` of `org`, due 30 days after [`t0`].
pub fn mediation_started(mediator: &Actor, org: RegionCode) -> Event {
    MediationStarted {
        mediation_type: MediationType::People,
        mediator: mediator.id().clone(),
        organization: org,
        deadline: t0().plus_days(30),
    }
    .into()
}

/// `MediationConcluded` with `outcome`.
pub fn mediation_concluded(outcome: MediationOutcome) -> Event {
    MediationConcluded {
        outcome,
        note: "双方签订调解协议".into(),
    }
    .into()
}

/// `CaseResolved` by `by` at `unit` with `method`.
pub fn resolved(unit: RegionCode, by: &Actor, method: ResolutionMethod) -> Event {
    CaseResolved {
        method,
        level: unit.level(),
        unit,
        by: by.id().clone(),
        on_time: true,
        summary: "已化解".into(),
    }
    .into()
}

/// `ResolutionVerified`.
pub fn verified() -> Event {
    ResolutionVerified {
        note: "核查属实".into(),
    }
    .into()
}

/// `CaseClosed`.
pub fn closed(on_the_spot: bool) -> Event {
    CaseClosed { on_the_spot }.into()
}

/// `FeedbackRecorded`: satisfied.
pub fn feedback() -> Event {
    FeedbackRecorded {
        satisfaction: Satisfaction::Satisfied,
        comment: String::new().into(),
    }
    .into()
}

// ------------------------------------------------------------------------------------------
// Canned histories (all at t0)
// ------------------------------------------------------------------------------------------

/// Reported by the grid worker of `grid` in their own grid.
pub fn h_reported(grid: RegionCode) -> Vec<Event> {
    vec![report(grid).event(grid)]
}

/// … and registered at the grid.
pub fn h_registered(grid: RegionCode) -> Vec<Event> {
    let mut h = h_reported(grid);
    h.push(registered(grid));
    h
}

/// … and assigned to the grid worker, due in 3 days.
pub fn h_assigned(grid: RegionCode) -> Vec<Event> {
    let mut h = h_registered(grid);
    h.push(assigned(grid, &grid_worker(grid), t0().plus_days(3)));
    h
}

/// A dispute reported at `grid`, escalated to `unit` (an ancestor), registered and assigned
/// there to the unit's staff.
pub fn h_assigned_at(grid: RegionCode, unit: RegionCode) -> Vec<Event> {
    let mut h = h_reported(grid);
    if unit != grid {
        // The escalation started the clock; registration keeps it.
        h.push(escalated(grid, unit, t0().plus_days(7)));
        h.push(registered_due(unit, Some(t0().plus_days(7))));
    } else {
        h.push(registered(unit));
    }
    h.push(assigned(unit, &staff(unit), t0().plus_days(7)));
    h
}

/// A dispute assigned at village1 (reported at grid1) and referred to a court.
pub fn h_referred() -> Vec<Event> {
    let mut h = h_assigned_at(grid1(), village1());
    h.push(
        CaseReferred {
            target: ReferralTarget::Court,
            body: "法院".into(),
            reason: "诉讼".into(),
        }
        .into(),
    );
    h
}

/// … with a people's mediation by `mediator(town1)` in progress.
pub fn h_mediating(grid: RegionCode) -> Vec<Event> {
    let mut h = h_assigned(grid);
    h.push(mediation_started(&mediator(town1()), town1()));
    h
}

/// … and the mediation concluded with `outcome`.
pub fn h_mediated(grid: RegionCode, outcome: MediationOutcome) -> Vec<Event> {
    let mut h = h_mediating(grid);
    h.push(mediation_concluded(outcome));
    h
}

/// Assigned at `grid` and resolved there by the grid worker with `method`.
pub fn h_resolved(grid: RegionCode, method: ResolutionMethod) -> Vec<Event> {
    let mut h = h_assigned(grid);
    h.push(resolved(grid, &grid_worker(grid), method));
    h
}

/// Assigned at `unit` (above `grid`) and resolved there by its staff with `method`.
pub fn h_resolved_at(grid: RegionCode, unit: RegionCode, method: ResolutionMethod) -> Vec<Event> {
    let mut h = h_assigned_at(grid, unit);
    h.push(resolved(unit, &staff(unit), method));
    h
}

/// Resolved at `grid` by explanation and verified.
pub fn h_verified(grid: RegionCode) -> Vec<Event> {
    let mut h = h_resolved(grid, ResolutionMethod::Explanation);
    h.push(verified());
    h
}

/// … and closed.
pub fn h_closed(grid: RegionCode) -> Vec<Event> {
    let mut h = h_verified(grid);
    h.push(closed(false));
    h
}

// ------------------------------------------------------------------------------------------
// The sealed log of one case
// ------------------------------------------------------------------------------------------

/// The case id of every given/when/then test.
pub fn case_id() -> CaseId {
    CaseId::new("c1").unwrap()
}

/// The actor recorded in the headers of given events.
pub fn history_actor() -> Actor {
    actor("given".into(), Role::UnitStaff, Scope::Subtree(city()))
}

/// A case's sealed records, their envelopes and the incrementally folded state.
#[derive(Debug, Clone)]
pub struct History {
    /// The case.
    pub case_id: CaseId,
    /// Every record, version 1 first.
    pub records: Vec<EventRecord>,
    /// Every record decoded.
    pub envelopes: Vec<Envelope>,
    /// The fold of `envelopes`, maintained one event at a time.
    pub state: CaseState,
    commands: u64,
}

impl Default for History {
    fn default() -> Self {
        History::new(case_id())
    }
}

impl History {
    /// An empty log for `case_id`.
    pub fn new(case_id: CaseId) -> History {
        History {
            case_id,
            records: Vec::new(),
            envelopes: Vec::new(),
            state: CaseState::default(),
            commands: 0,
        }
    }

    /// Appends one commit as the bus would: the next versions, chained to the state's
    /// `last_hash`, sealed, decoded and folded. Returns the new records.
    pub fn append(&mut self, actor: &Actor, at: Timestamp, events: &[Event]) -> &[EventRecord] {
        self.commands += 1;
        let command_id = CommandId::new(format!("cmd-{}", self.commands)).unwrap();
        let first = self.records.len();
        let header = CommitHeader {
            case_id: self.case_id.clone(),
            command_id,
            occurred_at: at,
            recorded_at: at.plus_millis(250),
            actor: actor.clone(),
            correlation_id: None,
            causation_id: None,
        };
        for record in chain::seal(&header, self.state.head(), events).expect("seal") {
            let envelope = Envelope::try_from(&record).expect("a sealed record decodes");
            self.state = evolve(std::mem::take(&mut self.state), &envelope);
            self.records.push(record);
            self.envelopes.push(envelope);
        }
        &self.records[first..]
    }
}

// ------------------------------------------------------------------------------------------
// Given / when / then
// ------------------------------------------------------------------------------------------

/// A case built from past events.
#[must_use = "call .when(command)"]
pub struct Given {
    history: History,
    policy: Policy,
    clock: Option<Timestamp>,
}

/// The history `events`, sealed into case "c1" at [`t0`] and folded with `evolve`.
pub fn given(events: &[Event]) -> Given {
    let mut history = History::default();
    let actor = history_actor();
    for event in events {
        history.append(&actor, t0(), std::slice::from_ref(event));
    }
    Given {
        history,
        policy: Policy::default(),
        clock: None,
    }
}

/// A case that does not exist yet.
pub fn given_no_case() -> Given {
    given(&[])
}

impl Given {
    /// Decides with `policy` instead of the default.
    pub fn with_policy(mut self, policy: Policy) -> Given {
        self.policy = policy;
        self
    }

    /// Decides with the engine's clock at `now` instead of at the command's `occurred_at`.
    pub fn at_clock(mut self, now: Timestamp) -> Given {
        self.clock = Some(now);
        self
    }

    /// The state the history folds to.
    pub fn state(&self) -> &CaseState {
        &self.history.state
    }

    /// Decides `command` against the history, with the engine's clock at the command's
    /// `occurred_at` unless [`Given::at_clock`] set it.
    pub fn when(self, command: Command) -> When {
        let ctx = Context {
            regions: regions(),
            policy: &self.policy,
            now: self.clock.unwrap_or(command.occurred_at),
        };
        let result = decide(&self.history.state, &command, &ctx);
        When {
            history: self.history,
            command,
            result,
        }
    }
}

/// The decision on a command.
#[must_use = "call .then(events) or .then_rejected(rejection)"]
pub struct When {
    history: History,
    command: Command,
    result: Result<Vec<Event>, Rejection>,
}

impl When {
    /// Asserts the command was accepted with exactly `expected`; appends them and returns the
    /// state after them.
    #[track_caller]
    pub fn then(mut self, expected: &[Event]) -> CaseState {
        match &self.result {
            Ok(events) => assert_eq!(events.as_slice(), expected, "events of {:?}", self.command),
            Err(r) => panic!(
                "expected {expected:#?}\nbut {:?} was rejected: {r:?} ({r})",
                self.command
            ),
        }
        let actor = self.command.actor.clone();
        self.history
            .append(&actor, self.command.occurred_at, expected);
        self.history.state
    }

    /// Asserts the command was rejected with exactly `expected`.
    #[track_caller]
    pub fn then_rejected(self, expected: Rejection) {
        match self.result {
            Err(r) => assert_eq!(r, expected, "rejection of {:?}", self.command),
            Ok(events) => panic!(
                "expected rejection {expected:?}\nbut {:?} was accepted: {events:#?}",
                self.command
            ),
        }
    }

    /// The raw decision, for tests that inspect it themselves.
    pub fn result(&self) -> &Result<Vec<Event>, Rejection> {
        &self.result
    }
}

/// `Rejection::OutOfScope` for `actor` and `region`.
pub fn out_of_scope(actor: &Actor, region: RegionCode) -> Rejection {
    Rejection::OutOfScope {
        actor: actor.id().clone(),
        region,
    }
}

/// `Rejection::RoleNotPermitted` for `actor`'s role and `action`.
pub fn not_permitted(actor: &Actor, action: &'static str) -> Rejection {
    Rejection::RoleNotPermitted {
        role: actor.role(),
        action,
    }
}

/// `Rejection::InvalidStatus` for `action` in `status`.
pub fn invalid_status(action: &'static str, status: Status) -> Rejection {
    Rejection::InvalidStatus { action, status }
}

/// `Rejection::InvalidField`.
pub fn invalid_field(field: &'static str, reason: &'static str) -> Rejection {
    Rejection::InvalidField { field, reason }
}

/// A string of `n` characters (for length limits).
pub fn long_text(n: usize) -> String {
    "字".repeat(n)
}

/// One well-formed sample of every [`Action`] variant, in [`Action::NAMES`] order.
pub fn sample_actions() -> Vec<Action> {
    vec![
        report(grid1()).action(),
        Action::Register,
        Action::Reject {
            reason: RejectReason::Duplicate,
            note: "重复上报".into(),
        },
        Action::Assign {
            handler: aid("handler-1"),
        },
        Action::Escalate {
            to: None,
            reason: "需上级协调".into(),
        },
        Action::Delegate {
            to: grid1(),
            reason: "属地处置".into(),
        },
        Action::Refer {
            target: ReferralTarget::Court,
            body: "柯城区人民法院".into(),
            reason: "当事人起诉".into(),
        },
        Action::ReturnReferral {
            reason: "法院退回诉前调解".into(),
        },
        Action::StartMediation {
            mediation_type: MediationType::People,
            mediator: aid("med-330802005"),
            organization: town1(),
        },
        Action::HoldMediationSession {
            summary: "第一次调解".into(),
        },
        Action::ConcludeMediation {
            outcome: MediationOutcome::Agreement,
            note: "达成协议".into(),
        },
        Action::Resolve {
            method: ResolutionMethod::Explanation,
            summary: "解释疏导".into(),
        },
        Action::VerifyResolution {
            note: "核查属实".into(),
        },
        Action::RejectResolution {
            reason: "群众反映未解决".into(),
        },
        Action::Close,
        Action::RecordFeedback {
            satisfaction: Satisfaction::Satisfied,
            comment: String::new(),
        },
        Action::Reopen {
            reason: ReopenReason::NewFacts,
            note: "出现新情况".into(),
        },
        Action::ExtendDeadline {
            deadline: now().plus_days(60),
            reason: "情况复杂".into(),
        },
        Action::IssueSupervision {
            note: "请加快办理".into(),
        },
        Action::AddParty {
            party: Party {
                id: PartyId::new("p-late").unwrap(),
                role: PartyRole::ThirdParty,
            },
        },
        Action::AddNote {
            text: "已电话联系当事人".into(),
        },
        Action::AttachEvidence {
            content_hash: Hash::of(b"photo"),
            media_type: "image/jpeg".into(),
            description: "现场照片".into(),
        },
        Action::Merge {
            into: CaseId::new("c2").unwrap(),
            reason: "重复案件".into(),
        },
        Action::CorrectDetails {
            kind: None,
            category: Some(Category::Contract),
            source: None,
            severity: None,
            location: None,
            summary: None,
            reason: "录入错误".into(),
        },
        Action::TakeOver {
            reason: "案情复杂，提级领办".into(),
        },
    ]
}
