//! Resolving (化解/处置), verifying (核查), rework (返工), closing (结案), feedback (回访) and
//! reopening.

mod support;

use gridcase_domain::event::*;
use gridcase_domain::*;
use support::*;

fn resolve(method: ResolutionMethod) -> Action {
    Action::Resolve {
        method,
        summary: "已化解".into(),
    }
}

fn verify() -> Action {
    Action::VerifyResolution {
        note: "核查属实".into(),
    }
}

fn rework() -> Action {
    Action::RejectResolution {
        reason: "当事人反映未解决".into(),
    }
}

fn feedback_action(satisfaction: Satisfaction) -> Action {
    Action::RecordFeedback {
        satisfaction,
        comment: "回访".into(),
    }
}

fn reopen() -> Action {
    Action::Reopen {
        reason: ReopenReason::AgreementNotHonoured,
        note: "协议未履行".into(),
    }
}

fn policy(on_the_spot_close_at_grid: bool) -> Policy {
    Policy {
        on_the_spot_close_at_grid,
        ..Policy::default()
    }
}

// --- resolve -----------------------------------------------------------------------------------

#[test]
fn a_grid_worker_resolves_on_the_spot_at_grid_level() {
    let gw = grid_worker(grid1());
    let s = given(&h_assigned(grid1()))
        .when(cmd(gw.clone(), resolve(ResolutionMethod::OnTheSpot)))
        .then(&[CaseResolved {
            method: ResolutionMethod::OnTheSpot,
            level: Level::Grid,
            unit: grid1(),
            by: gw.id().clone(),
            on_time: true,
            summary: "已化解".into(),
        }
        .into()]);
    assert_eq!(s.status, Status::Resolved);
    assert_eq!(s.resolutions, 1);
    let r = s.resolution.expect("a resolution");
    assert_eq!((r.level, r.unit, r.at), (Level::Grid, grid1(), now()));
}

#[test]
fn resolving_records_the_holding_units_level() {
    for unit in [village1(), town1(), county(), city()] {
        let st = staff(unit);
        given(&h_assigned_at(grid1(), unit))
            .when(cmd(
                st.clone(),
                resolve(ResolutionMethod::DepartmentHandling),
            ))
            .then(&[CaseResolved {
                method: ResolutionMethod::DepartmentHandling,
                level: unit.level(),
                unit,
                by: st.id().clone(),
                on_time: true,
                summary: "已化解".into(),
            }
            .into()]);
    }
}

#[test]
fn a_resolution_after_the_deadline_is_late() {
    // h_assigned is due at t0 + 3 days.
    let due = t0().plus_days(3);
    let gw = grid_worker(grid1());
    let on_time = |at: Timestamp| {
        let when = given(&h_assigned(grid1())).when(cmd_at(
            gw.clone(),
            at,
            resolve(ResolutionMethod::Withdrawal),
        ));
        match when.result() {
            Ok(events) => match events.as_slice() {
                [Event::CaseResolved(r)] => r.on_time,
                other => panic!("unexpected {other:?}"),
            },
            Err(r) => panic!("rejected: {r:?}"),
        }
    };
    assert!(on_time(due));
    assert!(!on_time(due.plus_millis(1)));
    // An extension counts.
    let mut h = h_assigned(grid1());
    h.push(
        DeadlineExtended {
            previous: due,
            deadline: due.plus_days(2),
            reason: "延期".into(),
        }
        .into(),
    );
    let when = given(&h).when(cmd_at(
        gw,
        due.plus_days(1),
        resolve(ResolutionMethod::Withdrawal),
    ));
    assert!(
        matches!(when.result(), Ok(e) if matches!(e.as_slice(), [Event::CaseResolved(r)] if r.on_time))
    );
}

#[test]
fn only_an_assigned_case_is_resolved() {
    let gw = grid_worker(grid1());
    given(&h_registered(grid1()))
        .when(cmd(gw.clone(), resolve(ResolutionMethod::OnTheSpot)))
        .then_rejected(invalid_status("resolve", Status::Registered));
    given(&h_resolved(grid1(), ResolutionMethod::OnTheSpot))
        .when(cmd(gw, resolve(ResolutionMethod::OnTheSpot)))
        .then_rejected(invalid_status("resolve", Status::Resolved));
}

#[test]
fn only_the_holding_unit_resolves() {
    given(&h_assigned(grid1()))
        .when(cmd(staff(village1()), resolve(ResolutionMethod::OnTheSpot)))
        .then_rejected(Rejection::NotHoldingUnit {
            holder: grid1(),
            unit: village1(),
        });
    let other = grid_worker(grid2());
    given(&h_assigned(grid1()))
        .when(cmd(other.clone(), resolve(ResolutionMethod::OnTheSpot)))
        .then_rejected(out_of_scope(&other, grid1()));
    let m = mediator(town1());
    given(&h_assigned(grid1()))
        .when(cmd(m.clone(), resolve(ResolutionMethod::OnTheSpot)))
        .then_rejected(not_permitted(&m, "resolve"));
}

#[test]
fn a_resolution_needs_a_summary() {
    given(&h_assigned(grid1()))
        .when(cmd(
            grid_worker(grid1()),
            Action::Resolve {
                method: ResolutionMethod::OnTheSpot,
                summary: "".into(),
            },
        ))
        .then_rejected(invalid_field("summary", "must not be empty"));
}

// --- verify ------------------------------------------------------------------------------------

#[test]
fn staff_or_a_supervisor_over_the_holder_verify_a_resolution() {
    let h = h_resolved(grid1(), ResolutionMethod::Explanation);
    for actor in [staff(village1()), staff(county()), supervisor(town1())] {
        let s = given(&h)
            .when(cmd(actor, verify()))
            .then(&[ResolutionVerified {
                note: "核查属实".into(),
            }
            .into()]);
        assert_eq!(s.status, Status::Verified);
    }
}

#[test]
fn verify_only_after_resolve() {
    for h in [
        h_reported(grid1()),
        h_assigned(grid1()),
        h_verified(grid1()),
        h_closed(grid1()),
    ] {
        given(&h)
            .when(cmd(staff(village1()), verify()))
            .then_rejected(Rejection::NotResolved);
    }
    let mut rejected = h_reported(grid1());
    rejected.push(
        CaseRejected {
            reason: RejectReason::Invalid,
            note: String::new().into(),
        }
        .into(),
    );
    given(&rejected)
        .when(cmd(staff(village1()), verify()))
        .then_rejected(invalid_status("verify_resolution", Status::Rejected));
}

#[test]
fn grid_workers_do_not_verify() {
    let gw = grid_worker(grid1());
    given(&h_resolved(grid1(), ResolutionMethod::OnTheSpot))
        .when(cmd(gw.clone(), verify()))
        .then_rejected(not_permitted(&gw, "verify_resolution"));
}

#[test]
fn verification_comes_from_within_the_holders_subtree() {
    let h = h_resolved_at(grid1(), town1(), ResolutionMethod::Explanation);
    // Staff of a unit below the holder do not cover it.
    let below = staff(village1());
    given(&h)
        .when(cmd(below.clone(), verify()))
        .then_rejected(out_of_scope(&below, town1()));
    let elsewhere = supervisor(town2());
    given(&h)
        .when(cmd(elsewhere.clone(), verify()))
        .then_rejected(out_of_scope(&elsewhere, town1()));
}

/// A unit's second staff member (the harness's `staff(unit)` is the first).
fn colleague(unit: RegionCode) -> Actor {
    Actor::new(
        aid(&format!("staff-{unit}-2")),
        Role::UnitStaff,
        Scope::Subtree(unit),
    )
    .unwrap()
}

fn same_unit_verification(allow_same_unit: bool) -> Policy {
    Policy {
        verification: VerifierRule { allow_same_unit },
        ..Policy::default()
    }
}

#[test]
fn the_resolver_neither_verifies_nor_sends_back_their_own_resolution() {
    // Sending it back would also give the resolver a fresh deadline.
    for unit in [village1(), town1()] {
        let h = h_resolved_at(grid1(), unit, ResolutionMethod::DepartmentHandling);
        let resolver = staff(unit);
        for action in [verify(), rework()] {
            given(&h).when(cmd(resolver.clone(), action)).then_rejected(
                Rejection::ResolverCannotVerify {
                    resolver: resolver.id().clone(),
                },
            );
        }
    }
}

#[test]
fn another_staff_member_of_the_resolving_unit_verifies_by_default() {
    let h = h_resolved_at(grid1(), village1(), ResolutionMethod::Explanation);
    given(&h)
        .when(cmd(colleague(village1()), verify()))
        .then(&[ResolutionVerified {
            note: "核查属实".into(),
        }
        .into()]);
    // ... and so do the units above and supervisors.
    for actor in [staff(town1()), staff(city()), supervisor(county())] {
        given(&h).when(cmd(actor, verify())).then(&[verified()]);
    }
}

#[test]
fn the_policy_can_ask_for_verification_from_above_the_resolving_unit() {
    let h = h_resolved_at(grid1(), village1(), ResolutionMethod::Explanation);
    for action in [verify(), rework()] {
        let name = action.name();
        given(&h)
            .with_policy(same_unit_verification(false))
            .when(cmd(colleague(village1()), action))
            .then_rejected(Rejection::NotAboveHolder {
                action: name,
                holder: village1(),
            });
    }
    for actor in [staff(town1()), supervisor(county())] {
        given(&h)
            .with_policy(same_unit_verification(false))
            .when(cmd(actor, verify()))
            .then(&[verified()]);
    }
    // A grid resolution is verified from the village either way.
    given(&h_resolved(grid1(), ResolutionMethod::Explanation))
        .with_policy(same_unit_verification(false))
        .when(cmd(staff(village1()), verify()))
        .then(&[verified()]);
}

#[test]
fn a_verification_note_has_bounded_length() {
    given(&h_resolved(grid1(), ResolutionMethod::Explanation))
        .when(cmd(
            staff(village1()),
            Action::VerifyResolution {
                note: long_text(4001),
            },
        ))
        .then_rejected(invalid_field("note", "longer than 4000 characters"));
}

// --- reject a resolution (rework) --------------------------------------------------------------

#[test]
fn a_rejected_resolution_goes_back_to_the_handler_with_a_new_clock() {
    let s = given(&h_resolved(grid1(), ResolutionMethod::Explanation))
        .when(cmd(staff(village1()), rework()))
        .then(&[ResolutionRejected {
            reason: "当事人反映未解决".into(),
            deadline: now().plus_days(3),
        }
        .into()]);
    assert_eq!(s.status, Status::Assigned);
    assert_eq!(s.resolution, None);
    assert_eq!(s.reworks, 1);
    assert_eq!(s.handler.as_ref(), Some(grid_worker(grid1()).id()));
    assert_eq!(s.deadline, Some(now().plus_days(3)));
}

#[test]
fn rework_only_of_a_resolution() {
    given(&h_assigned(grid1()))
        .when(cmd(staff(village1()), rework()))
        .then_rejected(Rejection::NotResolved);
    given(&h_closed(grid1()))
        .when(cmd(staff(village1()), rework()))
        .then_rejected(Rejection::NotResolved);
}

#[test]
fn rework_needs_a_reason_and_the_right_role() {
    given(&h_resolved(grid1(), ResolutionMethod::Explanation))
        .when(cmd(
            staff(village1()),
            Action::RejectResolution { reason: "".into() },
        ))
        .then_rejected(invalid_field("reason", "must not be empty"));
    let gw = grid_worker(grid1());
    given(&h_resolved(grid1(), ResolutionMethod::Explanation))
        .when(cmd(gw.clone(), rework()))
        .then_rejected(not_permitted(&gw, "reject_resolution"));
}

// --- close -------------------------------------------------------------------------------------

#[test]
fn a_verified_case_is_closed_by_staff() {
    for actor in [staff(village1()), staff(city())] {
        let s = given(&h_verified(grid1()))
            .when(cmd(actor, Action::Close))
            .then(&[closed(false)]);
        assert_eq!(s.status, Status::Closed);
        assert_eq!(s.closed_at, Some(now()));
    }
}

#[test]
fn an_on_the_spot_grid_resolution_closes_without_verification_when_policy_allows() {
    let h = h_resolved(grid1(), ResolutionMethod::OnTheSpot);
    for actor in [grid_worker(grid1()), staff(village1())] {
        let s = given(&h)
            .with_policy(policy(true))
            .when(cmd(actor, Action::Close))
            .then(&[closed(true)]);
        assert_eq!(s.status, Status::Closed);
    }
}

#[test]
fn an_on_the_spot_grid_resolution_needs_verification_when_policy_forbids() {
    let h = h_resolved(grid1(), ResolutionMethod::OnTheSpot);
    for actor in [grid_worker(grid1()), staff(village1())] {
        given(&h)
            .with_policy(policy(false))
            .when(cmd(actor, Action::Close))
            .then_rejected(Rejection::NotVerified);
    }
    // Verified, it closes as usual.
    let mut h = h;
    h.push(verified());
    given(&h)
        .with_policy(policy(false))
        .when(cmd(staff(village1()), Action::Close))
        .then(&[closed(false)]);
}

#[test]
fn close_only_after_verification_otherwise() {
    // Not on the spot.
    for method in [
        ResolutionMethod::Explanation,
        ResolutionMethod::MediatedAgreement,
        ResolutionMethod::Withdrawal,
    ] {
        let mut h = h_assigned(grid1());
        h.push(resolved(grid1(), &grid_worker(grid1()), method));
        given(&h)
            .with_policy(policy(true))
            .when(cmd(staff(village1()), Action::Close))
            .then_rejected(Rejection::NotVerified);
    }
    // On the spot, but above the grid.
    given(&h_resolved_at(
        grid1(),
        village1(),
        ResolutionMethod::OnTheSpot,
    ))
    .with_policy(policy(true))
    .when(cmd(staff(village1()), Action::Close))
    .then_rejected(Rejection::NotVerified);
}

#[test]
fn a_grid_worker_closes_only_on_the_spot_resolutions() {
    let gw = grid_worker(grid1());
    given(&h_verified(grid1()))
        .when(cmd(gw.clone(), Action::Close))
        .then_rejected(not_permitted(&gw, "close"));
    let other = grid_worker(grid2());
    given(&h_resolved(grid1(), ResolutionMethod::OnTheSpot))
        .when(cmd(other.clone(), Action::Close))
        .then_rejected(out_of_scope(&other, grid1()));
}

#[test]
fn supervisors_do_not_close() {
    let sup = supervisor(county());
    given(&h_verified(grid1()))
        .when(cmd(sup.clone(), Action::Close))
        .then_rejected(not_permitted(&sup, "close"));
}

#[test]
fn close_needs_a_resolution() {
    for h in [
        h_reported(grid1()),
        h_registered(grid1()),
        h_assigned(grid1()),
    ] {
        given(&h)
            .when(cmd(staff(village1()), Action::Close))
            .then_rejected(Rejection::NotResolved);
    }
    given(&h_closed(grid1()))
        .when(cmd(staff(village1()), Action::Close))
        .then_rejected(invalid_status("close", Status::Closed));
    let mut referred = h_assigned_at(grid1(), village1());
    referred.push(
        CaseReferred {
            target: ReferralTarget::Police,
            body: "派出所".into(),
            reason: "治安".into(),
        }
        .into(),
    );
    given(&referred)
        .when(cmd(staff(village1()), Action::Close))
        .then_rejected(invalid_status("close", Status::Referred));
}

// --- feedback ----------------------------------------------------------------------------------

#[test]
fn feedback_is_recorded_on_a_resolved_verified_or_closed_case() {
    for h in [
        h_resolved(grid1(), ResolutionMethod::OnTheSpot),
        h_verified(grid1()),
        h_closed(grid1()),
    ] {
        for actor in [grid_worker(grid1()), staff(town1())] {
            let s = given(&h)
                .when(cmd(
                    actor,
                    feedback_action(Satisfaction::BasicallySatisfied),
                ))
                .then(&[FeedbackRecorded {
                    satisfaction: Satisfaction::BasicallySatisfied,
                    comment: "回访".into(),
                }
                .into()]);
            assert_eq!(s.feedback, Some(Satisfaction::BasicallySatisfied));
        }
    }
}

#[test]
fn feedback_only_once_per_resolution() {
    let mut h = h_closed(grid1());
    h.push(feedback());
    given(&h)
        .when(cmd(
            staff(village1()),
            feedback_action(Satisfaction::Dissatisfied),
        ))
        .then_rejected(Rejection::FeedbackAlreadyRecorded);
    // A new resolution after reopening takes new feedback.
    h.push(
        CaseReopened {
            reason: ReopenReason::Dissatisfied,
            note: String::new().into(),
            unit: grid1(),
            deadline: t0().plus_days(3),
        }
        .into(),
    );
    h.push(assigned(grid1(), &grid_worker(grid1()), t0().plus_days(3)));
    given(&h)
        .when(cmd(
            staff(village1()),
            feedback_action(Satisfaction::Dissatisfied),
        ))
        .then_rejected(Rejection::NotResolved);
    h.push(resolved(
        grid1(),
        &grid_worker(grid1()),
        ResolutionMethod::Explanation,
    ));
    given(&h)
        .when(cmd(
            staff(village1()),
            feedback_action(Satisfaction::Satisfied),
        ))
        .then(&[FeedbackRecorded {
            satisfaction: Satisfaction::Satisfied,
            comment: "回访".into(),
        }
        .into()]);
    // So does a new resolution after rework.
    let mut h = h_resolved(grid1(), ResolutionMethod::Explanation);
    h.push(feedback());
    h.push(
        ResolutionRejected {
            reason: "返工".into(),
            deadline: t0().plus_days(3),
        }
        .into(),
    );
    h.push(resolved(
        grid1(),
        &grid_worker(grid1()),
        ResolutionMethod::Explanation,
    ));
    given(&h)
        .when(cmd(
            staff(village1()),
            feedback_action(Satisfaction::Satisfied),
        ))
        .then(&[FeedbackRecorded {
            satisfaction: Satisfaction::Satisfied,
            comment: "回访".into(),
        }
        .into()]);
}

#[test]
fn feedback_needs_a_resolution() {
    given(&h_assigned(grid1()))
        .when(cmd(
            staff(village1()),
            feedback_action(Satisfaction::Satisfied),
        ))
        .then_rejected(Rejection::NotResolved);
}

#[test]
fn feedback_by_the_holder_or_staff_above_only() {
    let sup = supervisor(county());
    given(&h_closed(grid1()))
        .when(cmd(sup.clone(), feedback_action(Satisfaction::Satisfied)))
        .then_rejected(not_permitted(&sup, "record_feedback"));
    let other = grid_worker(grid3());
    given(&h_closed(grid1()))
        .when(cmd(other.clone(), feedback_action(Satisfaction::Satisfied)))
        .then_rejected(out_of_scope(&other, grid1()));
}

#[test]
fn a_feedback_comment_has_bounded_length() {
    given(&h_closed(grid1()))
        .when(cmd(
            staff(village1()),
            Action::RecordFeedback {
                satisfaction: Satisfaction::Satisfied,
                comment: long_text(4001),
            },
        ))
        .then_rejected(invalid_field("comment", "longer than 4000 characters"));
}

// --- reopen ------------------------------------------------------------------------------------

#[test]
fn a_closed_case_is_reopened_at_the_unit_that_held_it() {
    let mut h = h_closed(grid1());
    h.push(feedback());
    for actor in [staff(village1()), supervisor(county())] {
        let s = given(&h).when(cmd(actor, reopen())).then(&[CaseReopened {
            reason: ReopenReason::AgreementNotHonoured,
            note: "协议未履行".into(),
            unit: grid1(),
            deadline: now().plus_days(3),
        }
        .into()]);
        assert_eq!(s.status, Status::Registered);
        assert_eq!(s.holder, Some(grid1()));
        assert_eq!(
            (
                s.handler.as_ref(),
                s.resolution.as_ref(),
                s.feedback,
                s.closed_at
            ),
            (None, None, None, None)
        );
        assert_eq!(s.reopens, 1);
        assert_eq!(
            s.resolutions, 1,
            "the earlier resolution still counts in history"
        );
    }
}

#[test]
fn reopen_only_a_closed_case() {
    for h in [
        h_assigned(grid1()),
        h_resolved(grid1(), ResolutionMethod::OnTheSpot),
        h_verified(grid1()),
    ] {
        given(&h)
            .when(cmd(staff(village1()), reopen()))
            .then_rejected(Rejection::NotClosed);
    }
}

#[test]
fn grid_workers_do_not_reopen() {
    let gw = grid_worker(grid1());
    given(&h_closed(grid1()))
        .when(cmd(gw.clone(), reopen()))
        .then_rejected(not_permitted(&gw, "reopen"));
}

#[test]
fn a_reopening_note_has_bounded_length() {
    given(&h_closed(grid1()))
        .when(cmd(
            staff(village1()),
            Action::Reopen {
                reason: ReopenReason::NewFacts,
                note: long_text(4001),
            },
        ))
        .then_rejected(invalid_field("note", "longer than 4000 characters"));
}
