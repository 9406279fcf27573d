//! Intake: report (信息收集), register (立案), reject (不予立案), assign (派遣), merge — and the
//! rules every command shares (read-only roles, a case must exist).

mod support;

use gridcase_domain::decide::CRITICAL_REASON;
use gridcase_domain::event::*;
use gridcase_domain::*;
use support::*;

fn with_summary(mut action: Action, text: &str) -> Action {
    if let Action::Report { summary, .. } = &mut action {
        *summary = text.into();
    }
    action
}

// --- every command ---------------------------------------------------------------------------

#[test]
fn the_sample_actions_cover_every_action() {
    let names: Vec<&str> = sample_actions().iter().map(Action::name).collect();
    assert_eq!(names, Action::NAMES);
}

/// An action's kind carries its name: the kinds, by name, are the actions' names and back.
#[test]
fn each_kind_is_named_as_its_action() {
    for action in sample_actions() {
        let kind = action.kind();
        assert_eq!(kind.name(), action.name());
        assert_eq!(ActionKind::from_name(action.name()), Some(kind));
    }
    assert_eq!(ActionKind::from_name("no_such_action"), None);
    // An action on a case is any but `report`, which opens one.
    assert_eq!(ActionKind::case_command("report"), None);
    assert_eq!(ActionKind::case_command("no_such_action"), None);
    assert_eq!(
        ActionKind::case_command("escalate"),
        Some(ActionKind::Escalate)
    );
    let kinds: Vec<&str> = ActionKind::case_commands().map(ActionKind::name).collect();
    assert_eq!(kinds, Action::case_commands().collect::<Vec<_>>());
}

/// The names come from `strum`, the JSON tags from serde: they must agree, or the API would
/// route one name and parse another.
#[test]
fn every_actions_json_tag_is_its_name() {
    for action in sample_actions() {
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json["action"], action.name(), "{action:?}");
        let back: Action = serde_json::from_value(json).unwrap();
        assert_eq!(back, action);
    }
}

#[test]
fn the_case_commands_are_every_action_but_report() {
    let report = sample_actions()
        .into_iter()
        .find(|a| matches!(a, Action::Report { .. }))
        .unwrap();
    assert_eq!(report.name(), Action::REPORT);
    let mut expected: Vec<&str> = Action::NAMES.to_vec();
    expected.retain(|n| *n != "report");
    assert_eq!(Action::case_commands().collect::<Vec<_>>(), expected);
    assert_eq!(expected.len(), Action::NAMES.len() - 1);
}

#[test]
fn a_rejection_code_is_its_variant_name() {
    assert_eq!(Rejection::CaseNotFound.code(), "CaseNotFound");
    assert_eq!(
        Rejection::OutOfScope {
            actor: ActorId::new("gw-1").unwrap(),
            region: grid1(),
        }
        .code(),
        "OutOfScope"
    );
    assert_eq!(
        Rejection::InvalidField {
            field: "summary",
            reason: "required",
        }
        .code(),
        "InvalidField"
    );
}

#[test]
fn every_action_but_report_needs_an_existing_case() {
    for action in sample_actions().into_iter().skip(1) {
        given_no_case()
            .when(cmd(staff(county()), action))
            .then_rejected(Rejection::CaseNotFound);
    }
}

#[test]
fn auditors_and_analysts_issue_no_commands_at_all() {
    for action in sample_actions() {
        for (actor, role) in [(auditor(), Role::Auditor), (analyst(), Role::Analyst)] {
            given_no_case()
                .when(cmd(actor.clone(), action.clone()))
                .then_rejected(Rejection::ReadOnlyRole { role });
            given(&h_assigned(grid1()))
                .when(cmd(actor, action.clone()))
                .then_rejected(Rejection::ReadOnlyRole { role });
        }
    }
}

// --- report ----------------------------------------------------------------------------------

#[test]
fn a_grid_worker_reports_in_their_grid_and_the_grid_holds_the_case() {
    let r = report(grid1());
    let s = given_no_case()
        .when(cmd(grid_worker(grid1()), r.action()))
        .then(&[r.event(grid1())]);
    assert_eq!(s.status, Status::Reported);
    assert_eq!(s.holder, Some(grid1()));
    assert_eq!(s.path, vec![grid1()]);
    assert_eq!(s.id, Some(case_id()));
    assert_eq!(s.reported_at, Some(now()));
    assert_eq!(s.deadline, None);
}

#[test]
fn unit_staff_report_anywhere_in_their_subtree_and_their_unit_holds_the_case() {
    let r = report(grid3())
        .kind(CaseKind::Request)
        .source(Source::Hotline);
    let s = given_no_case()
        .when(cmd(staff(town1()), r.action()))
        .then(&[r.event(town1())]);
    assert_eq!(s.holder, Some(town1()));
}

#[test]
fn a_critical_report_at_the_grid_is_escalated_to_the_township_in_the_same_decision() {
    let r = report(grid1()).severity(Severity::Critical);
    let s = given_no_case()
        .when(cmd(grid_worker(grid1()), r.action()))
        .then(&[
            r.event(grid1()),
            CaseEscalated {
                from: grid1(),
                to: town1(),
                to_level: Level::Township,
                reason: CRITICAL_REASON.into(),
                // Critical above the grid: half the township's 15 days, rounded up.
                deadline: now().plus_days(8),
            }
            .into(),
        ]);
    assert_eq!(s.status, Status::Reported);
    assert_eq!(s.holder, Some(town1()));
    assert_eq!(s.path, vec![grid1(), town1()]);
    assert_eq!(s.escalations, 1);
    assert_eq!(s.version, 2);
}

#[test]
fn a_critical_report_received_by_a_village_is_escalated_to_its_township() {
    let r = report(grid4())
        .severity(Severity::Critical)
        .source(Source::Petition);
    given_no_case()
        .when(cmd(staff(village3()), r.action()))
        .then(&[
            r.event(village3()),
            CaseEscalated {
                from: village3(),
                to: town2(),
                to_level: Level::Township,
                reason: CRITICAL_REASON.into(),
                // Petitions get 60 days at any level.
                deadline: now().plus_days(60),
            }
            .into(),
        ]);
}

#[test]
fn a_critical_report_received_at_or_above_the_township_stays_there() {
    for unit in [town1(), county(), city()] {
        let r = report(grid1()).severity(Severity::Critical);
        given_no_case()
            .when(cmd(staff(unit), r.action()))
            .then(&[r.event(unit)]);
    }
}

#[test]
fn an_urgent_report_is_not_escalated() {
    let r = report(grid1()).severity(Severity::Urgent);
    given_no_case()
        .when(cmd(grid_worker(grid1()), r.action()))
        .then(&[r.event(grid1())]);
}

#[test]
fn a_case_is_reported_only_once() {
    given(&h_reported(grid1()))
        .when(cmd(grid_worker(grid1()), report(grid1()).action()))
        .then_rejected(Rejection::CaseAlreadyExists);
}

#[test]
fn a_report_names_a_known_region() {
    given_no_case()
        .when(cmd(grid_worker(grid1()), report(unknown_grid()).action()))
        .then_rejected(Rejection::UnknownRegion {
            code: unknown_grid(),
        });
    given_no_case()
        .when(cmd(staff(town1()), report(unknown_village()).action()))
        .then_rejected(Rejection::UnknownRegion {
            code: unknown_village(),
        });
}

#[test]
fn a_report_lies_in_the_reporters_scope() {
    let gw = grid_worker(grid1());
    given_no_case()
        .when(cmd(gw.clone(), report(grid2()).action()))
        .then_rejected(out_of_scope(&gw, grid2()));
    let st = staff(village1());
    given_no_case()
        .when(cmd(st.clone(), report(grid3()).action()))
        .then_rejected(out_of_scope(&st, grid3()));
    // Above one's own unit is outside too.
    given_no_case()
        .when(cmd(st.clone(), report(town1()).action()))
        .then_rejected(out_of_scope(&st, town1()));
}

#[test]
fn only_grid_workers_and_unit_staff_report() {
    for actor in [mediator(town1()), supervisor(county()), admin(county())] {
        given_no_case()
            .when(cmd(actor.clone(), report(grid1()).action()))
            .then_rejected(not_permitted(&actor, "report"));
    }
}

#[test]
fn a_report_needs_a_summary_of_bounded_length() {
    let gw = grid_worker(grid1());
    let r = report(grid1());
    for empty in ["", "  \n\t"] {
        given_no_case()
            .when(cmd(gw.clone(), with_summary(r.action(), empty)))
            .then_rejected(invalid_field("summary", "must not be empty"));
    }
    given_no_case()
        .when(cmd(gw.clone(), with_summary(r.action(), &long_text(4001))))
        .then_rejected(invalid_field("summary", "longer than 4000 characters"));
    // The limit counts characters, not bytes: 4000 Chinese characters are fine.
    let when = given_no_case().when(cmd(gw, with_summary(r.action(), &long_text(4000))));
    assert!(when.result().is_ok(), "{:?}", when.result());
}

#[test]
fn a_report_has_at_most_fifty_parties() {
    let many = |n: usize| {
        let mut action = report(grid1()).action();
        if let Action::Report { parties, .. } = &mut action {
            *parties = (0..n)
                .map(|i| Party {
                    id: PartyId::new(format!("p-{i}")).unwrap(),
                    role: PartyRole::ThirdParty,
                })
                .collect();
        }
        action
    };
    given_no_case()
        .when(cmd(grid_worker(grid1()), many(51)))
        .then_rejected(invalid_field("parties", "more than 50 parties"));
    assert!(given_no_case()
        .when(cmd(grid_worker(grid1()), many(50)))
        .result()
        .is_ok());
}

#[test]
fn a_reports_category_fits_its_kind() {
    for kind in CaseKind::ALL {
        for category in Category::ALL {
            let r = report(grid1()).kind(*kind).category(*category);
            let when = given_no_case().when(cmd(grid_worker(grid1()), r.action()));
            if category.fits(*kind) {
                when.then(&[r.event(grid1())]);
            } else {
                when.then_rejected(Rejection::CategoryNotForKind {
                    category: *category,
                    kind: *kind,
                });
            }
        }
    }
}

#[test]
fn incidents_and_requests_have_their_own_categories() {
    let hazard = report(grid1())
        .kind(CaseKind::Incident)
        .category(Category::FireSafety)
        .source(Source::SmartSensing);
    given_no_case()
        .when(cmd(grid_worker(grid1()), hazard.action()))
        .then(&[hazard.event(grid1())]);
    let request = report(grid3())
        .kind(CaseKind::Request)
        .category(Category::SocialServices)
        .source(Source::Hotline);
    given_no_case()
        .when(cmd(staff(town1()), request.action()))
        .then(&[request.event(town1())]);
    // A dispute category does not describe a hazard.
    let r = report(grid1())
        .kind(CaseKind::Incident)
        .category(Category::PropertyManagement);
    given_no_case()
        .when(cmd(grid_worker(grid1()), r.action()))
        .then_rejected(Rejection::CategoryNotForKind {
            category: Category::PropertyManagement,
            kind: CaseKind::Incident,
        });
}

#[test]
fn an_old_report_with_any_category_still_applies() {
    // Recorded before the rule: an incident filed under a dispute category.
    let old = report(grid1())
        .kind(CaseKind::Incident)
        .category(Category::Pollution)
        .event(grid1());
    let s = given(&[old, registered(grid1())]).state().clone();
    let d = s.details.expect("details");
    assert_eq!(
        (d.kind, d.category),
        (CaseKind::Incident, Category::Pollution)
    );
    assert_eq!(s.status, Status::Registered);
}

#[test]
fn what_is_reported_cannot_have_happened_after_the_report() {
    let mut action = report(grid1()).action();
    if let Action::Report { happened_at, .. } = &mut action {
        *happened_at = now().plus_millis(1);
    }
    given_no_case()
        .when(cmd(grid_worker(grid1()), action.clone()))
        .then_rejected(invalid_field("happened_at", "is after the report"));
    if let Action::Report { happened_at, .. } = &mut action {
        *happened_at = now();
    }
    assert!(given_no_case()
        .when(cmd(grid_worker(grid1()), action))
        .result()
        .is_ok());
}

// --- register ----------------------------------------------------------------------------------

#[test]
fn the_grid_worker_registers_a_case_their_grid_holds_and_the_clock_starts() {
    let s = given(&h_reported(grid1()))
        .when(cmd(grid_worker(grid1()), Action::Register))
        .then(&[registered_due(grid1(), Some(now().plus_days(3)))]);
    assert_eq!(s.status, Status::Registered);
    assert_eq!(s.registered_at, Some(now()));
    assert_eq!(s.deadline, Some(now().plus_days(3)));
}

#[test]
fn registration_records_the_holding_unit_and_its_level() {
    for unit in [village1(), town1(), county(), city()] {
        let r = report(grid1());
        let days = Policy::default()
            .deadlines
            .level_days(unit.level(), CaseKind::Dispute);
        given(&[r.event(unit)])
            .when(cmd(staff(unit), Action::Register))
            .then(&[CaseRegistered {
                unit,
                level: unit.level(),
                deadline: Some(now().plus_days(days.into())),
            }
            .into()]);
    }
}

#[test]
fn registration_keeps_a_clock_started_by_a_move_before_it() {
    // A critical report went to the township at once, due at t0 + 8 days.
    let r = report(grid1()).severity(Severity::Critical);
    let h = vec![
        r.event(grid1()),
        escalated(grid1(), town1(), t0().plus_days(8)),
    ];
    given(&h)
        .when(cmd(staff(town1()), Action::Register))
        .then(&[registered_due(town1(), Some(t0().plus_days(8)))]);
}

#[test]
fn a_registered_case_never_assigned_becomes_overdue() {
    let s = given(&h_reported(grid1()))
        .when(cmd(grid_worker(grid1()), Action::Register))
        .then(&[registered_due(grid1(), Some(now().plus_days(3)))]);
    assert!(!s.is_overdue(now().plus_days(3)));
    assert!(s.is_overdue(now().plus_days(3).plus_millis(1)));
    // The village presses it as overdue.
    let mut h = h_reported(grid1());
    h.push(registered(grid1()));
    let late = t0().plus_days(4);
    given(&h)
        .when(cmd_at(
            staff(village1()),
            late,
            Action::IssueSupervision {
                note: "已超期，请立即派遣".into(),
            },
        ))
        .then(&[SupervisionIssued {
            by_unit: village1(),
            overdue: true,
            note: "已超期，请立即派遣".into(),
        }
        .into()]);
}

#[test]
fn a_case_registered_under_schema_version_1_starts_its_clock_at_assignment() {
    // Version 1 of CaseRegistered carried no deadline: it decodes with `None`.
    let h = vec![
        report(grid1()).event(grid1()),
        registered_due(grid1(), None),
    ];
    let g = given(&h);
    assert_eq!(g.state().deadline, None);
    assert!(!g.state().is_overdue(now().plus_days(100)));
    let gw = grid_worker(grid1());
    g.when(cmd(
        gw.clone(),
        Action::Assign {
            handler: gw.id().clone(),
        },
    ))
    .then(&[assigned(grid1(), &gw, now().plus_days(3))]);
}

#[test]
fn only_the_holding_unit_registers() {
    // Staff above the holding grid cover it but do not hold it.
    given(&h_reported(grid1()))
        .when(cmd(staff(village1()), Action::Register))
        .then_rejected(Rejection::NotHoldingUnit {
            holder: grid1(),
            unit: village1(),
        });
    // Once escalated, the grid no longer holds it.
    let mut h = h_reported(grid1());
    h.push(escalated(grid1(), village1(), t0().plus_days(7)));
    let gw = grid_worker(grid1());
    given(&h)
        .when(cmd(gw.clone(), Action::Register))
        .then_rejected(out_of_scope(&gw, village1()));
    given(&h)
        .when(cmd(staff(town1()), Action::Register))
        .then_rejected(Rejection::NotHoldingUnit {
            holder: village1(),
            unit: town1(),
        });
}

#[test]
fn a_neighbouring_grid_worker_cannot_register() {
    let other = grid_worker(grid2());
    given(&h_reported(grid1()))
        .when(cmd(other.clone(), Action::Register))
        .then_rejected(out_of_scope(&other, grid1()));
}

#[test]
fn supervisors_mediators_and_admins_do_not_register() {
    for actor in [supervisor(county()), mediator(town1()), admin(county())] {
        given(&h_reported(grid1()))
            .when(cmd(actor.clone(), Action::Register))
            .then_rejected(not_permitted(&actor, "register"));
    }
}

#[test]
fn a_case_is_registered_once() {
    given(&h_registered(grid1()))
        .when(cmd(grid_worker(grid1()), Action::Register))
        .then_rejected(invalid_status("register", Status::Registered));
}

// --- reject ------------------------------------------------------------------------------------

#[test]
fn the_holding_unit_rejects_a_report_with_a_reason() {
    let s = given(&h_reported(grid1()))
        .when(cmd(
            grid_worker(grid1()),
            Action::Reject {
                reason: RejectReason::Duplicate,
                note: "与c0重复".into(),
            },
        ))
        .then(&[CaseRejected {
            reason: RejectReason::Duplicate,
            note: "与c0重复".into(),
        }
        .into()]);
    assert_eq!(s.status, Status::Rejected);
    assert_eq!(s.rejected, Some(RejectReason::Duplicate));
}

#[test]
fn only_a_reported_case_is_rejected() {
    let action = Action::Reject {
        reason: RejectReason::Invalid,
        note: String::new(),
    };
    given(&h_registered(grid1()))
        .when(cmd(grid_worker(grid1()), action))
        .then_rejected(invalid_status("reject", Status::Registered));
}

#[test]
fn a_rejected_case_is_final() {
    let mut h = h_reported(grid1());
    h.push(
        CaseRejected {
            reason: RejectReason::OutOfScope,
            note: String::new().into(),
        }
        .into(),
    );
    given(&h)
        .when(cmd(grid_worker(grid1()), Action::Register))
        .then_rejected(invalid_status("register", Status::Rejected));
}

#[test]
fn a_rejection_note_has_bounded_length() {
    let action = Action::Reject {
        reason: RejectReason::Invalid,
        note: long_text(4001),
    };
    given(&h_reported(grid1()))
        .when(cmd(grid_worker(grid1()), action))
        .then_rejected(invalid_field("note", "longer than 4000 characters"));
}

#[test]
fn only_the_holding_unit_rejects() {
    let action = Action::Reject {
        reason: RejectReason::Invalid,
        note: String::new(),
    };
    given(&h_reported(grid1()))
        .when(cmd(staff(town1()), action))
        .then_rejected(Rejection::NotHoldingUnit {
            holder: grid1(),
            unit: town1(),
        });
}

// --- assign ------------------------------------------------------------------------------------

#[test]
fn a_grid_worker_assigns_a_case_to_themselves_and_the_registration_clock_keeps_running() {
    // Registered at t0: due at t0 + 3 days, whenever it is assigned.
    let gw = grid_worker(grid1());
    let s = given(&h_registered(grid1()))
        .when(cmd(
            gw.clone(),
            Action::Assign {
                handler: gw.id().clone(),
            },
        ))
        .then(&[assigned(grid1(), &gw, t0().plus_days(3))]);
    assert_eq!(s.status, Status::Assigned);
    assert_eq!(s.handler.as_ref(), Some(gw.id()));
    assert_eq!(s.deadline, Some(t0().plus_days(3)));
}

#[test]
fn a_grid_worker_cannot_assign_to_someone_else() {
    given(&h_registered(grid1()))
        .when(cmd(
            grid_worker(grid1()),
            Action::Assign {
                handler: aid("someone-else"),
            },
        ))
        .then_rejected(Rejection::AssignToOther {
            handler: aid("someone-else"),
        });
}

#[test]
fn unit_staff_assign_to_any_handler_of_their_unit() {
    let h = h_assigned_at(grid1(), village1());
    let handler = aid("handler-7");
    // Re-assigning keeps the clock that is already running.
    given(&h[..h.len() - 1])
        .when(cmd(
            staff(village1()),
            Action::Assign {
                handler: handler.clone(),
            },
        ))
        .then(&[CaseAssigned {
            unit: village1(),
            handler: handler.clone(),
            deadline: t0().plus_days(7),
        }
        .into()]);
    given(&h)
        .when(cmd(
            staff(village1()),
            Action::Assign {
                handler: handler.clone(),
            },
        ))
        .then(&[CaseAssigned {
            unit: village1(),
            handler,
            deadline: t0().plus_days(7),
        }
        .into()]);
}

#[test]
fn registration_deadlines_follow_the_policy() {
    let assign_at = |r: Report, unit: RegionCode, policy: Policy| {
        let actor = if unit.level() == Level::Grid {
            grid_worker(unit)
        } else {
            staff(unit)
        };
        let when = given(&[r.event(unit)])
            .with_policy(policy)
            .when(cmd(actor, Action::Register));
        match when.result() {
            Ok(events) => match events.as_slice() {
                [Event::CaseRegistered(CaseRegistered {
                    deadline: Some(d), ..
                })] => *d,
                other => panic!("unexpected {other:?}"),
            },
            Err(r) => panic!("rejected: {r:?}"),
        }
    };
    let p = Policy::default;
    let normal = report(grid1());
    assert_eq!(assign_at(normal.clone(), grid1(), p()), now().plus_days(3));
    assert_eq!(
        assign_at(normal.clone(), village1(), p()),
        now().plus_days(7)
    );
    assert_eq!(assign_at(normal.clone(), town1(), p()), now().plus_days(15));
    assert_eq!(
        assign_at(normal.clone(), county(), p()),
        now().plus_days(30)
    );
    assert_eq!(assign_at(normal.clone(), city(), p()), now().plus_days(30));
    // Urgent at the grid: the end of the local (UTC+8) day; `now` is 10:00 local.
    let urgent = normal.clone().severity(Severity::Urgent);
    assert_eq!(
        assign_at(urgent.clone(), grid1(), p()),
        Timestamp::parse("2026-03-03T15:59:59.999Z").unwrap()
    );
    assert_eq!(assign_at(urgent, village1(), p()), now().plus_days(4));
    // Petitions: 60 days wherever they are handled.
    let petition = normal.clone().source(Source::Petition);
    assert_eq!(assign_at(petition, grid1(), p()), now().plus_days(60));
    // A configured policy is honoured.
    let custom = Policy {
        deadlines: DeadlinePolicy {
            grid_days: 5,
            kind_overrides: vec![KindDeadline {
                kind: CaseKind::Request,
                level: None,
                days: 2,
            }],
            ..DeadlinePolicy::default()
        },
        ..Policy::default()
    };
    assert_eq!(
        assign_at(normal.clone(), grid1(), custom.clone()),
        now().plus_days(5)
    );
    assert_eq!(
        assign_at(normal.kind(CaseKind::Request), town1(), custom),
        now().plus_days(2)
    );
}

#[test]
fn an_escalation_deadline_keeps_running_through_assignment() {
    let r = report(grid1()).severity(Severity::Critical);
    let h = vec![
        r.event(grid1()),
        escalated(grid1(), town1(), t0().plus_days(8)),
        registered_due(town1(), Some(t0().plus_days(8))),
    ];
    given(&h)
        .when(cmd(
            staff(town1()),
            Action::Assign {
                handler: aid("handler-1"),
            },
        ))
        .then(&[CaseAssigned {
            unit: town1(),
            handler: aid("handler-1"),
            deadline: t0().plus_days(8),
        }
        .into()]);
}

#[test]
fn only_registered_cases_are_assigned() {
    let gw = grid_worker(grid1());
    given(&h_reported(grid1()))
        .when(cmd(
            gw.clone(),
            Action::Assign {
                handler: gw.id().clone(),
            },
        ))
        .then_rejected(invalid_status("assign", Status::Reported));
    given(&h_resolved(grid1(), ResolutionMethod::OnTheSpot))
        .when(cmd(
            gw.clone(),
            Action::Assign {
                handler: gw.id().clone(),
            },
        ))
        .then_rejected(invalid_status("assign", Status::Resolved));
}

#[test]
fn only_the_holding_unit_assigns() {
    given(&h_registered(grid1()))
        .when(cmd(staff(village1()), Action::Assign { handler: aid("h") }))
        .then_rejected(Rejection::NotHoldingUnit {
            holder: grid1(),
            unit: village1(),
        });
    let sup = supervisor(county());
    given(&h_registered(grid1()))
        .when(cmd(sup.clone(), Action::Assign { handler: aid("h") }))
        .then_rejected(not_permitted(&sup, "assign"));
}

// --- merge -------------------------------------------------------------------------------------

fn merge(into: &str) -> Action {
    Action::Merge {
        into: CaseId::new(into).unwrap(),
        reason: "重复案件".into(),
    }
}

#[test]
fn the_holding_units_staff_merge_a_duplicate_into_another_case() {
    let h = vec![report(grid1()).event(village1())];
    let s = given(&h)
        .when(cmd(staff(village1()), merge("c2")))
        .then(&[CaseMerged {
            into: CaseId::new("c2").unwrap(),
            reason: "重复案件".into(),
        }
        .into()]);
    assert_eq!(s.status, Status::Merged);
    assert_eq!(s.merged_into, Some(CaseId::new("c2").unwrap()));
    assert_eq!(s.deadline, None);
}

#[test]
fn a_case_is_not_merged_into_itself() {
    given(&h_assigned_at(grid1(), village1()))
        .when(cmd(staff(village1()), merge("c1")))
        .then_rejected(Rejection::MergeIntoSelf);
}

#[test]
fn grid_workers_do_not_merge() {
    let gw = grid_worker(grid1());
    given(&h_reported(grid1()))
        .when(cmd(gw.clone(), merge("c2")))
        .then_rejected(not_permitted(&gw, "merge"));
}

#[test]
fn only_open_cases_are_merged() {
    given(&h_resolved_at(
        grid1(),
        village1(),
        ResolutionMethod::Explanation,
    ))
    .when(cmd(staff(village1()), merge("c2")))
    .then_rejected(invalid_status("merge", Status::Resolved));
}

#[test]
fn a_case_in_mediation_is_not_merged() {
    let mut h = h_assigned_at(grid1(), village1());
    h.push(mediation_started(&mediator(town1()), town1()));
    given(&h)
        .when(cmd(staff(village1()), merge("c2")))
        .then_rejected(Rejection::MediationInProgress { action: "merge" });
}

#[test]
fn a_merge_needs_a_reason() {
    given(&h_assigned_at(grid1(), village1()))
        .when(cmd(
            staff(village1()),
            Action::Merge {
                into: CaseId::new("c2").unwrap(),
                reason: " ".into(),
            },
        ))
        .then_rejected(invalid_field("reason", "must not be empty"));
}

// --- the harness itself ------------------------------------------------------------------------

#[test]
fn given_seals_and_folds_the_history() {
    let g = given(&h_closed(grid1()));
    let s = g.state();
    assert_eq!(s.version, 6);
    assert_eq!(s.status, Status::Closed);
    assert_eq!(s.id, Some(case_id()));
    assert_ne!(s.last_hash, Hash::ZERO);
}

#[test]
#[should_panic(expected = "events of")]
fn then_fails_on_other_events() {
    given(&h_reported(grid1()))
        .when(cmd(grid_worker(grid1()), Action::Register))
        .then(&[registered(grid2())]);
}

#[test]
#[should_panic(expected = "was rejected")]
fn then_fails_on_a_rejection() {
    given(&h_registered(grid1()))
        .when(cmd(grid_worker(grid1()), Action::Register))
        .then(&[registered(grid1())]);
}

#[test]
#[should_panic(expected = "rejection of")]
fn then_rejected_fails_on_another_rejection() {
    given(&h_registered(grid1()))
        .when(cmd(grid_worker(grid1()), Action::Register))
        .then_rejected(Rejection::CaseNotFound);
}

#[test]
#[should_panic(expected = "was accepted")]
fn then_rejected_fails_on_acceptance() {
    given(&h_reported(grid1()))
        .when(cmd(grid_worker(grid1()), Action::Register))
        .then_rejected(Rejection::CaseNotFound);
}
