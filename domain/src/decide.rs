//! The decider: every business rule of a case's life, in one pure function.
//!
//! [`decide`] takes the current [`CaseState`], a [`Command`] and a [`Context`] (the region tree,
//! the policy and the engine's clock) and returns the events to append, or a typed
//! [`Rejection`] naming the rule that refused. It does no I/O and reads no clock: the act's
//! time comes from the command, the engine's clock from the context.
//!
//! # Who may do what
//!
//! | actor | may |
//! |---|---|
//! | grid worker | report in their grid; register, assign (to themselves), escalate, start mediation, resolve, close on the spot and record feedback on cases their grid holds |
//! | unit staff | report in their subtree; everything on cases their unit holds; take over (提级领办) an open case held below their unit; verify, reject a resolution, close, feedback and reopen on cases held in their subtree — never verifying or rejecting their own resolution; approve extensions and supervise below them |
//! | mediator | hold sessions and conclude the mediations that name them; notes on those cases |
//! | supervisor | supervise, extend deadlines, verify (or reject) a resolution and reopen in their subtree; no take-over: they hold no cases |
//! | admin | audited corrections of cases whose location and holder lie in their subtree; a corrected location stays inside the holder's subtree |
//! | auditor, analyst | nothing: read-only |
//!
//! # Rules beyond who
//!
//! **What a case is about.** A report's category must fit its kind ([`Category::fits`];
//! [`Rejection::CategoryNotForKind`]), and so must the pair a correction of the kind or the
//! category leaves. Events recorded before this rule keep whatever pair they carry, and a
//! correction touching neither kind nor category does not judge it.
//!
//! **Times.** A command's `occurred_at`, and a report's `happened_at`, may lie at most
//! [`TimePolicy::future_skew_minutes`](crate::policy::TimePolicy::future_skew_minutes) (default
//! 5) after the engine's clock [`Context::now`] ([`Rejection::InTheFuture`]). Back-dating of
//! `occurred_at` is bounded twice: never before the case's report ([`Rejection::InvalidField`]),
//! and never more than
//! [`TimePolicy::max_backdate_days`](crate::policy::TimePolicy::max_backdate_days) (default 30;
//! 0 lifts the bound) before the clock ([`Rejection::TooFarInThePast`]), because `occurred_at`
//! decides whether a resolution was on time and in which period an event counts: without a
//! bound a unit could date a late resolution before its deadline, or into a month whose report
//! is already out. A month covers late entry (补录) after a network outage or a week in the
//! mountains; imports of older records lift the bound or pass their own clock. `happened_at`
//! is not bounded in the past: old grievances are reported too.
//!
//! **Deadlines.** The clock starts at registration (立案) with the registering unit's deadline
//! (level, severity, kind and source: [`crate::policy::DeadlinePolicy::due`]), so a case
//! registered and never assigned becomes overdue; a move before registration (the escalation
//! of a critical report, a take-over) already started it, and registration keeps it.
//! Assignment keeps the deadline running. A new clock starts, from the event's time, at each
//! move (escalation, delegation, take-over: the new holder's deadline), at the return of a
//! referral, at a rework (返工) and at a reopening; a referral, rejection or merge stops it; an
//! approved extension (延期) moves it. Cases registered by a version 1 `CaseRegistered`, which
//! carried no deadline, start their clock at assignment, as they did.
//!
//! **Critical cases (重大) reach the township at once.** A critical report received below the
//! township, a correction of an open case to critical severity, and a returned referral, a
//! rework or a reopening of a critical case held below the township each add a `CaseEscalated`
//! to its township in the same commit, with [`CRITICAL_REASON`] as its reason and the
//! township's deadline. A correction to critical waits for a running mediation to conclude
//! ([`Rejection::MediationInProgress`]): a case never moves during one. A case that is not open
//! when corrected (referred, resolved, verified, closed) moves when it is open again. Critical
//! cases are not delegated below the township ([`Rejection::CriticalBelowTownship`]).
//!
//! **Corrections fix the record and never move a case.** A corrected location must lie in the
//! holding unit's subtree ([`Rejection::LocationOutsideHolder`]). To put a case somewhere else,
//! move it first — the holder escalates to a unit covering both places, or that unit takes it
//! over — so that who answers for it is decided by a unit, with a reason and a deadline, not by
//! a data fix. A case no longer open keeps the location where it was handled.
//!
//! **Take-over (提级领办).** Staff of an ancestor unit take an open (reported, registered or
//! assigned) case held below them, with a reason ([`Action::TakeOver`] → `CaseTakenOver`); the
//! case moves up to their unit, is dispatched there again, and the taking unit's deadline runs
//! from the take-over. Not while a mediation runs ([`Rejection::MediationInProgress`]); not by
//! the unit holding it ([`Rejection::NotAboveHolder`]); not by supervisors, who press (督办)
//! and approve but hold no cases ([`Rejection::RoleNotPermitted`]). A take-over is its own
//! fact, not an escalation: the holder did not send the case up.
//!
//! **Separation of duties in 核查.** Whoever resolved a case neither verifies the resolution
//! nor sends it back for rework ([`Rejection::ResolverCannotVerify`]) — sending one's own work
//! back would also restart its clock. By default another staff member of the resolving unit
//! may verify; with
//! [`VerifierRule::allow_same_unit`](crate::policy::VerifierRule::allow_same_unit) = false
//! verification comes from a unit above or a supervisor ([`Rejection::NotAboveHolder`]).

use crate::actor::{Actor, Role};
use crate::command::{Action, Command};
use crate::event::*;
use crate::ids::{ActorId, CaseId, PartyId};
use crate::policy::Policy;
use crate::region::{Level, RegionCode, RegionTree};
use crate::state::{CaseState, Status};
use crate::text::Text;
use crate::time::Timestamp;
use crate::vocab::*;

/// Longest accepted free text, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most parties on one case.
pub const MAX_PARTIES: usize = 50;
/// The reason of the escalation that brings a critical case to its township at once.
pub const CRITICAL_REASON: &str =
    "重大事项即时上报乡镇 (critical: escalated to the township at once)";

/// What the decider needs besides the state and the command.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The known regions; unknown codes are rejected.
    pub regions: &'a RegionTree,
    /// Deadlines, closing, verification and time policy.
    pub policy: &'a Policy,
    /// The engine's clock when deciding: the `recorded_at` the events will carry. The command
    /// path passes its clock; an import of historical data (the fixture generator) passes the
    /// simulated clock it records with.
    pub now: Timestamp,
}

/// Checks the case a merge keeps: `target` is case `into` as the command path read it (a case
/// never reported reads as an empty state). It must be one `actor` can see, standing on its
/// own: not rejected, not merged into another (a closed case may keep a late duplicate).
/// The decider sees one case at a time, so the command path asks this before deciding a
/// merge; a merge into the case itself is the decider's [`Rejection::MergeIntoSelf`].
pub fn check_merge_target(
    actor: &Actor,
    into: &CaseId,
    target: &CaseState,
) -> Result<(), Rejection> {
    if target.status == Status::New || !target.readable_by(actor) {
        return Err(Rejection::MergeTargetUnknown { into: into.clone() });
    }
    if matches!(target.status, Status::Rejected | Status::Merged) {
        return Err(Rejection::MergeTargetNotKept {
            into: into.clone(),
            status: target.status,
        });
    }
    Ok(())
}

/// Why a command was refused: one variant per rule. Nothing was appended.
///
/// Callers show the message to the user; the variant name is the stable machine code
/// ([`Rejection::code`], derived by `strum`).
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr, strum::VariantNames,
)]
#[non_exhaustive]
pub enum Rejection {
    /// Auditors and analysts only read.
    #[error("role {role} is read-only and cannot issue commands")]
    ReadOnlyRole {
        /// The role.
        role: Role,
    },
    /// The role may not take this action at all.
    #[error("role {role} may not {action}")]
    RoleNotPermitted {
        /// The role.
        role: Role,
        /// The action.
        action: &'static str,
    },
    /// The region is outside the actor's scope.
    #[error("{region} is outside the scope of {actor}")]
    OutOfScope {
        /// The actor.
        actor: ActorId,
        /// The region.
        region: RegionCode,
    },
    /// Only the holding unit acts on a case.
    #[error("the case is held by {holder}, not by the actor's unit {unit}")]
    NotHoldingUnit {
        /// The holding unit.
        holder: RegionCode,
        /// The actor's unit.
        unit: RegionCode,
    },
    /// This approval must come from above the holding unit.
    #[error("{action} must come from above the holding unit {holder}")]
    NotAboveHolder {
        /// The action.
        action: &'static str,
        /// The holding unit.
        holder: RegionCode,
    },
    /// Only the mediator named by the active mediation runs it.
    #[error("the active mediation is run by {mediator}, not {actor}")]
    NotAssignedMediator {
        /// The assigned mediator.
        mediator: ActorId,
        /// The actor.
        actor: ActorId,
    },
    /// A grid worker assigns cases only to themselves.
    #[error("a grid worker can only assign a case to themselves, not to {handler}")]
    AssignToOther {
        /// The requested handler.
        handler: ActorId,
    },
    /// The code is well-formed but names no known region.
    #[error("unknown region {code}: not in the division table or the grid list")]
    UnknownRegion {
        /// The code.
        code: RegionCode,
    },
    /// A report for a case id that already exists.
    #[error("the case already exists")]
    CaseAlreadyExists,
    /// A command for a case that was never reported.
    #[error("no such case: report it first")]
    CaseNotFound,
    /// The action is not possible in the case's current status.
    #[error("cannot {action} a case that is {status}")]
    InvalidStatus {
        /// The action.
        action: &'static str,
        /// The current status.
        status: Status,
    },
    /// Escalation goes only to an ancestor of the holding unit.
    #[error("cannot escalate from {from} to {to}: not an ancestor")]
    EscalationNotToAncestor {
        /// The holding unit.
        from: RegionCode,
        /// The requested unit.
        to: RegionCode,
    },
    /// Delegation goes only to a descendant of the holding unit.
    #[error("cannot delegate from {from} to {to}: not a descendant")]
    DelegationNotToDescendant {
        /// The holding unit.
        from: RegionCode,
        /// The requested unit.
        to: RegionCode,
    },
    /// Critical cases stay at township level or above.
    #[error("a critical case cannot be delegated below the township (to {to})")]
    CriticalBelowTownship {
        /// The requested unit.
        to: RegionCode,
    },
    /// Only disputes are mediated.
    #[error("only disputes are mediated; this case is a {kind}")]
    NotADispute {
        /// The case's kind.
        kind: CaseKind,
    },
    /// A mediation is already running.
    #[error("a mediation is already in progress")]
    MediationAlreadyActive,
    /// Free text holds an ID number or a mobile number: they go into a party's fields (the
    /// encrypted vault), not into the case's permanent record.
    #[error(
        "{field} contains {what}: put it in the party's personal fields (kept encrypted and \
         erasable), not in free text, which every event keeps forever"
    )]
    PersonalNumberInText {
        /// The text field.
        field: &'static str,
        /// `an ID number` or `a mobile number`.
        what: &'static str,
    },
    /// The party is already a party to this case.
    #[error("party {party} is already a party to this case")]
    PartyAlreadyInCase {
        /// The party.
        party: PartyId,
    },
    /// A mediation outcome or session before any mediation started.
    #[error("no mediation in progress: start one first")]
    MediationNotStarted,
    /// The action must wait until the running mediation is concluded.
    #[error("cannot {action} while a mediation is in progress: conclude it first")]
    MediationInProgress {
        /// The action.
        action: &'static str,
    },
    /// Resolving by mediated agreement needs a concluded mediation that reached one.
    #[error("no mediated agreement: the last mediation must have concluded with an agreement")]
    NoMediatedAgreement,
    /// Verify, reject or give feedback on a resolution before there is one.
    #[error("the case is not resolved")]
    NotResolved,
    /// Close before the resolution was verified.
    #[error("the resolution is not verified (only on-the-spot grid resolutions close without it)")]
    NotVerified,
    /// Reopen a case that is not closed.
    #[error("only a closed case can be reopened")]
    NotClosed,
    /// Feedback once per resolution.
    #[error("feedback was already recorded for this resolution")]
    FeedbackAlreadyRecorded,
    /// Extend a deadline that does not exist.
    #[error("the case has no deadline running")]
    NoDeadline,
    /// An extension must move the deadline later.
    #[error("the new deadline {requested} is not after the current one {current}")]
    DeadlineNotLater {
        /// The deadline in force.
        current: Timestamp,
        /// The requested deadline.
        requested: Timestamp,
    },
    /// An extension gives time from when it is approved: a new deadline already passed
    /// leaves the case overdue.
    #[error("the new deadline {requested} has already passed when it is approved ({at})")]
    DeadlinePassed {
        /// The requested deadline.
        requested: Timestamp,
        /// When the extension is approved.
        at: Timestamp,
    },
    /// Only the mediator records an agreement: the holding unit ends a mediation its mediator
    /// cannot finish as not agreed.
    #[error(
        "only the mediator records an agreement; the holding unit ends a mediation as not agreed"
    )]
    AgreementByMediatorOnly,
    /// A mediation is by the holding unit's own organization or one above it.
    #[error("{organization} is neither the holding unit {holder} nor above it: mediation is by the holder's own organization or one above")]
    MediationOrganizationNotAbove {
        /// The organization named.
        organization: RegionCode,
        /// The holding unit.
        holder: RegionCode,
    },
    /// A case is assigned to one of its holding unit's people (as the deployment lists them).
    #[error("{handler} is not one of the people of {unit}, which holds the case")]
    HandlerNotOfUnit {
        /// The person named.
        handler: ActorId,
        /// The holding unit.
        unit: RegionCode,
    },
    /// A mediation is started with one of the organization's mediators (as the deployment
    /// lists them).
    #[error("{mediator} is not a mediator of {organization}")]
    MediatorNotOfOrganization {
        /// The person named.
        mediator: ActorId,
        /// The mediation organization.
        organization: RegionCode,
    },
    /// A case cannot be merged into itself.
    #[error("a case cannot be merged into itself")]
    MergeIntoSelf,
    /// A merge keeps a case the actor can see: there is no case `into`, or it is outside the
    /// actor's scope (the two are not told apart, as when reading a case).
    #[error("there is no case {into} you can see to merge into")]
    MergeTargetUnknown {
        /// The case named to keep.
        into: CaseId,
    },
    /// A merge keeps a case that stands on its own: not one rejected (不予立案) or merged into
    /// another itself. (A closed case may keep a late duplicate.)
    #[error("case {into} is {status}: it cannot keep another case")]
    MergeTargetNotKept {
        /// The case named to keep.
        into: CaseId,
        /// Its status.
        status: Status,
    },
    /// A corrected location outside the holding unit's subtree: a correction does not move a
    /// case. Move it first (escalate to a unit covering both places, or that unit takes it
    /// over), then correct.
    #[error(
        "{location} is outside the holding unit {holder}: move the case there first, then correct"
    )]
    LocationOutsideHolder {
        /// The requested location.
        location: RegionCode,
        /// The holding unit.
        holder: RegionCode,
    },
    /// A correction that changes nothing.
    #[error("the correction changes nothing")]
    EmptyCorrection,
    /// Whoever resolved a case does not verify it, nor send it back for rework (核查 is done
    /// by someone else).
    #[error("{resolver} resolved the case and cannot verify it: another staff member or a unit above verifies")]
    ResolverCannotVerify {
        /// The resolver.
        resolver: ActorId,
    },
    /// The category does not fit the case's kind ([`Category::fits`]): dispute categories for
    /// disputes, incident and request categories for those; `other` fits every kind.
    #[error("category {category} does not fit a {kind}: choose one of Category::for_kind({kind})")]
    CategoryNotForKind {
        /// The category.
        category: Category,
        /// The kind.
        kind: CaseKind,
    },
    /// A time later than the engine's clock plus the allowed skew
    /// ([`crate::policy::TimePolicy::future_skew_minutes`]).
    #[error("{field} is in the future: it may be at most {latest} (check the device's clock)")]
    InTheFuture {
        /// `occurred_at` or `happened_at`.
        field: &'static str,
        /// The latest time accepted now.
        latest: Timestamp,
    },
    /// An `occurred_at` further back than the back-dating window
    /// ([`crate::policy::TimePolicy::max_backdate_days`]).
    #[error("{field} is too far in the past: it may be no earlier than {earliest}")]
    TooFarInThePast {
        /// `occurred_at`.
        field: &'static str,
        /// The earliest time accepted now.
        earliest: Timestamp,
    },
    /// A field is missing, empty, too long or inconsistent.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl Rejection {
    /// Every machine code a rejection can carry, in declaration order.
    pub const CODES: &'static [&'static str] = <Self as strum::VariantNames>::VARIANTS;

    /// The stable machine code: the variant name, e.g. `"OutOfScope"`.
    pub fn code(&self) -> &'static str {
        self.into()
    }

    /// Whether the refusal is about *who* asks (role, scope, holding unit, assignment,
    /// separation of duties) rather than about the case or the request: front ends answer these
    /// as forbidden (HTTP 403, or 404 when the actor may not even know the case exists), never
    /// as a domain refusal.
    pub fn is_authorization(&self) -> bool {
        matches!(
            self,
            Rejection::ReadOnlyRole { .. }
                | Rejection::RoleNotPermitted { .. }
                | Rejection::OutOfScope { .. }
                | Rejection::NotHoldingUnit { .. }
                | Rejection::NotAboveHolder { .. }
                | Rejection::NotAssignedMediator { .. }
                | Rejection::AssignToOther { .. }
                | Rejection::ResolverCannotVerify { .. }
        )
    }
}

type Decision = Result<Vec<Event>, Rejection>;

/// Decides what a command means for a case: the events to append, or why not.
pub fn decide(state: &CaseState, cmd: &Command, ctx: &Context<'_>) -> Decision {
    let actor = &cmd.actor;
    if !actor.role().can_command() {
        return Err(Rejection::ReadOnlyRole { role: actor.role() });
    }
    check_time(cmd.occurred_at, "occurred_at", ctx, true)?;
    let d = Decider {
        s: state,
        cmd,
        actor,
        ctx,
        action: cmd.action.name(),
    };
    if let Action::Report { .. } = cmd.action {
        return d.report();
    }
    if state.status == Status::New {
        return Err(Rejection::CaseNotFound);
    }
    d.decide_existing()
}

struct Decider<'a> {
    s: &'a CaseState,
    cmd: &'a Command,
    actor: &'a Actor,
    ctx: &'a Context<'a>,
    action: &'static str,
}

/// Who, relative to the holding unit, may take an action.
#[derive(Clone, Copy)]
enum Who {
    /// Grid workers and unit staff of the holding unit.
    Holder { grid_worker: bool },
    /// Unit staff of the holding unit or above, and supervisors covering it.
    Overseer { grid_worker: bool, supervisor: bool },
    /// Unit staff strictly above the holding unit, and supervisors covering it.
    Above,
}

fn text(field: &'static str, s: &str, required: bool) -> Result<(), Rejection> {
    if required && s.trim().is_empty() {
        return Err(Rejection::InvalidField {
            field,
            reason: "must not be empty",
        });
    }
    if s.chars().count() > MAX_TEXT_CHARS {
        return Err(Rejection::InvalidField {
            field,
            reason: "longer than 4000 characters",
        });
    }
    if let Some(what) = crate::identifiers::personal_number_in(s) {
        return Err(Rejection::PersonalNumberInText { field, what });
    }
    Ok(())
}

/// Checks `t` against the engine's clock: not after it plus the allowed skew, and, when
/// `backdating_bounded`, not before the back-dating window.
fn check_time(
    t: Timestamp,
    field: &'static str,
    ctx: &Context<'_>,
    backdating_bounded: bool,
) -> Result<(), Rejection> {
    let times = &ctx.policy.times;
    let latest = times.latest(ctx.now);
    if t > latest {
        return Err(Rejection::InTheFuture { field, latest });
    }
    match times.earliest(ctx.now) {
        Some(earliest) if backdating_bounded && t < earliest => {
            Err(Rejection::TooFarInThePast { field, earliest })
        }
        _ => Ok(()),
    }
}

impl Decider<'_> {
    fn at(&self) -> Timestamp {
        self.cmd.occurred_at
    }

    fn holder(&self) -> RegionCode {
        // Every reported case has a holder; `New` was handled before.
        self.s.holder.unwrap_or_else(|| self.actor.unit())
    }

    fn details(&self) -> &crate::state::CaseDetails {
        self.s
            .details
            .as_ref()
            .expect("a reported case has details")
    }

    fn known(&self, code: RegionCode) -> Result<(), Rejection> {
        if self.ctx.regions.contains_code(code) {
            Ok(())
        } else {
            Err(Rejection::UnknownRegion { code })
        }
    }

    fn status_in(&self, allowed: &[Status]) -> Result<(), Rejection> {
        if allowed.contains(&self.s.status) {
            Ok(())
        } else {
            Err(Rejection::InvalidStatus {
                action: self.action,
                status: self.s.status,
            })
        }
    }

    fn not_permitted(&self) -> Rejection {
        Rejection::RoleNotPermitted {
            role: self.actor.role(),
            action: self.action,
        }
    }

    fn out_of_scope(&self, region: RegionCode) -> Rejection {
        Rejection::OutOfScope {
            actor: self.actor.id().clone(),
            region,
        }
    }

    /// Checks the actor may act on the case as `who` says.
    fn allow(&self, who: Who) -> Result<(), Rejection> {
        let holder = self.holder();
        let role = self.actor.role();
        let scope = self.actor.scope();
        let unit = self.actor.unit();
        match who {
            Who::Holder { grid_worker } => match role {
                Role::UnitStaff | Role::GridWorker if role == Role::UnitStaff || grid_worker => {
                    if !scope.covers(holder) {
                        Err(self.out_of_scope(holder))
                    } else if unit != holder {
                        Err(Rejection::NotHoldingUnit { holder, unit })
                    } else {
                        Ok(())
                    }
                }
                _ => Err(self.not_permitted()),
            },
            Who::Overseer {
                grid_worker,
                supervisor,
            } => match role {
                Role::UnitStaff => self.covered(holder),
                Role::Supervisor if supervisor => self.covered(holder),
                Role::GridWorker if grid_worker => {
                    if !scope.covers(holder) {
                        Err(self.out_of_scope(holder))
                    } else {
                        Ok(())
                    }
                }
                _ => Err(self.not_permitted()),
            },
            Who::Above => match role {
                Role::Supervisor => self.covered(holder),
                Role::UnitStaff => {
                    self.covered(holder)?;
                    if unit == holder {
                        Err(Rejection::NotAboveHolder {
                            action: self.action,
                            holder,
                        })
                    } else {
                        Ok(())
                    }
                }
                _ => Err(self.not_permitted()),
            },
        }
    }

    fn covered(&self, region: RegionCode) -> Result<(), Rejection> {
        if self.actor.scope().covers(region) {
            Ok(())
        } else {
            Err(self.out_of_scope(region))
        }
    }

    fn mediation_idle(&self) -> Result<(), Rejection> {
        if self.s.mediation.is_some() {
            Err(Rejection::MediationInProgress {
                action: self.action,
            })
        } else {
            Ok(())
        }
    }

    fn due_at(&self, level: Level) -> Timestamp {
        let d = self.details();
        self.ctx
            .policy
            .deadlines
            .due(level, d.severity, d.kind, d.source, self.at())
    }

    fn report(&self) -> Decision {
        let Action::Report {
            kind,
            category,
            source,
            severity,
            location,
            parties,
            summary,
            happened_at,
        } = &self.cmd.action
        else {
            unreachable!("report() is called for reports only")
        };
        if !matches!(self.actor.role(), Role::GridWorker | Role::UnitStaff) {
            return Err(self.not_permitted());
        }
        if self.s.status != Status::New {
            return Err(Rejection::CaseAlreadyExists);
        }
        self.known(*location)?;
        self.covered(*location)?;
        fits(*category, *kind)?;
        text("summary", summary, true)?;
        if parties.len() > MAX_PARTIES {
            return Err(Rejection::InvalidField {
                field: "parties",
                reason: "more than 50 parties",
            });
        }
        check_time(*happened_at, "happened_at", self.ctx, false)?;
        if *happened_at > self.at() {
            return Err(Rejection::InvalidField {
                field: "happened_at",
                reason: "is after the report",
            });
        }
        let received_by = self.actor.unit();
        let mut events = vec![Event::CaseReported(CaseReported {
            kind: *kind,
            category: *category,
            source: *source,
            severity: *severity,
            location: *location,
            received_by,
            parties: parties.clone(),
            summary: summary.clone().into(),
            happened_at: *happened_at,
        })];
        events.extend(self.critical_to_township(received_by, *severity, *kind, *source));
        Ok(events)
    }

    /// The escalation that brings a critical case held below the township to its township at
    /// once (DOMAIN.md), with the rule as its reason and the township's deadline; `None` for
    /// other cases.
    fn critical_to_township(
        &self,
        holder: RegionCode,
        severity: Severity,
        kind: CaseKind,
        source: Source,
    ) -> Option<Event> {
        if severity != Severity::Critical || holder.level() >= Level::Township {
            return None;
        }
        let to = holder
            .ancestor_at(Level::Township)
            .expect("a grid or village has a township");
        let deadline =
            self.ctx
                .policy
                .deadlines
                .due(Level::Township, severity, kind, source, self.at());
        Some(
            CaseEscalated {
                from: holder,
                to,
                to_level: Level::Township,
                reason: CRITICAL_REASON.into(),
                deadline,
            }
            .into(),
        )
    }

    /// [`Decider::critical_to_township`] for the case as it stands: for the commands that make
    /// a case open again where it was held (a returned referral, a rework, a reopening).
    fn critical_back_in(&self, event: Event) -> Vec<Event> {
        let d = self.details();
        let mut events = vec![event];
        events.extend(self.critical_to_township(self.holder(), d.severity, d.kind, d.source));
        events
    }

    fn decide_existing(&self) -> Decision {
        use Status::*;
        let s = self.s;
        if s.reported_at.is_some_and(|r| self.at() < r) {
            return Err(Rejection::InvalidField {
                field: "occurred_at",
                reason: "is before the case was reported",
            });
        }
        let holder = self.holder();
        let open = [Reported, Registered, Assigned];
        match &self.cmd.action {
            Action::Report { .. } => unreachable!("handled in decide"),
            Action::Register => {
                self.allow(Who::Holder { grid_worker: true })?;
                self.status_in(&[Reported])?;
                // The clock starts at 立案, unless a move before registration already started
                // it (like the escalation of a critical report).
                let deadline = s.deadline.unwrap_or_else(|| self.due_at(holder.level()));
                Ok(vec![CaseRegistered {
                    unit: holder,
                    level: holder.level(),
                    deadline: Some(deadline),
                }
                .into()])
            }
            Action::Reject { reason, note } => {
                self.allow(Who::Holder { grid_worker: true })?;
                self.status_in(&[Reported])?;
                text("note", note, false)?;
                Ok(vec![CaseRejected {
                    reason: *reason,
                    note: note.clone().into(),
                }
                .into()])
            }
            Action::Assign { handler } => {
                self.allow(Who::Holder { grid_worker: true })?;
                if self.actor.role() == Role::GridWorker && handler != self.actor.id() {
                    return Err(Rejection::AssignToOther {
                        handler: handler.clone(),
                    });
                }
                self.status_in(&[Registered, Assigned])?;
                let deadline = s.deadline.unwrap_or_else(|| self.due_at(holder.level()));
                Ok(vec![CaseAssigned {
                    unit: holder,
                    handler: handler.clone(),
                    deadline,
                }
                .into()])
            }
            Action::Escalate { to, reason } => {
                self.allow(Who::Holder { grid_worker: true })?;
                self.status_in(&open)?;
                self.mediation_idle()?;
                text("reason", reason, true)?;
                let to = match to {
                    Some(to) => *to,
                    None => holder.parent().ok_or(Rejection::InvalidField {
                        field: "to",
                        reason: "a city-held case has no unit to escalate to",
                    })?,
                };
                if to == holder || !to.contains(holder) {
                    return Err(Rejection::EscalationNotToAncestor { from: holder, to });
                }
                self.known(to)?;
                Ok(vec![CaseEscalated {
                    from: holder,
                    to,
                    to_level: to.level(),
                    reason: reason.clone().into(),
                    deadline: self.due_at(to.level()),
                }
                .into()])
            }
            Action::Delegate { to, reason } => {
                self.allow(Who::Holder { grid_worker: false })?;
                self.status_in(&[Registered, Assigned])?;
                self.mediation_idle()?;
                text("reason", reason, true)?;
                if *to == holder || !holder.contains(*to) {
                    return Err(Rejection::DelegationNotToDescendant {
                        from: holder,
                        to: *to,
                    });
                }
                self.known(*to)?;
                if self.details().severity == Severity::Critical && to.level() < Level::Township {
                    return Err(Rejection::CriticalBelowTownship { to: *to });
                }
                Ok(vec![CaseDelegated {
                    from: holder,
                    to: *to,
                    to_level: to.level(),
                    reason: reason.clone().into(),
                    deadline: self.due_at(to.level()),
                }
                .into()])
            }
            Action::Refer {
                target,
                body,
                reason,
            } => {
                self.allow(Who::Holder { grid_worker: false })?;
                self.status_in(&[Registered, Assigned])?;
                self.mediation_idle()?;
                text("body", body, true)?;
                text("reason", reason, true)?;
                Ok(vec![CaseReferred {
                    target: *target,
                    body: body.clone(),
                    reason: reason.clone().into(),
                }
                .into()])
            }
            Action::ReturnReferral { reason } => {
                self.allow(Who::Holder { grid_worker: false })?;
                self.status_in(&[Referred])?;
                text("reason", reason, true)?;
                Ok(self.critical_back_in(
                    ReferralReturned {
                        unit: holder,
                        reason: reason.clone().into(),
                        deadline: self.due_at(holder.level()),
                    }
                    .into(),
                ))
            }
            Action::StartMediation {
                mediation_type,
                mediator,
                organization,
            } => {
                self.allow(Who::Holder { grid_worker: true })?;
                self.status_in(&[Assigned])?;
                let kind = self.details().kind;
                if kind != CaseKind::Dispute {
                    return Err(Rejection::NotADispute { kind });
                }
                if s.mediation.is_some() {
                    return Err(Rejection::MediationAlreadyActive);
                }
                self.known(*organization)?;
                // The holding unit's own mediation organization or one above it (the village's
                // committee for a grid, the township's, the county's centre) — not a sibling's.
                if !organization.contains(holder) {
                    return Err(Rejection::MediationOrganizationNotAbove {
                        organization: *organization,
                        holder,
                    });
                }
                Ok(vec![MediationStarted {
                    mediation_type: *mediation_type,
                    mediator: mediator.clone(),
                    organization: *organization,
                    deadline: self.ctx.policy.deadlines.mediation_due(self.at()),
                }
                .into()])
            }
            Action::HoldMediationSession { summary } => {
                let m = self.assigned_mediation()?;
                text("summary", summary, true)?;
                Ok(vec![MediationSessionHeld {
                    session: m.sessions + 1,
                    summary: summary.clone().into(),
                }
                .into()])
            }
            Action::ConcludeMediation { outcome, note } => {
                if self.actor.role() == Role::Mediator {
                    self.assigned_mediation()?;
                    text("note", note, *outcome == MediationOutcome::Failure)?;
                } else {
                    // The holding unit ends a mediation its mediator cannot finish (away, ill,
                    // withdrawn), else the case would wait for good: as not agreed, saying why.
                    // An agreement is the mediator's to record.
                    self.allow(Who::Holder { grid_worker: true })?;
                    if self.s.mediation.is_none() {
                        return Err(Rejection::MediationNotStarted);
                    }
                    if *outcome != MediationOutcome::Failure {
                        return Err(Rejection::AgreementByMediatorOnly);
                    }
                    text("note", note, true)?;
                }
                Ok(vec![MediationConcluded {
                    outcome: *outcome,
                    note: note.clone().into(),
                }
                .into()])
            }
            Action::Resolve { method, summary } => {
                self.allow(Who::Holder { grid_worker: true })?;
                self.status_in(&[Assigned])?;
                self.mediation_idle()?;
                text("summary", summary, true)?;
                // An agreement backs one resolution: after reopening or rework, mediate again.
                if *method == ResolutionMethod::MediatedAgreement && !s.agreement_pending {
                    return Err(Rejection::NoMediatedAgreement);
                }
                Ok(vec![CaseResolved {
                    method: *method,
                    level: holder.level(),
                    unit: holder,
                    by: self.actor.id().clone(),
                    on_time: s.deadline.is_none_or(|d| self.at() <= d),
                    summary: summary.clone().into(),
                }
                .into()])
            }
            Action::VerifyResolution { note } => {
                self.allow(Who::Overseer {
                    grid_worker: false,
                    supervisor: true,
                })?;
                self.resolved()?;
                self.independent_verifier()?;
                text("note", note, false)?;
                Ok(vec![ResolutionVerified {
                    note: note.clone().into(),
                }
                .into()])
            }
            Action::RejectResolution { reason } => {
                self.allow(Who::Overseer {
                    grid_worker: false,
                    supervisor: true,
                })?;
                self.resolved()?;
                self.independent_verifier()?;
                text("reason", reason, true)?;
                Ok(self.critical_back_in(
                    ResolutionRejected {
                        reason: reason.clone().into(),
                        deadline: self.due_at(holder.level()),
                    }
                    .into(),
                ))
            }
            Action::Close => {
                self.allow(Who::Overseer {
                    grid_worker: true,
                    supervisor: false,
                })?;
                let on_the_spot = match s.status {
                    Verified => false,
                    Resolved
                        if self.ctx.policy.on_the_spot_close_at_grid
                            && s.resolution.as_ref().is_some_and(|r| {
                                r.method == ResolutionMethod::OnTheSpot && r.level == Level::Grid
                            }) =>
                    {
                        true
                    }
                    Resolved => return Err(Rejection::NotVerified),
                    _ if s.status.is_open() => return Err(Rejection::NotResolved),
                    status => {
                        return Err(Rejection::InvalidStatus {
                            action: self.action,
                            status,
                        })
                    }
                };
                if self.actor.role() == Role::GridWorker && !on_the_spot {
                    return Err(self.not_permitted());
                }
                Ok(vec![CaseClosed { on_the_spot }.into()])
            }
            Action::RecordFeedback {
                satisfaction,
                comment,
            } => {
                self.allow(Who::Overseer {
                    grid_worker: true,
                    supervisor: false,
                })?;
                if !matches!(s.status, Resolved | Verified | Closed) {
                    return Err(Rejection::NotResolved);
                }
                if s.feedback.is_some() {
                    return Err(Rejection::FeedbackAlreadyRecorded);
                }
                text("comment", comment, false)?;
                Ok(vec![FeedbackRecorded {
                    satisfaction: *satisfaction,
                    comment: comment.clone().into(),
                }
                .into()])
            }
            Action::Reopen { reason, note } => {
                self.allow(Who::Overseer {
                    grid_worker: false,
                    supervisor: true,
                })?;
                if s.status != Closed {
                    return Err(Rejection::NotClosed);
                }
                text("note", note, false)?;
                Ok(self.critical_back_in(
                    CaseReopened {
                        reason: *reason,
                        note: note.clone().into(),
                        unit: holder,
                        deadline: self.due_at(holder.level()),
                    }
                    .into(),
                ))
            }
            Action::ExtendDeadline { deadline, reason } => {
                self.allow(Who::Above)?;
                self.status_in(&open)?;
                text("reason", reason, true)?;
                let current = s.deadline.ok_or(Rejection::NoDeadline)?;
                if *deadline <= current {
                    return Err(Rejection::DeadlineNotLater {
                        current,
                        requested: *deadline,
                    });
                }
                if *deadline <= self.at() {
                    return Err(Rejection::DeadlinePassed {
                        requested: *deadline,
                        at: self.at(),
                    });
                }
                Ok(vec![DeadlineExtended {
                    previous: current,
                    deadline: *deadline,
                    reason: reason.clone().into(),
                }
                .into()])
            }
            Action::IssueSupervision { note } => {
                self.allow(Who::Above)?;
                self.status_in(&open)?;
                text("note", note, true)?;
                Ok(vec![SupervisionIssued {
                    by_unit: self.actor.unit(),
                    overdue: s.is_overdue(self.at()),
                    note: note.clone().into(),
                }
                .into()])
            }
            Action::AddParty { party } => {
                self.may_annotate()?;
                self.status_in(&[Reported, Registered, Assigned, Referred, Resolved, Verified])?;
                let parties = &self.details().parties;
                if parties.iter().any(|p| p.id == party.id) {
                    return Err(Rejection::PartyAlreadyInCase {
                        party: party.id.clone(),
                    });
                }
                if parties.len() >= MAX_PARTIES {
                    return Err(Rejection::InvalidField {
                        field: "parties",
                        reason: "more than 50 parties",
                    });
                }
                Ok(vec![PartyAdded {
                    party: party.clone(),
                }
                .into()])
            }
            Action::AddNote { text: t } => {
                self.may_annotate()?;
                text("text", t, true)?;
                Ok(vec![NoteAdded {
                    text: t.clone().into(),
                }
                .into()])
            }
            Action::AttachEvidence {
                content_hash,
                media_type,
                description,
            } => {
                self.may_annotate()?;
                text("media_type", media_type, true)?;
                if media_type.len() > 255 || !media_type.contains('/') {
                    return Err(Rejection::InvalidField {
                        field: "media_type",
                        reason: "not a media type like image/jpeg",
                    });
                }
                text("description", description, false)?;
                Ok(vec![EvidenceAttached {
                    content_hash: *content_hash,
                    media_type: media_type.clone(),
                    description: description.clone().into(),
                }
                .into()])
            }
            Action::Merge { into, reason } => {
                self.allow(Who::Holder { grid_worker: false })?;
                self.status_in(&open)?;
                self.mediation_idle()?;
                text("reason", reason, true)?;
                if s.id.as_ref() == Some(into) {
                    return Err(Rejection::MergeIntoSelf);
                }
                Ok(vec![CaseMerged {
                    into: into.clone(),
                    reason: reason.clone().into(),
                }
                .into()])
            }
            Action::TakeOver { reason } => {
                // Only a handling unit takes a case: supervisors press and approve.
                if self.actor.role() != Role::UnitStaff {
                    return Err(self.not_permitted());
                }
                // Strictly above the holder: a unit does not take what it already holds.
                self.allow(Who::Above)?;
                self.status_in(&open)?;
                self.mediation_idle()?;
                text("reason", reason, true)?;
                let to = self.actor.unit();
                self.known(to)?;
                Ok(vec![CaseTakenOver {
                    from: holder,
                    to,
                    to_level: to.level(),
                    reason: reason.clone().into(),
                    deadline: self.due_at(to.level()),
                }
                .into()])
            }
            Action::CorrectDetails {
                kind,
                category,
                source,
                severity,
                location,
                summary,
                reason,
            } => {
                if self.actor.role() != Role::Admin {
                    return Err(self.not_permitted());
                }
                let d = self.details();
                self.covered(d.location)?;
                self.covered(holder)?;
                text("reason", reason, true)?;
                if let Some(loc) = location {
                    self.known(*loc)?;
                    self.covered(*loc)?;
                    // A correction fixes the record; moving a case is a routing decision.
                    if !holder.contains(*loc) {
                        return Err(Rejection::LocationOutsideHolder {
                            location: *loc,
                            holder,
                        });
                    }
                }
                if let Some(sm) = summary {
                    text("summary", sm, true)?;
                }
                // Only a correction of the kind or the category must leave a fitting pair:
                // a case reported before the rule keeps its category through other fixes.
                if kind.is_some() || category.is_some() {
                    fits(category.unwrap_or(d.category), kind.unwrap_or(d.kind))?;
                }
                let e = CaseDetailsCorrected {
                    kind: changed(*kind, d.kind),
                    category: changed(*category, d.category),
                    source: changed(*source, d.source),
                    severity: changed(*severity, d.severity),
                    location: changed(*location, d.location),
                    summary: summary
                        .clone()
                        .filter(|sm| d.summary != *sm)
                        .map(Text::from),
                    reason: reason.clone().into(),
                };
                if e.kind.is_none()
                    && e.category.is_none()
                    && e.source.is_none()
                    && e.severity.is_none()
                    && e.location.is_none()
                    && e.summary.is_none()
                {
                    return Err(Rejection::EmptyCorrection);
                }
                // A correction to critical brings an open case held below the township up
                // to it, in the same commit; not in the middle of a mediation.
                let escalation = match e.severity {
                    Some(severity) if s.status.is_open() => self.critical_to_township(
                        holder,
                        severity,
                        e.kind.unwrap_or(d.kind),
                        e.source.unwrap_or(d.source),
                    ),
                    _ => None,
                };
                if escalation.is_some() {
                    self.mediation_idle()?;
                }
                Ok([Some(e.into()), escalation].into_iter().flatten().collect())
            }
        }
    }

    fn resolved(&self) -> Result<(), Rejection> {
        if self.s.status == Status::Resolved {
            Ok(())
        } else if self.s.status.is_final() {
            Err(Rejection::InvalidStatus {
                action: self.action,
                status: self.s.status,
            })
        } else {
            Err(Rejection::NotResolved)
        }
    }

    /// 核查 (verify or send back) is separate from resolving: never by the resolver, and, unless
    /// the policy allows another staff member of the resolving unit, from above that unit.
    fn independent_verifier(&self) -> Result<(), Rejection> {
        let Some(r) = &self.s.resolution else {
            return Err(Rejection::NotResolved);
        };
        if &r.by == self.actor.id() {
            return Err(Rejection::ResolverCannotVerify {
                resolver: r.by.clone(),
            });
        }
        let same_unit = self.actor.role() == Role::UnitStaff && self.actor.unit() == r.unit;
        if same_unit && !self.ctx.policy.verification.allow_same_unit {
            return Err(Rejection::NotAboveHolder {
                action: self.action,
                holder: r.unit,
            });
        }
        Ok(())
    }

    fn assigned_mediation(&self) -> Result<&crate::state::ActiveMediation, Rejection> {
        if self.actor.role() != Role::Mediator {
            return Err(self.not_permitted());
        }
        let m = self
            .s
            .mediation
            .as_ref()
            .ok_or(Rejection::MediationNotStarted)?;
        if &m.mediator != self.actor.id() {
            return Err(Rejection::NotAssignedMediator {
                mediator: m.mediator.clone(),
                actor: self.actor.id().clone(),
            });
        }
        Ok(m)
    }

    /// Notes and evidence: the holding unit, anyone overseeing it, or the assigned mediator.
    fn may_annotate(&self) -> Result<(), Rejection> {
        match self.actor.role() {
            Role::Mediator => self.assigned_mediation().map(|_| ()),
            Role::GridWorker => self.allow(Who::Holder { grid_worker: true }),
            Role::Admin => self.covered(self.holder()),
            _ => self.allow(Who::Overseer {
                grid_worker: false,
                supervisor: true,
            }),
        }
    }
}

/// Checks that `category` fits a case of `kind`.
fn fits(category: Category, kind: CaseKind) -> Result<(), Rejection> {
    if category.fits(kind) {
        Ok(())
    } else {
        Err(Rejection::CategoryNotForKind { category, kind })
    }
}

/// `new` when it differs from `old`.
fn changed<T: PartialEq>(new: Option<T>, old: T) -> Option<T> {
    new.filter(|n| *n != old)
}
