//! The allowed actions are the decider's own rules: for every case along a life and every
//! actor of every role, an action is listed exactly when some command of that kind — among
//! several argument choices, not only the probe the list is made with — is accepted; so every
//! listed action is accepted and every other is refused with the same state.

mod support;

use gridcase_domain::allowed::{allowed_actions, probe};
use gridcase_domain::*;
use support::*;

/// Several commands of the action `kind` with different arguments.
fn variants(kind: ActionKind, state: &CaseState, actor: &Actor, ctx: &Context<'_>) -> Vec<Action> {
    let mut out: Vec<Action> = probe(kind, state, actor, ctx).into_iter().collect();
    let text = || "理由".to_owned();
    let others: Vec<RegionCode> = all_regions();
    match kind {
        ActionKind::Assign => out.push(Action::Assign {
            handler: aid("someone-else"),
        }),
        ActionKind::Escalate => out.extend(others.iter().map(|to| Action::Escalate {
            to: Some(*to),
            reason: text(),
        })),
        ActionKind::Delegate => out.extend(others.iter().map(|to| Action::Delegate {
            to: *to,
            reason: text(),
        })),
        ActionKind::Resolve => out.extend(ResolutionMethod::ALL.iter().map(|m| Action::Resolve {
            method: *m,
            summary: text(),
        })),
        ActionKind::StartMediation => out.extend(MediationType::ALL.iter().flat_map(|t| {
            others.iter().map(|org| Action::StartMediation {
                mediation_type: *t,
                mediator: aid("med-x"),
                organization: *org,
            })
        })),
        ActionKind::ConcludeMediation => out.push(Action::ConcludeMediation {
            outcome: MediationOutcome::Failure,
            note: text(),
        }),
        ActionKind::Reject => out.extend(RejectReason::ALL.iter().map(|r| Action::Reject {
            reason: *r,
            note: text(),
        })),
        ActionKind::RecordFeedback => out.push(Action::RecordFeedback {
            satisfaction: Satisfaction::Dissatisfied,
            comment: text(),
        }),
        ActionKind::CorrectDetails => out.push(Action::CorrectDetails {
            kind: None,
            category: None,
            source: None,
            severity: Some(Severity::Urgent),
            location: None,
            summary: None,
            reason: text(),
        }),
        _ => {}
    }
    out
}

fn actors() -> Vec<Actor> {
    vec![
        grid_worker(grid1()),
        grid_worker(grid2()),
        staff(village1()),
        staff(village2()),
        staff(town1()),
        staff(county()),
        mediator_named("med-given", village1()),
        mediator_named("med-other", village1()),
        supervisor(county()),
        auditor(),
        analyst(),
        admin(county()),
    ]
}

/// Cases along their lives, and a few side roads.
fn histories() -> Vec<Vec<Event>> {
    let g = grid1();
    vec![
        h_reported(g),
        h_registered(g),
        h_assigned(g),
        h_assigned_at(g, village1()),
        h_referred(),
        h_mediating(g),
        h_mediated(g, MediationOutcome::Agreement),
        h_mediated(g, MediationOutcome::Failure),
        h_resolved(g, ResolutionMethod::OnTheSpot),
        h_resolved_at(g, village1(), ResolutionMethod::Explanation),
        h_verified(g),
        h_closed(g),
    ]
}

#[test]
fn an_action_is_listed_exactly_when_the_decider_would_take_it() {
    let policy = Policy::default();
    let mut listed_somewhere = std::collections::BTreeSet::new();
    for events in histories() {
        let given = given(&events);
        let state = given.state().clone();
        let now = plus_hours(t0(), 2);
        let ctx = Context {
            regions: regions(),
            policy: &policy,
            now,
        };
        for actor in actors() {
            let allowed = allowed_actions(&state, &actor, &ctx);
            for kind in ActionKind::case_commands() {
                let accepted = variants(kind, &state, &actor, &ctx)
                    .into_iter()
                    .any(|action| {
                        let cmd = cmd_at(actor.clone(), now, action);
                        decide(&state, &cmd, &ctx).is_ok()
                    });
                assert_eq!(
                    allowed.contains(&kind),
                    accepted,
                    "{kind} for {} ({}) at status {}: listed {allowed:?}",
                    actor.id(),
                    actor.role(),
                    state.status
                );
                if accepted {
                    listed_somewhere.insert(kind);
                }
            }
            if matches!(actor.role(), Role::Auditor | Role::Analyst) {
                assert!(allowed.is_empty(), "{}: {allowed:?}", actor.role());
            }
        }
    }
    // The walk reaches most actions, so the check above is not vacuous.
    assert!(listed_somewhere.len() >= 18, "{listed_somewhere:?}");
}

#[test]
fn an_overdue_case_can_still_be_given_more_time() {
    // Ten days past its deadline, a day past the old deadline would already have passed: the
    // extension is still offered (from now on) to the unit above.
    let policy = Policy::default();
    let ctx = Context {
        regions: regions(),
        policy: &policy,
        now: plus_hours(t0(), 24 * 40),
    };
    let state = given(&h_assigned(grid1())).state().clone();
    assert!(state.deadline.is_some_and(|d| d.plus_days(2) < ctx.now));
    assert!(state.is_overdue(ctx.now));
    let allowed = allowed_actions(&state, &staff(village1()), &ctx);
    assert!(allowed.contains(&ActionKind::ExtendDeadline), "{allowed:?}");
}

#[test]
fn the_list_follows_the_case_a_grid_worker_holds() {
    let policy = Policy::default();
    let ctx = Context {
        regions: regions(),
        policy: &policy,
        now: plus_hours(t0(), 2),
    };
    let worker = grid_worker(grid1());
    let reported = given(&h_reported(grid1())).state().clone();
    let allowed = allowed_actions(&reported, &worker, &ctx);
    assert!(allowed.contains(&ActionKind::Register), "{allowed:?}");
    assert!(allowed.contains(&ActionKind::Reject), "{allowed:?}");
    assert!(!allowed.contains(&ActionKind::Resolve), "{allowed:?}");
    let closed = given(&h_closed(grid1())).state().clone();
    let allowed = allowed_actions(&closed, &worker, &ctx);
    assert!(!allowed.contains(&ActionKind::Register), "{allowed:?}");
    // Another grid's worker may do nothing at all.
    let neighbour = grid_worker(grid2());
    assert!(allowed_actions(&reported, &neighbour, &ctx).is_empty());
}
