//! Authorization in the command path (DESIGN.md invariant 8): an actor whose scope does not
//! cover a case never changes it, whatever their role and whatever they ask.
//!
//! The case lives in town1 (grid1); actors "outside" are anchored in town2's branch, or are
//! mediators not named by the running mediation.

mod support;

use gridcase_domain::*;
use support::*;

/// For each role: an in-scope actor whose command is accepted, the same command by an actor of
/// the same role outside the case's scope, and the rejection that must follow.
#[test]
fn every_role_is_refused_outside_its_scope() {
    for role in Role::ALL {
        let (history, inside, outside, action, expected) = match role {
            Role::GridWorker => {
                let outside = grid_worker(grid4());
                let expected = out_of_scope(&outside, grid1());
                (
                    h_reported(grid1()),
                    Some(grid_worker(grid1())),
                    outside,
                    Action::Register,
                    expected,
                )
            }
            Role::UnitStaff => {
                let outside = staff(town2());
                let expected = out_of_scope(&outside, grid1());
                let action = Action::VerifyResolution {
                    note: String::new(),
                };
                (
                    h_resolved(grid1(), ResolutionMethod::Explanation),
                    Some(staff(town1())),
                    outside,
                    action,
                    expected,
                )
            }
            Role::Mediator => {
                // Same organization, but not the mediator the mediation names.
                let outside = mediator_named("med-other", town1());
                let expected = Rejection::NotAssignedMediator {
                    mediator: mediator(town1()).id().clone(),
                    actor: outside.id().clone(),
                };
                let action = Action::HoldMediationSession {
                    summary: "调解".into(),
                };
                (
                    h_mediating(grid1()),
                    Some(mediator(town1())),
                    outside,
                    action,
                    expected,
                )
            }
            Role::Supervisor => {
                let outside = supervisor(town2());
                let expected = out_of_scope(&outside, grid1());
                let action = Action::IssueSupervision {
                    note: "督办".into(),
                };
                (
                    h_assigned(grid1()),
                    Some(supervisor(town1())),
                    outside,
                    action,
                    expected,
                )
            }
            Role::Auditor => {
                // Even city-wide: auditors read, they never act.
                let expected = Rejection::ReadOnlyRole { role };
                (
                    h_assigned(grid1()),
                    None,
                    auditor(),
                    Action::AddNote { text: "x".into() },
                    expected,
                )
            }
            Role::Analyst => {
                let expected = Rejection::ReadOnlyRole { role };
                (
                    h_assigned(grid1()),
                    None,
                    analyst(),
                    Action::AddNote { text: "x".into() },
                    expected,
                )
            }
            Role::Admin => {
                let outside = admin(town2());
                let expected = out_of_scope(&outside, grid1());
                let action = Action::CorrectDetails {
                    kind: None,
                    category: Some(Category::Other),
                    source: None,
                    severity: None,
                    location: None,
                    summary: None,
                    reason: "录入错误".into(),
                };
                (
                    h_assigned(grid1()),
                    Some(admin(town1())),
                    outside,
                    action,
                    expected,
                )
            }
        };
        assert_eq!(outside.role(), role);
        if let Some(inside) = inside {
            assert_eq!(inside.role(), role);
            let when = given(&history).when(cmd(inside, action.clone()));
            assert!(
                when.result().is_ok(),
                "{role}: the in-scope actor is refused: {:?}",
                when.result()
            );
        }
        given(&history)
            .when(cmd(outside, action))
            .then_rejected(expected);
    }
}

#[test]
fn reporting_outside_ones_scope_is_refused_for_every_role() {
    for role in Role::ALL {
        let (actor, expected) = match role {
            Role::GridWorker => {
                let a = grid_worker(grid4());
                let e = out_of_scope(&a, grid1());
                (a, e)
            }
            Role::UnitStaff => {
                let a = staff(village3());
                let e = out_of_scope(&a, grid1());
                (a, e)
            }
            Role::Auditor | Role::Analyst => {
                (actor_of(role, city()), Rejection::ReadOnlyRole { role })
            }
            Role::Mediator | Role::Supervisor | Role::Admin => {
                let a = actor_of(role, town2());
                let e = not_permitted(&a, "report");
                (a, e)
            }
        };
        given_no_case()
            .when(cmd(actor, report(grid1()).action()))
            .then_rejected(expected);
    }
}

/// Histories of a case held in town1's branch, in every interesting status.
fn histories() -> Vec<(&'static str, Vec<gridcase_domain::Event>)> {
    let mut rejected = h_reported(grid1());
    rejected.push(
        gridcase_domain::event::CaseRejected {
            reason: RejectReason::Invalid,
            note: String::new().into(),
        }
        .into(),
    );
    let mut referred = h_assigned_at(grid1(), village1());
    referred.push(
        gridcase_domain::event::CaseReferred {
            target: ReferralTarget::Court,
            body: "法院".into(),
            reason: "诉讼".into(),
        }
        .into(),
    );
    vec![
        ("reported", h_reported(grid1())),
        ("registered", h_registered(grid1())),
        ("assigned", h_assigned(grid1())),
        ("assigned at town1", h_assigned_at(grid1(), town1())),
        ("mediating", h_mediating(grid1())),
        ("mediated", h_mediated(grid1(), MediationOutcome::Agreement)),
        (
            "resolved on the spot",
            h_resolved(grid1(), ResolutionMethod::OnTheSpot),
        ),
        ("verified", h_verified(grid1())),
        ("closed", h_closed(grid1())),
        ("referred", referred),
        ("rejected", rejected),
    ]
}

/// Actors of every role anchored outside town1's branch (and a mediator nobody named).
fn outsiders() -> Vec<Actor> {
    vec![
        grid_worker(grid4()),
        staff(village3()),
        staff(town2()),
        mediator(town2()),
        mediator_named("med-other", town1()),
        supervisor(town2()),
        supervisor(village3()),
        auditor(),
        analyst(),
        admin(town2()),
        admin(grid4()),
    ]
}

/// Every action, in every status, by every outsider: refused, and only by a scope or role rule.
#[test]
fn no_outsider_changes_a_case_whatever_they_ask() {
    let mut seen_out_of_scope = std::collections::BTreeSet::new();
    for (label, history) in histories() {
        for actor in outsiders() {
            // Reports are about new cases; see the test above.
            for action in sample_actions().into_iter().skip(1) {
                let name = action.name();
                let when = given(&history).when(cmd(actor.clone(), action));
                let rejection = match when.result() {
                    Ok(events) => panic!("{label}: {} did {name}: {events:?}", actor.id()),
                    Err(r) => r.clone(),
                };
                let fine = match (actor.role(), &rejection) {
                    (Role::Auditor | Role::Analyst, Rejection::ReadOnlyRole { role }) => {
                        *role == actor.role()
                    }
                    (Role::Mediator, Rejection::NotAssignedMediator { actor: a, .. }) => {
                        a == actor.id()
                    }
                    (Role::Mediator, Rejection::MediationNotStarted) => true,
                    (_, Rejection::OutOfScope { actor: a, .. }) => {
                        seen_out_of_scope.insert(actor.role());
                        a == actor.id()
                    }
                    (_, Rejection::RoleNotPermitted { role, action }) => {
                        *role == actor.role() && *action == name
                    }
                    _ => false,
                };
                assert!(
                    fine,
                    "{label}: {} asking {name} got {rejection:?}, not a scope or role rule",
                    actor.id()
                );
            }
        }
    }
    let expected: std::collections::BTreeSet<Role> = [
        Role::GridWorker,
        Role::UnitStaff,
        Role::Supervisor,
        Role::Admin,
    ]
    .into();
    assert_eq!(seen_out_of_scope, expected);
}
