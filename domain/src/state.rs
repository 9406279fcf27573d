//! A case's state and `evolve`, which only records facts.
//!
//! [`CaseState`] is the fold of a case's events. [`evolve`] applies one [`Envelope`] without
//! judging it: every rule lives in [`crate::decide()`].

use serde::{Deserialize, Serialize};

use crate::chain::ChainHead;
use crate::event::*;
use crate::ids::{ActorId, CaseId, Hash};
use crate::record::{Envelope, EventHeader};
use crate::region::{Level, RegionCode};
use crate::text::Text;
use crate::time::Timestamp;
use crate::vocab::*;

/// Where a case is in its life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No event yet.
    #[default]
    New,
    /// Reported, not yet registered (信息收集).
    Reported,
    /// Registered and waiting for a handler (立案).
    Registered,
    /// Dispatched to a handler (处理中).
    Assigned,
    /// Handed to an outside body (移送).
    Referred,
    /// Resolved, waiting for verification (处置完毕).
    Resolved,
    /// Resolution verified (核查通过).
    Verified,
    /// Closed (结案).
    Closed,
    /// Not registered (不予立案). Final.
    Rejected,
    /// Merged into another case as a duplicate. Final.
    Merged,
}

impl Status {
    /// Every status, in life-cycle order.
    pub const ALL: [Status; 10] = [
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
    ];

    /// The statuses of a case its unit still has in hand — a unit's queue: from reported to
    /// verified (waiting to be closed). A case referred out waits on the outside body (it may
    /// never come back), so a queue lists it only when asked for.
    pub const IN_HAND: [Status; 5] = [
        Status::Reported,
        Status::Registered,
        Status::Assigned,
        Status::Resolved,
        Status::Verified,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Reported => "reported",
            Status::Registered => "registered",
            Status::Assigned => "assigned",
            Status::Referred => "referred",
            Status::Resolved => "resolved",
            Status::Verified => "verified",
            Status::Closed => "closed",
            Status::Rejected => "rejected",
            Status::Merged => "merged",
        }
    }

    /// Still being handled inside the system: reported, registered or assigned.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Reported | Status::Registered | Status::Assigned
        )
    }

    /// Rejected or merged: nothing more happens to the case but notes.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Rejected | Status::Merged)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was reported, as corrected since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseDetails {
    /// Dispute, incident or request.
    pub kind: CaseKind,
    /// Category.
    pub category: Category,
    /// Source.
    pub source: Source,
    /// Severity.
    pub severity: Severity,
    /// Where it happened.
    pub location: RegionCode,
    /// Summary (sealed in the log and in snapshots; see [`crate::text`]).
    pub summary: Text,
    /// When it happened.
    pub happened_at: Timestamp,
    /// The parties.
    pub parties: Vec<Party>,
}

/// A mediation in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActiveMediation {
    /// 人民/行政/司法.
    pub mediation_type: MediationType,
    /// The mediator.
    pub mediator: ActorId,
    /// The organization's region.
    pub organization: RegionCode,
    /// When it started.
    pub started_at: Timestamp,
    /// When it is due.
    pub deadline: Timestamp,
    /// Sessions held so far.
    pub sessions: u32,
}

/// A concluded mediation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediationRecord {
    /// 人民/行政/司法.
    pub mediation_type: MediationType,
    /// The mediator.
    pub mediator: ActorId,
    /// The organization's region.
    pub organization: RegionCode,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended.
    pub concluded_at: Timestamp,
    /// Sessions held.
    pub sessions: u32,
    /// Agreement or failure.
    pub outcome: MediationOutcome,
}

/// The resolution in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resolution {
    /// How.
    pub method: ResolutionMethod,
    /// The level that resolved it.
    pub level: Level,
    /// The unit that resolved it.
    pub unit: RegionCode,
    /// Who.
    pub by: ActorId,
    /// When.
    pub at: Timestamp,
    /// Whether it was on time.
    pub on_time: bool,
}

/// The referral in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Referral {
    /// The kind of body.
    pub target: ReferralTarget,
    /// The body.
    pub body: String,
    /// When.
    pub at: Timestamp,
}

/// The fold of a case's events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseState {
    /// The case id, once reported.
    pub id: Option<CaseId>,
    /// The version of the last applied event (0 for a new case).
    pub version: u64,
    /// The hash of the last applied event ([`Hash::ZERO`] for a new case).
    pub last_hash: Hash,
    /// Where the case is in its life.
    pub status: Status,
    /// What was reported, as corrected.
    pub details: Option<CaseDetails>,
    /// The unit holding the case: exactly one once reported.
    pub holder: Option<RegionCode>,
    /// The handler within the holding unit, once assigned.
    pub handler: Option<ActorId>,
    /// The deadline in force.
    pub deadline: Option<Timestamp>,
    /// When it was reported (occurred-at of the report).
    pub reported_at: Option<Timestamp>,
    /// When it was registered.
    pub registered_at: Option<Timestamp>,
    /// Every unit that held it, in order, starting with the receiving unit (escalations,
    /// delegations and take-overs each add one).
    pub path: Vec<RegionCode>,
    /// Times escalated.
    pub escalations: u32,
    /// Times delegated.
    pub delegations: u32,
    /// Times taken over by an ancestor unit (提级领办).
    #[serde(default)]
    pub takeovers: u32,
    /// The mediation in progress.
    pub mediation: Option<ActiveMediation>,
    /// Concluded mediations, oldest first.
    pub mediations: Vec<MediationRecord>,
    /// The resolution in force.
    pub resolution: Option<Resolution>,
    /// Times resolved (re-resolutions after rework or reopening included).
    pub resolutions: u32,
    /// Feedback on the resolution in force.
    pub feedback: Option<Satisfaction>,
    /// Times the resolution was sent back (返工).
    pub reworks: u32,
    /// Times reopened.
    pub reopens: u32,
    /// Times the deadline was extended (延期).
    pub extensions: u32,
    /// Times supervised (督办).
    pub supervisions: u32,
    /// The referral in force.
    pub referral: Option<Referral>,
    /// Why it was not registered.
    pub rejected: Option<RejectReason>,
    /// The case it was merged into.
    pub merged_into: Option<CaseId>,
    /// When it was last closed.
    pub closed_at: Option<Timestamp>,
    /// A concluded mediation reached an agreement that no resolution has used yet.
    #[serde(default)]
    pub agreement_pending: bool,
}

impl CaseState {
    /// Whether `actor` may read this case (its identity and history): a mediator the cases
    /// they mediate or mediated, analysts none, everyone else a case located in their scope or
    /// held there on its way. The API, the workbench and the command path (a merge names a
    /// case the actor must be able to see) all ask here.
    pub fn readable_by(&self, actor: &crate::actor::Actor) -> bool {
        use crate::actor::Role;
        match actor.role() {
            Role::Analyst => false,
            Role::Mediator => {
                self.mediation
                    .as_ref()
                    .is_some_and(|m| &m.mediator == actor.id())
                    || self.mediations.iter().any(|m| &m.mediator == actor.id())
            }
            _ => {
                let scope = actor.scope();
                self.details
                    .as_ref()
                    .is_some_and(|d| scope.covers(d.location))
                    || self.path.iter().any(|u| scope.covers(*u))
            }
        }
    }

    /// Where the case's hash chain ends: the version and hash of the last applied event.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            version: self.version,
            hash: self.last_hash,
        }
    }

    /// Whether the case is open and past its deadline at `t`.
    pub fn is_overdue(&self, t: Timestamp) -> bool {
        self.status.is_open() && self.deadline.is_some_and(|d| t > d)
    }

    /// The level of the holding unit.
    pub fn holder_level(&self) -> Option<Level> {
        self.holder.map(|h| h.level())
    }

    /// Folds a whole history.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Envelope>) -> CaseState {
        events.into_iter().fold(CaseState::default(), evolve)
    }
}

/// Applies one recorded event. Records facts only; never rejects.
pub fn evolve(mut s: CaseState, env: &Envelope) -> CaseState {
    s.apply(env);
    s
}

impl CaseState {
    /// In-place form of [`evolve`].
    pub fn apply(&mut self, env: &Envelope) {
        self.apply_recorded(&env.header, &env.event, env.hash);
    }

    /// [`CaseState::apply`] on the parts of an envelope, for readers that decode the body
    /// next to a stored header instead of building an [`Envelope`].
    pub fn apply_recorded(&mut self, header: &EventHeader, event: &Event, hash: Hash) {
        let at = header.occurred_at;
        self.version = header.case_version;
        self.last_hash = hash;
        if self.id.is_none() {
            self.id = Some(header.case_id.clone());
        }
        match event {
            Event::CaseReported(e) => {
                self.status = Status::Reported;
                self.details = Some(CaseDetails {
                    kind: e.kind,
                    category: e.category,
                    source: e.source,
                    severity: e.severity,
                    location: e.location,
                    summary: e.summary.clone(),
                    happened_at: e.happened_at,
                    parties: e.parties.clone(),
                });
                self.holder = Some(e.received_by);
                self.path.push(e.received_by);
                self.reported_at = Some(at);
            }
            Event::CaseRegistered(e) => {
                self.status = Status::Registered;
                self.registered_at = Some(at);
                if let Some(d) = e.deadline {
                    self.deadline = Some(d);
                }
            }
            Event::CaseRejected(e) => {
                self.status = Status::Rejected;
                self.rejected = Some(e.reason);
                self.deadline = None;
            }
            Event::CaseAssigned(e) => {
                self.status = Status::Assigned;
                self.handler = Some(e.handler.clone());
                self.deadline = Some(e.deadline);
            }
            Event::CaseEscalated(e) => {
                self.move_to(e.to, e.deadline);
                self.escalations += 1;
            }
            Event::CaseDelegated(e) => {
                self.move_to(e.to, e.deadline);
                self.delegations += 1;
            }
            Event::CaseTakenOver(e) => {
                self.move_to(e.to, e.deadline);
                self.takeovers += 1;
            }
            Event::CaseReferred(e) => {
                self.status = Status::Referred;
                self.referral = Some(Referral {
                    target: e.target,
                    body: e.body.clone(),
                    at,
                });
                self.handler = None;
                self.deadline = None;
            }
            Event::ReferralReturned(e) => {
                self.status = Status::Registered;
                self.referral = None;
                self.holder = Some(e.unit);
                self.deadline = Some(e.deadline);
            }
            Event::MediationStarted(e) => {
                self.mediation = Some(ActiveMediation {
                    mediation_type: e.mediation_type,
                    mediator: e.mediator.clone(),
                    organization: e.organization,
                    started_at: at,
                    deadline: e.deadline,
                    sessions: 0,
                });
            }
            Event::MediationSessionHeld(e) => {
                if let Some(m) = &mut self.mediation {
                    m.sessions = e.session;
                }
            }
            Event::MediationConcluded(e) => {
                self.agreement_pending = e.outcome == MediationOutcome::Agreement;
                if let Some(m) = self.mediation.take() {
                    self.mediations.push(MediationRecord {
                        mediation_type: m.mediation_type,
                        mediator: m.mediator,
                        organization: m.organization,
                        started_at: m.started_at,
                        concluded_at: at,
                        sessions: m.sessions,
                        outcome: e.outcome,
                    });
                }
            }
            Event::CaseResolved(e) => {
                self.status = Status::Resolved;
                self.resolution = Some(Resolution {
                    method: e.method,
                    level: e.level,
                    unit: e.unit,
                    by: e.by.clone(),
                    at,
                    on_time: e.on_time,
                });
                self.resolutions += 1;
                self.feedback = None;
                self.agreement_pending = false;
            }
            Event::ResolutionVerified(_) => self.status = Status::Verified,
            Event::ResolutionRejected(e) => {
                self.status = Status::Assigned;
                self.resolution = None;
                self.feedback = None;
                self.deadline = Some(e.deadline);
                self.reworks += 1;
            }
            Event::CaseClosed(_) => {
                self.status = Status::Closed;
                self.closed_at = Some(at);
            }
            Event::FeedbackRecorded(e) => self.feedback = Some(e.satisfaction),
            Event::CaseReopened(e) => {
                self.status = Status::Registered;
                self.holder = Some(e.unit);
                self.handler = None;
                self.resolution = None;
                self.feedback = None;
                self.deadline = Some(e.deadline);
                self.closed_at = None;
                self.reopens += 1;
            }
            Event::DeadlineExtended(e) => {
                self.deadline = Some(e.deadline);
                self.extensions += 1;
            }
            Event::SupervisionIssued(_) => self.supervisions += 1,
            Event::PartyAdded(e) => {
                if let Some(d) = self.details.as_mut() {
                    d.parties.push(e.party.clone());
                }
            }
            Event::NoteAdded(_) | Event::EvidenceAttached(_) => {}
            Event::CaseMerged(e) => {
                self.status = Status::Merged;
                self.merged_into = Some(e.into.clone());
                self.deadline = None;
            }
            Event::CaseDetailsCorrected(e) => {
                if let Some(d) = &mut self.details {
                    if let Some(v) = e.kind {
                        d.kind = v;
                    }
                    if let Some(v) = e.category {
                        d.category = v;
                    }
                    if let Some(v) = e.source {
                        d.source = v;
                    }
                    if let Some(v) = e.severity {
                        d.severity = v;
                    }
                    if let Some(v) = e.location {
                        d.location = v;
                    }
                    if let Some(v) = &e.summary {
                        d.summary = v.clone();
                    }
                }
            }
        }
    }

    fn move_to(&mut self, to: RegionCode, deadline: Timestamp) {
        self.holder = Some(to);
        self.path.push(to);
        self.handler = None;
        self.deadline = Some(deadline);
        if self.status == Status::Assigned {
            self.status = Status::Registered;
        }
    }
}
