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
use crate::command::{Action, Command};
use crate::decide::{decide, Context};
use crate::event::Party;
use crate::ids::{CaseId, Hash, PartyId};
use crate::region::Level;
use crate::state::CaseState;
use crate::vocab::*;

/// A plausible command of the action named `name` for `state`, as `actor` would send it now;
/// `None` for `report` or an unknown name.
pub fn probe(name: &str, state: &CaseState, actor: &Actor, ctx: &Context<'_>) -> Option<Action> {
    let text = || "—".to_owned();
    let holder = state.holder.unwrap_or_else(|| actor.unit());
    let critical = state
        .details
        .as_ref()
        .is_some_and(|d| d.severity == Severity::Critical);
    Some(match name {
        "register" => Action::Register,
        "reject" => Action::Reject {
            reason: RejectReason::Duplicate,
            note: String::new(),
        },
        "assign" => Action::Assign {
            handler: actor.id().clone(),
        },
        "escalate" => Action::Escalate {
            to: None,
            reason: text(),
        },
        "delegate" => Action::Delegate {
            to: ctx
                .regions
                .children(holder)
                .iter()
                .copied()
                .find(|c| !critical || c.level() >= Level::Township)
                .unwrap_or(holder),
            reason: text(),
        },
        "refer" => Action::Refer {
            target: ReferralTarget::Court,
            body: text(),
            reason: text(),
        },
        "return_referral" => Action::ReturnReferral { reason: text() },
        "start_mediation" => Action::StartMediation {
            mediation_type: MediationType::People,
            mediator: actor.id().clone(),
            organization: holder,
        },
        "hold_mediation_session" => Action::HoldMediationSession { summary: text() },
        "conclude_mediation" => Action::ConcludeMediation {
            outcome: MediationOutcome::Agreement,
            note: text(),
        },
        "resolve" => Action::Resolve {
            method: if state.agreement_pending {
                ResolutionMethod::MediatedAgreement
            } else {
                ResolutionMethod::Explanation
            },
            summary: text(),
        },
        "verify_resolution" => Action::VerifyResolution {
            note: String::new(),
        },
        "reject_resolution" => Action::RejectResolution { reason: text() },
        "close" => Action::Close,
        "record_feedback" => Action::RecordFeedback {
            satisfaction: Satisfaction::Satisfied,
            comment: String::new(),
        },
        "reopen" => Action::Reopen {
            reason: ReopenReason::NewFacts,
            note: String::new(),
        },
        "extend_deadline" => Action::ExtendDeadline {
            deadline: state.deadline.unwrap_or(ctx.now).plus_days(1),
            reason: text(),
        },
        "issue_supervision" => Action::IssueSupervision { note: text() },
        "add_party" => Action::AddParty {
            party: Party {
                id: PartyId::new("probe-new-party").expect("a valid party id"),
                role: PartyRole::Applicant,
            },
        },
        "add_note" => Action::AddNote { text: text() },
        "attach_evidence" => Action::AttachEvidence {
            content_hash: Hash::ZERO,
            media_type: "image/jpeg".into(),
            description: String::new(),
        },
        "merge" => Action::Merge {
            into: other_case(state),
            reason: text(),
        },
        "correct_details" => Action::CorrectDetails {
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
        "take_over" => Action::TakeOver { reason: text() },
        _ => return None,
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

/// The actions (their names, in [`Action::NAMES`] order) `actor` may take on `state` now.
pub fn allowed_actions(state: &CaseState, actor: &Actor, ctx: &Context<'_>) -> Vec<&'static str> {
    Action::case_commands()
        .filter(|name| {
            probe(name, state, actor, ctx).is_some_and(|action| {
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
