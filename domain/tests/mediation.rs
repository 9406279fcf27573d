//! Mediation (人民/行政/司法调解): started by the holding unit, run by the named mediator,
//! concluded with an agreement or a failure; a mediated agreement can resolve the case.

mod support;

use gridcase_domain::event::*;
use gridcase_domain::*;
use support::*;

fn start(mediator: &Actor, org: RegionCode) -> Action {
    Action::StartMediation {
        mediation_type: MediationType::People,
        mediator: mediator.id().clone(),
        organization: org,
    }
}

fn session(summary: &str) -> Action {
    Action::HoldMediationSession {
        summary: summary.into(),
    }
}

fn conclude(outcome: MediationOutcome, note: &str) -> Action {
    Action::ConcludeMediation {
        outcome,
        note: note.into(),
    }
}

fn resolve(method: ResolutionMethod) -> Action {
    Action::Resolve {
        method,
        summary: "已化解".into(),
    }
}

// --- start -------------------------------------------------------------------------------------

#[test]
fn the_holding_unit_starts_a_mediation_due_in_thirty_days() {
    let m = mediator(town1());
    let s = given(&h_assigned(grid1()))
        .when(cmd(grid_worker(grid1()), start(&m, town1())))
        .then(&[MediationStarted {
            mediation_type: MediationType::People,
            mediator: m.id().clone(),
            organization: town1(),
            deadline: now().plus_days(30),
        }
        .into()]);
    let active = s.mediation.expect("a mediation is active");
    assert_eq!(active.mediator, *m.id());
    assert_eq!(active.sessions, 0);
    assert_eq!(active.started_at, now());
    assert_eq!(s.status, Status::Assigned);
}

#[test]
fn the_mediation_deadline_follows_the_policy() {
    let policy = Policy {
        deadlines: DeadlinePolicy {
            mediation_days: 15,
            ..DeadlinePolicy::default()
        },
        ..Policy::default()
    };
    let m = mediator(village1());
    given(&h_assigned_at(grid1(), village1()))
        .with_policy(policy)
        .when(cmd(staff(village1()), start(&m, village1())))
        .then(&[MediationStarted {
            mediation_type: MediationType::People,
            mediator: m.id().clone(),
            organization: village1(),
            deadline: now().plus_days(15),
        }
        .into()]);
}

#[test]
fn only_disputes_are_mediated() {
    for kind in [CaseKind::Incident, CaseKind::Request] {
        let h = vec![
            report(grid1()).kind(kind).event(grid1()),
            registered(grid1()),
            assigned(grid1(), &grid_worker(grid1()), t0().plus_days(3)),
        ];
        given(&h)
            .when(cmd(
                grid_worker(grid1()),
                start(&mediator(town1()), town1()),
            ))
            .then_rejected(Rejection::NotADispute { kind });
    }
}

#[test]
fn one_mediation_at_a_time() {
    given(&h_mediating(grid1()))
        .when(cmd(
            grid_worker(grid1()),
            start(&mediator(town2()), town2()),
        ))
        .then_rejected(Rejection::MediationAlreadyActive);
}

#[test]
fn a_new_mediation_may_follow_a_failed_one() {
    let m = mediator(village1());
    given(&h_mediated(grid1(), MediationOutcome::Failure))
        .when(cmd(grid_worker(grid1()), start(&m, village1())))
        .then(&[MediationStarted {
            mediation_type: MediationType::People,
            mediator: m.id().clone(),
            organization: village1(),
            deadline: now().plus_days(30),
        }
        .into()]);
}

#[test]
fn the_organization_is_the_holders_own_or_one_above() {
    // Another township's organization does not mediate a case held in this one's grid.
    let m = mediator(town2());
    given(&h_assigned(grid1()))
        .when(cmd(grid_worker(grid1()), start(&m, town2())))
        .then_rejected(Rejection::MediationOrganizationNotAbove {
            organization: town2(),
            holder: grid1(),
        });
}

#[test]
fn the_mediation_organization_is_a_known_region() {
    given(&h_assigned(grid1()))
        .when(cmd(
            grid_worker(grid1()),
            start(&mediator(town1()), unknown_village()),
        ))
        .then_rejected(Rejection::UnknownRegion {
            code: unknown_village(),
        });
}

#[test]
fn mediation_starts_once_the_case_is_assigned() {
    given(&h_registered(grid1()))
        .when(cmd(
            grid_worker(grid1()),
            start(&mediator(town1()), town1()),
        ))
        .then_rejected(invalid_status("start_mediation", Status::Registered));
    given(&h_resolved(grid1(), ResolutionMethod::OnTheSpot))
        .when(cmd(
            grid_worker(grid1()),
            start(&mediator(town1()), town1()),
        ))
        .then_rejected(invalid_status("start_mediation", Status::Resolved));
}

#[test]
fn only_the_holding_unit_starts_a_mediation() {
    let m = mediator(town1());
    given(&h_assigned(grid1()))
        .when(cmd(m.clone(), start(&m, town1())))
        .then_rejected(not_permitted(&m, "start_mediation"));
    given(&h_assigned(grid1()))
        .when(cmd(staff(town1()), start(&m, town1())))
        .then_rejected(Rejection::NotHoldingUnit {
            holder: grid1(),
            unit: town1(),
        });
}

// --- sessions ----------------------------------------------------------------------------------

#[test]
fn the_assigned_mediator_records_numbered_sessions() {
    let m = mediator(town1());
    let mut h = h_mediating(grid1());
    let s = given(&h)
        .when(cmd(m.clone(), session("首次调解")))
        .then(&[MediationSessionHeld {
            session: 1,
            summary: "首次调解".into(),
        }
        .into()]);
    assert_eq!(s.mediation.map(|m| m.sessions), Some(1));
    h.push(
        MediationSessionHeld {
            session: 1,
            summary: "首次调解".into(),
        }
        .into(),
    );
    given(&h)
        .when(cmd(m, session("再次调解")))
        .then(&[MediationSessionHeld {
            session: 2,
            summary: "再次调解".into(),
        }
        .into()]);
}

#[test]
fn sessions_need_a_started_mediation() {
    given(&h_assigned(grid1()))
        .when(cmd(mediator(town1()), session("调解")))
        .then_rejected(Rejection::MediationNotStarted);
    given(&h_mediated(grid1(), MediationOutcome::Agreement))
        .when(cmd(mediator(town1()), session("调解")))
        .then_rejected(Rejection::MediationNotStarted);
}

#[test]
fn only_the_named_mediator_holds_sessions() {
    let other = mediator_named("med-other", town1());
    given(&h_mediating(grid1()))
        .when(cmd(other.clone(), session("调解")))
        .then_rejected(Rejection::NotAssignedMediator {
            mediator: mediator(town1()).id().clone(),
            actor: other.id().clone(),
        });
    for actor in [
        grid_worker(grid1()),
        staff(town1()),
        supervisor(county()),
        admin(city()),
    ] {
        given(&h_mediating(grid1()))
            .when(cmd(actor.clone(), session("调解")))
            .then_rejected(not_permitted(&actor, "hold_mediation_session"));
    }
}

#[test]
fn a_session_needs_a_summary() {
    given(&h_mediating(grid1()))
        .when(cmd(mediator(town1()), session(" ")))
        .then_rejected(invalid_field("summary", "must not be empty"));
}

// --- conclude ----------------------------------------------------------------------------------

#[test]
fn the_assigned_mediator_concludes_with_an_agreement() {
    let mut h = h_mediating(grid1());
    h.push(
        MediationSessionHeld {
            session: 1,
            summary: "调解".into(),
        }
        .into(),
    );
    let s = given(&h)
        .when(cmd(
            mediator(town1()),
            conclude(MediationOutcome::Agreement, ""),
        ))
        .then(&[MediationConcluded {
            outcome: MediationOutcome::Agreement,
            note: String::new().into(),
        }
        .into()]);
    assert_eq!(s.mediation, None);
    assert_eq!(s.mediations.len(), 1);
    let record = &s.mediations[0];
    assert_eq!(record.outcome, MediationOutcome::Agreement);
    assert_eq!(record.sessions, 1);
    assert_eq!(record.mediator, *mediator(town1()).id());
    assert_eq!(record.started_at, t0());
    assert_eq!(record.concluded_at, now());
    assert_eq!(
        s.status,
        Status::Assigned,
        "concluding a mediation does not resolve the case"
    );
}

#[test]
fn a_failure_needs_a_reason() {
    given(&h_mediating(grid1()))
        .when(cmd(
            mediator(town1()),
            conclude(MediationOutcome::Failure, ""),
        ))
        .then_rejected(invalid_field("note", "must not be empty"));
    given(&h_mediating(grid1()))
        .when(cmd(
            mediator(town1()),
            conclude(MediationOutcome::Failure, "一方拒绝"),
        ))
        .then(&[MediationConcluded {
            outcome: MediationOutcome::Failure,
            note: "一方拒绝".into(),
        }
        .into()]);
}

#[test]
fn an_outcome_only_after_the_mediation_started() {
    given(&h_assigned(grid1()))
        .when(cmd(
            mediator(town1()),
            conclude(MediationOutcome::Agreement, ""),
        ))
        .then_rejected(Rejection::MediationNotStarted);
    // Nor twice.
    given(&h_mediated(grid1(), MediationOutcome::Agreement))
        .when(cmd(
            mediator(town1()),
            conclude(MediationOutcome::Agreement, ""),
        ))
        .then_rejected(Rejection::MediationNotStarted);
}

#[test]
fn only_the_named_mediator_concludes() {
    let other = mediator(town2());
    given(&h_mediating(grid1()))
        .when(cmd(
            other.clone(),
            conclude(MediationOutcome::Agreement, ""),
        ))
        .then_rejected(Rejection::NotAssignedMediator {
            mediator: mediator(town1()).id().clone(),
            actor: other.id().clone(),
        });
    // The holding unit does not record an agreement for the mediator.
    let gw = grid_worker(grid1());
    given(&h_mediating(grid1()))
        .when(cmd(gw.clone(), conclude(MediationOutcome::Agreement, "")))
        .then_rejected(Rejection::AgreementByMediatorOnly);
}

#[test]
fn the_holding_unit_ends_a_mediation_its_mediator_cannot_finish() {
    // Without it, a case whose mediator is away would wait for good: nothing else moves a
    // case while a mediation runs.
    let gw = grid_worker(grid1());
    let s = given(&h_mediating(grid1()))
        .when(cmd(
            gw.clone(),
            conclude(MediationOutcome::Failure, "调解员长期外出，无法继续调解"),
        ))
        .then(&[MediationConcluded {
            outcome: MediationOutcome::Failure,
            note: "调解员长期外出，无法继续调解".into(),
        }
        .into()]);
    assert!(s.mediation.is_none());
    // Saying why.
    given(&h_mediating(grid1()))
        .when(cmd(gw, conclude(MediationOutcome::Failure, "")))
        .then_rejected(invalid_field("note", "must not be empty"));
    // Only the holding unit: not a unit above it.
    given(&h_mediating(grid1()))
        .when(cmd(
            staff(village1()),
            conclude(MediationOutcome::Failure, "调解员无法继续"),
        ))
        .then_rejected(Rejection::NotHoldingUnit {
            holder: grid1(),
            unit: village1(),
        });
}

// --- resolving by mediated agreement -----------------------------------------------------------

#[test]
fn a_mediated_agreement_resolves_the_case() {
    let gw = grid_worker(grid1());
    let s = given(&h_mediated(grid1(), MediationOutcome::Agreement))
        .when(cmd(
            gw.clone(),
            resolve(ResolutionMethod::MediatedAgreement),
        ))
        .then(&[CaseResolved {
            method: ResolutionMethod::MediatedAgreement,
            level: Level::Grid,
            unit: grid1(),
            by: gw.id().clone(),
            on_time: true,
            summary: "已化解".into(),
        }
        .into()]);
    assert_eq!(s.status, Status::Resolved);
}

#[test]
fn resolving_by_mediated_agreement_needs_one() {
    let gw = grid_worker(grid1());
    given(&h_assigned(grid1()))
        .when(cmd(
            gw.clone(),
            resolve(ResolutionMethod::MediatedAgreement),
        ))
        .then_rejected(Rejection::NoMediatedAgreement);
    given(&h_mediated(grid1(), MediationOutcome::Failure))
        .when(cmd(
            gw.clone(),
            resolve(ResolutionMethod::MediatedAgreement),
        ))
        .then_rejected(Rejection::NoMediatedAgreement);
    // The last mediation counts: an agreement then a failure is no agreement.
    let mut h = h_mediated(grid1(), MediationOutcome::Agreement);
    h.push(mediation_started(&mediator(town2()), town2()));
    h.push(mediation_concluded(MediationOutcome::Failure));
    given(&h)
        .when(cmd(gw, resolve(ResolutionMethod::MediatedAgreement)))
        .then_rejected(Rejection::NoMediatedAgreement);
}

#[test]
fn a_failed_mediation_does_not_stop_other_resolutions() {
    let gw = grid_worker(grid1());
    given(&h_mediated(grid1(), MediationOutcome::Failure))
        .when(cmd(gw.clone(), resolve(ResolutionMethod::Explanation)))
        .then(&[resolved(grid1(), &gw, ResolutionMethod::Explanation)]);
}

#[test]
fn nothing_is_resolved_while_a_mediation_runs() {
    for method in ResolutionMethod::ALL {
        given(&h_mediating(grid1()))
            .when(cmd(grid_worker(grid1()), resolve(*method)))
            .then_rejected(Rejection::MediationInProgress { action: "resolve" });
    }
}

#[test]
fn an_agreement_backs_one_resolution_only() {
    // Resolved by agreement, verified, closed, then reopened because the agreement was not
    // honoured: the old agreement cannot resolve the case again.
    let gw = grid_worker(grid1());
    let mut history = h_mediated(grid1(), MediationOutcome::Agreement);
    history.push(resolved(grid1(), &gw, ResolutionMethod::MediatedAgreement));
    history.push(verified());
    history.push(closed(false));
    history.push(
        CaseReopened {
            reason: ReopenReason::AgreementNotHonoured,
            note: String::new().into(),
            unit: grid1(),
            deadline: now().plus_days(3),
        }
        .into(),
    );
    history.push(
        CaseAssigned {
            unit: grid1(),
            handler: gw.id().clone(),
            deadline: now().plus_days(3),
        }
        .into(),
    );
    given(&history)
        .when(cmd(gw, resolve(ResolutionMethod::MediatedAgreement)))
        .then_rejected(Rejection::NoMediatedAgreement);
}

#[test]
fn nothing_happens_to_a_case_before_it_was_reported() {
    let gw = grid_worker(grid1());
    given(&h_assigned(grid1()))
        .when(cmd_at(
            gw,
            plus_hours(t0(), -1),
            resolve(ResolutionMethod::OnTheSpot),
        ))
        .then_rejected(Rejection::InvalidField {
            field: "occurred_at",
            reason: "is before the case was reported",
        });
}
