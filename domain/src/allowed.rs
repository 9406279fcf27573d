//! Which actions an actor may take on a case now — asked of the decider itself, so a front
//! end never keeps a second copy of the rules.
//!
//! For every action there is a *probe*: a command of that kind with plausible arguments for
//! the case as it stands (escalate to the parent, delegate to a child, assign to oneself,
//! resolve by mediated agreement when one is pending, extend by a day…). An action is allowed
//! when [`decide`] accepts its probe. What is allowed is what the actor's role, scope, the
//! holding unit and the case's status permit; the fields a person then fills in are still
//! checked by `decide` when the real command comes (a form may still be refused for what it
//! says, never for who sends it or when).

use crate::actor::Actor;
use crate::command::{Action, ActionKind, Command};
use crate::decide::{decide, Context};
use crate::event::Party;
use crate::ids::{CaseId, Hash, PartyId};
use crate::region::Level;
use crate::state::CaseState;
use crate::vocab::*;

/// A plausible command of the action `kind` for `state`, as `actor` would send it now; `None`
/// for [`ActionKind::Report`] (it opens a case, there is none to act on).
pub fn probe(
    kind: ActionKind,
    state: &CaseState,
    actor: &Actor,
    ctx: &Context<'_>,
) -> Option<Action> {
    let text = || "—".to_owned();
    let holder = state.holder.unwrap_or_else(|| actor.unit());
    let critical = state
        .details
        .as_ref()
        .is_some_and(|d| d.severity == Severity::Critical);
    Some(match kind {
        ActionKind::Register => Action::Register,
        ActionKind::Reject => Action::Reject {
            reason: RejectReason::Duplicate,
            note: String::new(),
        },
        ActionKind::Assign => Action::Assign {
            handler: actor.id().clone(),
        },
        ActionKind::Escalate => Action::Escalate {
            to: None,
            reason: text(),
        },
        ActionKind::Delegate => Action::Delegate {
            to: ctx
                .regions
                .children(holder)
                .iter()
                .copied()
                .find(|c| !critical || c.level() >= Level::Township)
                .unwrap_or(holder),
            reason: text(),
        },
        ActionKind::Refer => Action::Refer {
            target: ReferralTarget::Court,
            body: text(),
            reason: text(),
        },
        ActionKind::ReturnReferral => Action::ReturnReferral { reason: text() },
        ActionKind::StartMediation => Action::StartMediation {
            mediation_type: MediationType::People,
            mediator: actor.id().clone(),
            organization: holder,
        },
        ActionKind::HoldMediationSession => Action::HoldMediationSession { summary: text() },
        ActionKind::ConcludeMediation => Action::ConcludeMediation {
            // The mediator records either; the holding unit only ends one as not agreed.
            outcome: if actor.role() == crate::actor::Role::Mediator {
                MediationOutcome::Agreement
            } else {
                MediationOutcome::Failure
            },
            note: text(),
        },
        ActionKind::Resolve => Action::Resolve {
            method: if state.agreement_pending {
                ResolutionMethod::MediatedAgreement
            } else {
                ResolutionMethod::Explanation
            },
            summary: text(),
        },
        ActionKind::VerifyResolution => Action::VerifyResolution {
            note: String::new(),
        },
        ActionKind::RejectResolution => Action::RejectResolution { reason: text() },
        ActionKind::Close => Action::Close,
        ActionKind::RecordFeedback => Action::RecordFeedback {
            satisfaction: Satisfaction::Satisfied,
            comment: String::new(),
        },
        ActionKind::Reopen => Action::Reopen {
            reason: ReopenReason::NewFacts,
            note: String::new(),
        },
        ActionKind::ExtendDeadline => Action::ExtendDeadline {
            // A day past the later of the deadline and now: an overdue case gets time from now.
            deadline: state.deadline.unwrap_or(ctx.now).max(ctx.now).plus_days(1),
            reason: text(),
        },
        ActionKind::IssueSupervision => Action::IssueSupervision { note: text() },
        ActionKind::AddParty => Action::AddParty {
            party: Party {
                id: PartyId::new("probe-new-party").expect("a valid party id"),
                role: PartyRole::Applicant,
            },
        },
        ActionKind::AddNote => Action::AddNote { text: text() },
        ActionKind::AttachEvidence => Action::AttachEvidence {
            content_hash: Hash::ZERO,
            media_type: "image/jpeg".into(),
            description: String::new(),
        },
        ActionKind::Merge => Action::Merge {
            into: other_case(state),
            reason: text(),
        },
        ActionKind::CorrectDetails => Action::CorrectDetails {
            kind: None,
            category: None,
            source: None,
            severity: None,
            location: None,
            summary: state
                .details
                .as_ref()
                .map(|d| format!("{}。", d.summary.to_clear_or_mark())),
            reason: text(),
        },
        ActionKind::TakeOver => Action::TakeOver { reason: text() },
        ActionKind::Report => return None,
    })
}

/// A case id other than the case's own, for the merge probe.
fn other_case(state: &CaseState) -> CaseId {
    let own = state.id.as_ref().map(CaseId::as_str);
    let id = if own == Some("other-case") {
        "another-case"
    } else {
        "other-case"
    };
    CaseId::new(id).expect("valid")
}

/// The actions (in declaration order) `actor` may take on `state` now.
pub fn allowed_actions(state: &CaseState, actor: &Actor, ctx: &Context<'_>) -> Vec<ActionKind> {
    ActionKind::case_commands()
        .filter(|kind| {
            probe(*kind, state, actor, ctx).is_some_and(|action| {
                let cmd = Command {
                    actor: actor.clone(),
                    occurred_at: ctx.now,
                    action,
                };
                decide(state, &cmd, ctx).is_ok()
            })
        })
        .collect()
}
