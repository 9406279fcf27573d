//! Moving a case: up (escalate 上报), down (delegate 下派), out (refer 移送) and back, and
//! taken over from above (提级领办). A case is held by exactly one unit at a time.

mod support;

use gridcase_domain::event::*;
use gridcase_domain::*;
use support::*;

fn escalate(to: Option<RegionCode>) -> Action {
    Action::Escalate {
        to,
        reason: "超出网格处置能力".into(),
    }
}

fn delegate(to: RegionCode) -> Action {
    Action::Delegate {
        to,
        reason: "属地处置".into(),
    }
}

fn refer() -> Action {
    Action::Refer {
        target: ReferralTarget::Court,
        body: "柯城区人民法院".into(),
        reason: "当事人坚持诉讼".into(),
    }
}

fn return_referral() -> Action {
    Action::ReturnReferral {
        reason: "诉前调解".into(),
    }
}

/// A case reported at grid1, escalated to `unit` (an ancestor) and registered there.
fn h_registered_at(unit: RegionCode) -> Vec<Event> {
    let mut h = h_assigned_at(grid1(), unit);
    h.pop();
    h
}

fn take_over() -> Action {
    Action::TakeOver {
        reason: "案情复杂，提级领办".into(),
    }
}

// --- escalate ----------------------------------------------------------------------------------

#[test]
fn a_grid_worker_escalates_to_the_parent_by_default() {
    let s = given(&h_assigned(grid1()))
        .when(cmd(grid_worker(grid1()), escalate(None)))
        .then(&[escalated(grid1(), village1(), now().plus_days(7))]);
    assert_eq!(s.holder, Some(village1()));
    assert_eq!(s.path, vec![grid1(), village1()]);
    assert_eq!(s.escalations, 1);
    // The new unit registers its own handler.
    assert_eq!(s.status, Status::Registered);
    assert_eq!(s.handler, None);
    assert_eq!(s.deadline, Some(now().plus_days(7)));
}

#[test]
fn escalation_may_skip_levels_and_the_deadline_follows_the_new_level() {
    given(&h_assigned(grid1()))
        .when(cmd(grid_worker(grid1()), escalate(Some(county()))))
        .then(&[CaseEscalated {
            from: grid1(),
            to: county(),
            to_level: Level::County,
            reason: "超出网格处置能力".into(),
            deadline: now().plus_days(30),
        }
        .into()]);
    given(&h_registered_at(village1()))
        .when(cmd(staff(village1()), escalate(Some(city()))))
        .then(&[escalated(village1(), city(), now().plus_days(30))]);
}

#[test]
fn urgent_escalations_get_half_the_days_of_the_new_level() {
    let h = vec![
        report(grid1()).severity(Severity::Urgent).event(grid1()),
        registered(grid1()),
    ];
    given(&h)
        .when(cmd(grid_worker(grid1()), escalate(Some(town1()))))
        .then(&[escalated(grid1(), town1(), now().plus_days(8))]);
}

#[test]
fn a_report_is_escalated_before_registration_and_stays_reported() {
    let s = given(&h_reported(grid1()))
        .when(cmd(grid_worker(grid1()), escalate(None)))
        .then(&[escalated(grid1(), village1(), now().plus_days(7))]);
    assert_eq!(s.status, Status::Reported);
}

#[test]
fn escalation_goes_only_to_an_ancestor() {
    let gw = grid_worker(grid1());
    for to in [grid1(), grid2(), grid4(), village2(), town2()] {
        given(&h_assigned(grid1()))
            .when(cmd(gw.clone(), escalate(Some(to))))
            .then_rejected(Rejection::EscalationNotToAncestor { from: grid1(), to });
    }
    // Down is not up.
    given(&h_registered_at(town1()))
        .when(cmd(staff(town1()), escalate(Some(village1()))))
        .then_rejected(Rejection::EscalationNotToAncestor {
            from: town1(),
            to: village1(),
        });
}

#[test]
fn a_city_held_case_has_nowhere_to_escalate() {
    given(&h_registered_at(city()))
        .when(cmd(staff(city()), escalate(None)))
        .then_rejected(invalid_field(
            "to",
            "a city-held case has no unit to escalate to",
        ));
}

#[test]
fn only_the_holding_unit_escalates() {
    given(&h_assigned(grid1()))
        .when(cmd(staff(village1()), escalate(None)))
        .then_rejected(Rejection::NotHoldingUnit {
            holder: grid1(),
            unit: village1(),
        });
    let other = grid_worker(grid3());
    given(&h_assigned(grid1()))
        .when(cmd(other.clone(), escalate(None)))
        .then_rejected(out_of_scope(&other, grid1()));
    let sup = supervisor(county());
    given(&h_assigned(grid1()))
        .when(cmd(sup.clone(), escalate(None)))
        .then_rejected(not_permitted(&sup, "escalate"));
}

#[test]
fn only_open_cases_are_escalated() {
    given(&h_resolved(grid1(), ResolutionMethod::OnTheSpot))
        .when(cmd(grid_worker(grid1()), escalate(None)))
        .then_rejected(invalid_status("escalate", Status::Resolved));
    given(&h_closed(grid1()))
        .when(cmd(grid_worker(grid1()), escalate(None)))
        .then_rejected(invalid_status("escalate", Status::Closed));
}

#[test]
fn a_case_in_mediation_is_not_escalated() {
    given(&h_mediating(grid1()))
        .when(cmd(grid_worker(grid1()), escalate(None)))
        .then_rejected(Rejection::MediationInProgress { action: "escalate" });
}

#[test]
fn an_escalation_needs_a_reason() {
    given(&h_assigned(grid1()))
        .when(cmd(
            grid_worker(grid1()),
            Action::Escalate {
                to: None,
                reason: String::new(),
            },
        ))
        .then_rejected(invalid_field("reason", "must not be empty"));
}

// --- delegate ----------------------------------------------------------------------------------

#[test]
fn unit_staff_delegate_down_to_a_descendant() {
    let s = given(&h_assigned_at(grid1(), town1()))
        .when(cmd(staff(town1()), delegate(village1())))
        .then(&[delegated(town1(), village1(), now().plus_days(7))]);
    assert_eq!(s.holder, Some(village1()));
    assert_eq!(s.path, vec![grid1(), town1(), village1()]);
    assert_eq!(s.delegations, 1);
    assert_eq!(s.status, Status::Registered);
    assert_eq!(s.handler, None);
}

#[test]
fn delegation_may_skip_levels_down_to_a_grid() {
    given(&h_registered_at(county()))
        .when(cmd(staff(county()), delegate(grid3())))
        .then(&[CaseDelegated {
            from: county(),
            to: grid3(),
            to_level: Level::Grid,
            reason: "属地处置".into(),
            deadline: now().plus_days(3),
        }
        .into()]);
}

#[test]
fn delegation_goes_only_to_a_descendant() {
    for to in [town1(), town2(), county(), city(), grid4(), village3()] {
        given(&h_assigned_at(grid1(), town1()))
            .when(cmd(staff(town1()), delegate(to)))
            .then_rejected(Rejection::DelegationNotToDescendant { from: town1(), to });
    }
}

#[test]
fn delegation_goes_to_a_known_unit() {
    given(&h_assigned_at(grid1(), town1()))
        .when(cmd(staff(town1()), delegate(unknown_village())))
        .then_rejected(Rejection::UnknownRegion {
            code: unknown_village(),
        });
}

#[test]
fn a_critical_case_is_not_delegated_below_the_township() {
    let r = report(grid1()).severity(Severity::Critical);
    let h = vec![
        r.event(grid1()),
        escalated(grid1(), county(), t0().plus_days(15)),
        registered(county()),
    ];
    for to in [village1(), grid1()] {
        given(&h)
            .when(cmd(staff(county()), delegate(to)))
            .then_rejected(Rejection::CriticalBelowTownship { to });
    }
    given(&h)
        .when(cmd(staff(county()), delegate(town1())))
        .then(&[delegated(county(), town1(), now().plus_days(8))]);
}

#[test]
fn grid_workers_do_not_delegate() {
    let gw = grid_worker(grid1());
    given(&h_assigned(grid1()))
        .when(cmd(gw.clone(), delegate(grid1())))
        .then_rejected(not_permitted(&gw, "delegate"));
}

#[test]
fn only_the_holding_unit_delegates() {
    given(&h_assigned_at(grid1(), village1()))
        .when(cmd(staff(town1()), delegate(grid1())))
        .then_rejected(Rejection::NotHoldingUnit {
            holder: village1(),
            unit: town1(),
        });
}

#[test]
fn only_registered_or_assigned_cases_are_delegated() {
    let h = vec![report(grid1()).event(town1())];
    given(&h)
        .when(cmd(staff(town1()), delegate(village1())))
        .then_rejected(invalid_status("delegate", Status::Reported));
}

#[test]
fn a_case_in_mediation_is_not_delegated() {
    let mut h = h_assigned_at(grid1(), town1());
    h.push(mediation_started(&mediator(town1()), town1()));
    given(&h)
        .when(cmd(staff(town1()), delegate(village1())))
        .then_rejected(Rejection::MediationInProgress { action: "delegate" });
}

#[test]
fn a_delegation_needs_a_reason() {
    given(&h_assigned_at(grid1(), town1()))
        .when(cmd(
            staff(town1()),
            Action::Delegate {
                to: village1(),
                reason: "".into(),
            },
        ))
        .then_rejected(invalid_field("reason", "must not be empty"));
}

// --- refer and return --------------------------------------------------------------------------

#[test]
fn unit_staff_refer_a_case_out_and_the_clock_stops() {
    let s = given(&h_assigned_at(grid1(), village1()))
        .when(cmd(staff(village1()), refer()))
        .then(&[CaseReferred {
            target: ReferralTarget::Court,
            body: "柯城区人民法院".into(),
            reason: "当事人坚持诉讼".into(),
        }
        .into()]);
    assert_eq!(s.status, Status::Referred);
    assert_eq!(
        s.holder,
        Some(village1()),
        "the referring unit still answers for the case"
    );
    assert_eq!(s.deadline, None);
    assert_eq!(s.handler, None);
    assert!(!s.is_overdue(now().plus_days(365)));
}

#[test]
fn grid_workers_do_not_refer() {
    let gw = grid_worker(grid1());
    given(&h_assigned(grid1()))
        .when(cmd(gw.clone(), refer()))
        .then_rejected(not_permitted(&gw, "refer"));
}

#[test]
fn only_registered_or_assigned_cases_are_referred() {
    let h = vec![report(grid1()).event(village1())];
    given(&h)
        .when(cmd(staff(village1()), refer()))
        .then_rejected(invalid_status("refer", Status::Reported));
}

#[test]
fn a_case_in_mediation_is_not_referred() {
    let mut h = h_assigned_at(grid1(), village1());
    h.push(mediation_started(&mediator(town1()), town1()));
    given(&h)
        .when(cmd(staff(village1()), refer()))
        .then_rejected(Rejection::MediationInProgress { action: "refer" });
}

#[test]
fn a_referral_names_the_body_and_the_reason() {
    let h = h_assigned_at(grid1(), village1());
    let action = Action::Refer {
        target: ReferralTarget::Police,
        body: "".into(),
        reason: "r".into(),
    };
    given(&h)
        .when(cmd(staff(village1()), action))
        .then_rejected(invalid_field("body", "must not be empty"));
    let action = Action::Refer {
        target: ReferralTarget::Police,
        body: "派出所".into(),
        reason: "".into(),
    };
    given(&h)
        .when(cmd(staff(village1()), action))
        .then_rejected(invalid_field("reason", "must not be empty"));
}

#[test]
fn a_returned_referral_is_registered_again_at_the_holding_unit_with_a_new_clock() {
    let s = given(&h_referred())
        .when(cmd(staff(village1()), return_referral()))
        .then(&[ReferralReturned {
            unit: village1(),
            reason: "诉前调解".into(),
            deadline: now().plus_days(7),
        }
        .into()]);
    assert_eq!(s.status, Status::Registered);
    assert_eq!(s.referral, None);
    assert_eq!(s.holder, Some(village1()));
}

#[test]
fn only_a_referred_case_is_returned() {
    given(&h_assigned_at(grid1(), village1()))
        .when(cmd(staff(village1()), return_referral()))
        .then_rejected(invalid_status("return_referral", Status::Assigned));
}

#[test]
fn only_the_holding_units_staff_record_a_return() {
    given(&h_referred())
        .when(cmd(staff(town1()), return_referral()))
        .then_rejected(Rejection::NotHoldingUnit {
            holder: village1(),
            unit: town1(),
        });
    let gw = grid_worker(grid1());
    given(&h_referred())
        .when(cmd(gw.clone(), return_referral()))
        .then_rejected(not_permitted(&gw, "return_referral"));
}

#[test]
fn a_return_needs_a_reason() {
    given(&h_referred())
        .when(cmd(
            staff(village1()),
            Action::ReturnReferral {
                reason: "\n".into(),
            },
        ))
        .then_rejected(invalid_field("reason", "must not be empty"));
}

#[test]
fn escalation_and_delegation_deadlines_follow_a_configured_policy() {
    let policy = Policy {
        deadlines: DeadlinePolicy {
            village_days: 10,
            township_days: 12,
            urgent_divisor: 3,
            ..DeadlinePolicy::default()
        },
        ..Policy::default()
    };
    given(&h_assigned(grid1()))
        .with_policy(policy.clone())
        .when(cmd(grid_worker(grid1()), escalate(None)))
        .then(&[escalated(grid1(), village1(), now().plus_days(10))]);
    given(&h_registered_at(county()))
        .with_policy(policy.clone())
        .when(cmd(staff(county()), delegate(town1())))
        .then(&[delegated(county(), town1(), now().plus_days(12))]);
    // Urgent: a third of the township's 12 days.
    let h = vec![
        report(grid1()).severity(Severity::Urgent).event(grid1()),
        registered(grid1()),
    ];
    given(&h)
        .with_policy(policy)
        .when(cmd(grid_worker(grid1()), escalate(Some(town1()))))
        .then(&[escalated(grid1(), town1(), now().plus_days(4))]);
}

// --- take over (提级领办) ------------------------------------------------------------------------

#[test]
fn an_ancestor_units_staff_take_over_a_case_and_their_deadline_applies() {
    // Assigned at the grid; the township takes it over.
    let s = given(&h_assigned(grid1()))
        .when(cmd(staff(town1()), take_over()))
        .then(&[taken_over(grid1(), town1(), now().plus_days(15))]);
    assert_eq!(s.holder, Some(town1()));
    assert_eq!(s.path, vec![grid1(), town1()]);
    assert_eq!((s.takeovers, s.escalations), (1, 0));
    // The taking unit dispatches it again, on its own clock.
    assert_eq!(s.status, Status::Registered);
    assert_eq!(s.handler, None);
    assert_eq!(s.deadline, Some(now().plus_days(15)));
    given(&h_assigned(grid1()))
        .when(cmd(staff(county()), take_over()))
        .then(&[taken_over(grid1(), county(), now().plus_days(30))]);
}

#[test]
fn a_take_over_follows_the_deadline_grid_of_the_case() {
    let mut h = h_assigned(grid1());
    h[0] = report(grid1()).severity(Severity::Urgent).event(grid1());
    given(&h)
        .when(cmd(staff(town1()), take_over()))
        .then(&[taken_over(grid1(), town1(), now().plus_days(8))]);
}

#[test]
fn a_reported_or_registered_case_can_be_taken_over() {
    let s = given(&h_reported(grid1()))
        .when(cmd(staff(village1()), take_over()))
        .then(&[taken_over(grid1(), village1(), now().plus_days(7))]);
    assert_eq!(s.status, Status::Reported);
    given(&h_registered(grid1()))
        .when(cmd(staff(village1()), take_over()))
        .then(&[taken_over(grid1(), village1(), now().plus_days(7))]);
}

#[test]
fn the_holding_unit_does_not_take_over_its_own_case() {
    given(&h_registered_at(village1()))
        .when(cmd(staff(village1()), take_over()))
        .then_rejected(Rejection::NotAboveHolder {
            action: "take_over",
            holder: village1(),
        });
}

#[test]
fn only_an_ancestor_takes_over() {
    // Below the holder, or beside it: the holder is out of scope.
    let below = staff(village1());
    given(&h_registered_at(town1()))
        .when(cmd(below.clone(), take_over()))
        .then_rejected(out_of_scope(&below, town1()));
    let beside = staff(town2());
    given(&h_assigned(grid1()))
        .when(cmd(beside.clone(), take_over()))
        .then_rejected(out_of_scope(&beside, grid1()));
}

#[test]
fn only_unit_staff_take_over() {
    for actor in [
        grid_worker(grid1()),
        supervisor(county()),
        mediator(town1()),
        admin(city()),
    ] {
        given(&h_assigned(grid1()))
            .when(cmd(actor.clone(), take_over()))
            .then_rejected(not_permitted(&actor, "take_over"));
    }
}

#[test]
fn only_open_cases_are_taken_over() {
    for (h, status) in [
        (
            h_resolved(grid1(), ResolutionMethod::Explanation),
            Status::Resolved,
        ),
        (h_closed(grid1()), Status::Closed),
        (h_referred(), Status::Referred),
    ] {
        given(&h)
            .when(cmd(staff(county()), take_over()))
            .then_rejected(invalid_status("take_over", status));
    }
}

#[test]
fn a_case_in_mediation_is_not_taken_over() {
    given(&h_mediating(grid1()))
        .when(cmd(staff(town1()), take_over()))
        .then_rejected(Rejection::MediationInProgress {
            action: "take_over",
        });
}

#[test]
fn a_take_over_needs_a_reason() {
    given(&h_assigned(grid1()))
        .when(cmd(staff(town1()), Action::TakeOver { reason: " ".into() }))
        .then_rejected(invalid_field("reason", "must not be empty"));
}

#[test]
fn a_taken_over_case_is_registered_and_assigned_at_the_taking_unit() {
    let mut h = h_reported(grid1());
    h.push(taken_over(grid1(), town1(), t0().plus_days(15)));
    // Registration keeps the clock the take-over started.
    let s = given(&h)
        .when(cmd(staff(town1()), Action::Register))
        .then(&[registered_due(town1(), Some(t0().plus_days(15)))]);
    assert_eq!(s.holder, Some(town1()));
}
