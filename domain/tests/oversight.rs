//! Oversight from above (延期 extensions, 督办 supervision, overdue cases), working notes and
//! evidence, and audited corrections.

mod support;

use gridcase_domain::decide::CRITICAL_REASON;
use gridcase_domain::event::*;
use gridcase_domain::*;
use support::*;

fn extend(deadline: Timestamp) -> Action {
    Action::ExtendDeadline {
        deadline,
        reason: "需补充材料".into(),
    }
}

fn supervise() -> Action {
    Action::IssueSupervision {
        note: "请加快办理".into(),
    }
}

fn note(text: &str) -> Action {
    Action::AddNote { text: text.into() }
}

fn evidence(media_type: &str, description: &str) -> Action {
    Action::AttachEvidence {
        content_hash: Hash::of(b"photo-1"),
        media_type: media_type.into(),
        description: description.into(),
    }
}

fn correct() -> CorrectionBuilder {
    CorrectionBuilder(Action::CorrectDetails {
        kind: None,
        category: None,
        source: None,
        severity: None,
        location: None,
        summary: None,
        reason: "录入错误".into(),
    })
}

struct CorrectionBuilder(Action);

impl CorrectionBuilder {
    fn edit(mut self, f: impl FnOnce(&mut Action)) -> Self {
        f(&mut self.0);
        self
    }
    fn category(self, c: Category) -> Self {
        self.edit(|a| {
            if let Action::CorrectDetails { category, .. } = a {
                *category = Some(c);
            }
        })
    }
    fn kind(self, k: CaseKind) -> Self {
        self.edit(|a| {
            if let Action::CorrectDetails { kind, .. } = a {
                *kind = Some(k);
            }
        })
    }
    fn location(self, l: RegionCode) -> Self {
        self.edit(|a| {
            if let Action::CorrectDetails { location, .. } = a {
                *location = Some(l);
            }
        })
    }
    fn summary(self, s: &str) -> Self {
        self.edit(|a| {
            if let Action::CorrectDetails { summary, .. } = a {
                *summary = Some(s.into());
            }
        })
    }
    fn reason(self, r: &str) -> Self {
        self.edit(|a| {
            if let Action::CorrectDetails { reason, .. } = a {
                *reason = r.into();
            }
        })
    }
    fn action(self) -> Action {
        self.0
    }
}

// h_assigned(grid1()) is due at t0 + 3 days.
fn due() -> Timestamp {
    t0().plus_days(3)
}

// --- extend deadline ---------------------------------------------------------------------------

#[test]
fn a_unit_above_the_holder_or_a_supervisor_extends_the_deadline() {
    for actor in [staff(village1()), staff(county()), supervisor(town1())] {
        let s = given(&h_assigned(grid1()))
            .when(cmd(actor, extend(due().plus_days(4))))
            .then(&[DeadlineExtended {
                previous: due(),
                deadline: due().plus_days(4),
                reason: "需补充材料".into(),
            }
            .into()]);
        assert_eq!(s.deadline, Some(due().plus_days(4)));
        assert_eq!(s.extensions, 1);
    }
}

#[test]
fn the_holding_unit_does_not_approve_its_own_extension() {
    given(&h_assigned_at(grid1(), village1()))
        .when(cmd(staff(village1()), extend(due().plus_days(30))))
        .then_rejected(Rejection::NotAboveHolder {
            action: "extend_deadline",
            holder: village1(),
        });
}

#[test]
fn grid_workers_mediators_and_admins_do_not_extend() {
    for actor in [grid_worker(grid1()), mediator(town1()), admin(city())] {
        given(&h_assigned(grid1()))
            .when(cmd(actor.clone(), extend(due().plus_days(1))))
            .then_rejected(not_permitted(&actor, "extend_deadline"));
    }
}

#[test]
fn an_extension_needs_a_running_deadline() {
    // A reported case's clock has not started.
    given(&h_reported(grid1()))
        .when(cmd(staff(village1()), extend(now().plus_days(9))))
        .then_rejected(Rejection::NoDeadline);
    // Nor has that of a case registered under schema version 1 before its assignment.
    let h = vec![
        report(grid1()).event(grid1()),
        registered_due(grid1(), None),
    ];
    given(&h)
        .when(cmd(staff(village1()), extend(now().plus_days(9))))
        .then_rejected(Rejection::NoDeadline);
    // A registered case's has.
    given(&h_registered(grid1()))
        .when(cmd(staff(village1()), extend(now().plus_days(9))))
        .then(&[DeadlineExtended {
            previous: due(),
            deadline: now().plus_days(9),
            reason: "需补充材料".into(),
        }
        .into()]);
}

#[test]
fn an_extension_moves_the_deadline_later() {
    for requested in [due(), due().plus_millis(-1), t0()] {
        given(&h_assigned(grid1()))
            .when(cmd(staff(village1()), extend(requested)))
            .then_rejected(Rejection::DeadlineNotLater {
                current: due(),
                requested,
            });
    }
}

#[test]
fn an_extension_gives_time_from_when_it_is_approved() {
    // Approved a day after the deadline passed: a new deadline later than the old one but
    // already passed would leave the case overdue.
    let late = due().plus_days(1);
    for requested in [due().plus_millis(1), late] {
        given(&h_assigned(grid1()))
            .when(cmd_at(staff(village1()), late, extend(requested)))
            .then_rejected(Rejection::DeadlinePassed {
                requested,
                at: late,
            });
    }
    given(&h_assigned(grid1()))
        .when(cmd_at(staff(village1()), late, extend(late.plus_millis(1))))
        .then(&[DeadlineExtended {
            previous: due(),
            deadline: late.plus_millis(1),
            reason: "需补充材料".into(),
        }
        .into()]);
}

#[test]
fn only_open_cases_are_extended() {
    given(&h_resolved(grid1(), ResolutionMethod::OnTheSpot))
        .when(cmd(staff(village1()), extend(due().plus_days(1))))
        .then_rejected(invalid_status("extend_deadline", Status::Resolved));
}

#[test]
fn an_extension_comes_from_within_the_holders_subtree_with_a_reason() {
    let elsewhere = staff(town2());
    given(&h_assigned(grid1()))
        .when(cmd(elsewhere.clone(), extend(due().plus_days(1))))
        .then_rejected(out_of_scope(&elsewhere, grid1()));
    given(&h_assigned(grid1()))
        .when(cmd(
            staff(village1()),
            Action::ExtendDeadline {
                deadline: due().plus_days(1),
                reason: "".into(),
            },
        ))
        .then_rejected(invalid_field("reason", "must not be empty"));
}

// --- supervision -------------------------------------------------------------------------------

#[test]
fn a_unit_above_presses_the_case_and_records_whether_it_was_overdue() {
    given(&h_assigned(grid1()))
        .when(cmd_at(staff(town1()), due(), supervise()))
        .then(&[SupervisionIssued {
            by_unit: town1(),
            overdue: false,
            note: "请加快办理".into(),
        }
        .into()]);
    let s = given(&h_assigned(grid1()))
        .when(cmd_at(
            supervisor(county()),
            due().plus_millis(1),
            supervise(),
        ))
        .then(&[SupervisionIssued {
            by_unit: county(),
            overdue: true,
            note: "请加快办理".into(),
        }
        .into()]);
    assert_eq!(s.supervisions, 1);
}

#[test]
fn the_holding_unit_does_not_supervise_itself() {
    given(&h_assigned_at(grid1(), town1()))
        .when(cmd(staff(town1()), supervise()))
        .then_rejected(Rejection::NotAboveHolder {
            action: "issue_supervision",
            holder: town1(),
        });
    let gw = grid_worker(grid1());
    given(&h_assigned(grid1()))
        .when(cmd(gw.clone(), supervise()))
        .then_rejected(not_permitted(&gw, "issue_supervision"));
}

#[test]
fn only_open_cases_are_supervised_and_with_an_instruction() {
    given(&h_closed(grid1()))
        .when(cmd(supervisor(county()), supervise()))
        .then_rejected(invalid_status("issue_supervision", Status::Closed));
    given(&h_assigned(grid1()))
        .when(cmd(
            supervisor(county()),
            Action::IssueSupervision { note: " ".into() },
        ))
        .then_rejected(invalid_field("note", "must not be empty"));
}

// --- overdue -----------------------------------------------------------------------------------

#[test]
fn a_case_is_overdue_when_open_and_past_its_deadline() {
    let s = given(&h_assigned(grid1())).state().clone();
    assert!(!s.is_overdue(t0()));
    assert!(
        !s.is_overdue(due()),
        "due at the deadline itself is still on time"
    );
    assert!(s.is_overdue(due().plus_millis(1)));
    // No deadline, no overdue: a reported case's clock has not started.
    let s = given(&h_reported(grid1())).state().clone();
    assert!(!s.is_overdue(now().plus_days(1000)));
    // A registered case's clock runs from registration, assigned or not.
    let s = given(&h_registered(grid1())).state().clone();
    assert!(s.is_overdue(due().plus_millis(1)));
    // Resolved, closed, rejected or merged cases are never overdue, whatever the old deadline.
    for h in [
        h_resolved(grid1(), ResolutionMethod::OnTheSpot),
        h_verified(grid1()),
        h_closed(grid1()),
    ] {
        let s = given(&h).state().clone();
        assert!(!s.is_overdue(due().plus_days(100)), "{:?}", s.status);
    }
    let mut merged = h_assigned_at(grid1(), village1());
    merged.push(
        CaseMerged {
            into: CaseId::new("c2").unwrap(),
            reason: "重复".into(),
        }
        .into(),
    );
    assert!(!given(&merged).state().is_overdue(now().plus_days(100)));
    // A critical report escalated at once is on the clock before it is even registered.
    let r = report(grid1()).severity(Severity::Critical);
    let s = given(&[
        r.event(grid1()),
        escalated(grid1(), town1(), t0().plus_days(8)),
    ])
    .state()
    .clone();
    assert_eq!(s.status, Status::Reported);
    assert!(s.is_overdue(t0().plus_days(9)));
    // An extension moves the line.
    let mut h = h_assigned(grid1());
    h.push(
        DeadlineExtended {
            previous: due(),
            deadline: due().plus_days(2),
            reason: "延期".into(),
        }
        .into(),
    );
    let s = given(&h).state().clone();
    assert!(!s.is_overdue(due().plus_days(1)));
    assert!(s.is_overdue(due().plus_days(3)));
}

// --- notes and evidence ------------------------------------------------------------------------

#[test]
fn the_holder_overseers_admins_and_the_assigned_mediator_add_notes() {
    let expected: Event = NoteAdded {
        text: "已电话联系".into(),
    }
    .into();
    let h = h_mediating(grid1());
    for actor in [
        grid_worker(grid1()),
        staff(village1()),
        staff(city()),
        supervisor(town1()),
        admin(county()),
        mediator(town1()),
    ] {
        given(&h)
            .when(cmd(actor, note("已电话联系")))
            .then(std::slice::from_ref(&expected));
    }
}

#[test]
fn notes_are_added_even_to_final_cases() {
    let mut h = h_reported(grid1());
    h.push(
        CaseRejected {
            reason: RejectReason::Invalid,
            note: String::new().into(),
        }
        .into(),
    );
    let s = given(&h)
        .when(cmd(grid_worker(grid1()), note("已告知反映人")))
        .then(&[NoteAdded {
            text: "已告知反映人".into(),
        }
        .into()]);
    assert_eq!(s.status, Status::Rejected);
}

#[test]
fn a_mediator_annotates_only_their_running_mediation() {
    given(&h_assigned(grid1()))
        .when(cmd(mediator(town1()), note("x")))
        .then_rejected(Rejection::MediationNotStarted);
    let other = mediator(town2());
    given(&h_mediating(grid1()))
        .when(cmd(other.clone(), note("x")))
        .then_rejected(Rejection::NotAssignedMediator {
            mediator: mediator(town1()).id().clone(),
            actor: other.id().clone(),
        });
}

#[test]
fn notes_stay_within_scope() {
    let other = grid_worker(grid2());
    given(&h_assigned(grid1()))
        .when(cmd(other.clone(), note("x")))
        .then_rejected(out_of_scope(&other, grid1()));
    // Once escalated, the grid worker no longer holds the case.
    let gw = grid_worker(grid1());
    given(&h_assigned_at(grid1(), village1()))
        .when(cmd(gw.clone(), note("x")))
        .then_rejected(out_of_scope(&gw, village1()));
    let below = staff(village1());
    given(&h_assigned_at(grid1(), town1()))
        .when(cmd(below.clone(), note("x")))
        .then_rejected(out_of_scope(&below, town1()));
    let adm = admin(town2());
    given(&h_assigned(grid1()))
        .when(cmd(adm.clone(), note("x")))
        .then_rejected(out_of_scope(&adm, grid1()));
}

#[test]
fn a_note_has_text_of_bounded_length() {
    given(&h_assigned(grid1()))
        .when(cmd(grid_worker(grid1()), note("")))
        .then_rejected(invalid_field("text", "must not be empty"));
    given(&h_assigned(grid1()))
        .when(cmd(grid_worker(grid1()), note(&long_text(4001))))
        .then_rejected(invalid_field("text", "longer than 4000 characters"));
}

#[test]
fn evidence_is_attached_by_content_hash() {
    given(&h_assigned(grid1()))
        .when(cmd(
            grid_worker(grid1()),
            evidence("image/jpeg", "现场照片"),
        ))
        .then(&[EvidenceAttached {
            content_hash: Hash::of(b"photo-1"),
            media_type: "image/jpeg".into(),
            description: "现场照片".into(),
        }
        .into()]);
}

#[test]
fn evidence_has_a_media_type() {
    let gw = grid_worker(grid1());
    given(&h_assigned(grid1()))
        .when(cmd(gw.clone(), evidence("", "")))
        .then_rejected(invalid_field("media_type", "must not be empty"));
    for bad in ["jpeg".to_owned(), format!("image/{}", "x".repeat(250))] {
        given(&h_assigned(grid1()))
            .when(cmd(gw.clone(), evidence(&bad, "")))
            .then_rejected(invalid_field(
                "media_type",
                "not a media type like image/jpeg",
            ));
    }
    given(&h_assigned(grid1()))
        .when(cmd(gw.clone(), evidence("image/png", &long_text(4001))))
        .then_rejected(invalid_field("description", "longer than 4000 characters"));
    let other = grid_worker(grid4());
    given(&h_assigned(grid1()))
        .when(cmd(other.clone(), evidence("image/png", "")))
        .then_rejected(out_of_scope(&other, grid1()));
}

// --- corrections -------------------------------------------------------------------------------

#[test]
fn an_admin_corrects_only_what_changes() {
    // Held by the village: grid2 lies in its subtree.
    let s = given(&h_assigned_at(grid1(), village1()))
        .when(cmd(
            admin(county()),
            correct()
                .category(Category::HousingHomestead)
                .kind(CaseKind::Dispute) // unchanged: not recorded
                .location(grid2())
                .summary("宅基地边界纠纷")
                .action(),
        ))
        .then(&[CaseDetailsCorrected {
            category: Some(Category::HousingHomestead),
            location: Some(grid2()),
            summary: Some("宅基地边界纠纷".into()),
            ..corrected()
        }
        .into()]);
    let d = s.details.expect("details");
    assert_eq!(
        (d.category, d.location, d.summary.clear().unwrap()),
        (Category::HousingHomestead, grid2(), "宅基地边界纠纷")
    );
    assert_eq!(d.kind, CaseKind::Dispute);
    assert_eq!(s.holder, Some(village1()), "a correction moves no case");
}

/// A correction event that changes nothing yet, for `..corrected()`.
fn corrected() -> CaseDetailsCorrected {
    CaseDetailsCorrected {
        kind: None,
        category: None,
        source: None,
        severity: None,
        location: None,
        summary: None,
        reason: "录入错误".into(),
    }
}

fn severity(sev: Severity) -> CorrectionBuilder {
    correct().edit(|a| {
        if let Action::CorrectDetails { severity, .. } = a {
            *severity = Some(sev);
        }
    })
}

fn corrected_severity(sev: Severity) -> Event {
    CaseDetailsCorrected {
        severity: Some(sev),
        ..corrected()
    }
    .into()
}

/// The end of the local day of [`now`].
fn end_of_today() -> Timestamp {
    DeadlinePolicy::default().end_of_local_day(now())
}

/// The escalation that brings a critical case from `from` to town1 at [`now`].
fn critical_escalation(from: RegionCode, deadline: Timestamp) -> Event {
    CaseEscalated {
        from,
        to: town1(),
        to_level: Level::Township,
        reason: CRITICAL_REASON.into(),
        deadline,
    }
    .into()
}

#[test]
fn a_correction_to_critical_brings_the_case_to_its_township_at_once() {
    // Township: 15 days, halved for a critical case.
    let s = given(&h_assigned(grid1()))
        .when(cmd(admin(county()), severity(Severity::Critical).action()))
        .then(&[
            corrected_severity(Severity::Critical),
            critical_escalation(grid1(), now().plus_days(8)),
        ]);
    assert_eq!(s.holder, Some(town1()));
    assert_eq!(s.status, Status::Registered);
    assert_eq!((s.escalations, s.deadline), (1, Some(now().plus_days(8))));
    // From a village too, and before registration.
    given(&h_assigned_at(grid1(), village1()))
        .when(cmd(admin(county()), severity(Severity::Critical).action()))
        .then(&[
            corrected_severity(Severity::Critical),
            critical_escalation(village1(), now().plus_days(8)),
        ]);
    given(&h_reported(grid1()))
        .when(cmd(admin(county()), severity(Severity::Critical).action()))
        .then(&[
            corrected_severity(Severity::Critical),
            critical_escalation(grid1(), now().plus_days(8)),
        ]);
}

#[test]
fn the_escalation_follows_the_corrected_details() {
    // Corrected to a petition at the same time: 60 days wherever it is handled.
    let action = severity(Severity::Critical)
        .edit(|a| {
            if let Action::CorrectDetails { source, .. } = a {
                *source = Some(Source::Petition);
            }
        })
        .action();
    let when = given(&h_assigned(grid1())).when(cmd(admin(county()), action));
    match when.result() {
        Ok(events) => match events.as_slice() {
            [Event::CaseDetailsCorrected(c), Event::CaseEscalated(e)] => {
                assert_eq!(c.source, Some(Source::Petition));
                assert_eq!(e.deadline, now().plus_days(60));
            }
            other => panic!("unexpected {other:?}"),
        },
        Err(r) => panic!("rejected: {r:?}"),
    }
}

#[test]
fn a_critical_case_at_or_above_the_township_stays_where_it_is() {
    given(&h_assigned_at(grid1(), town1()))
        .when(cmd(admin(county()), severity(Severity::Critical).action()))
        .then(&[corrected_severity(Severity::Critical)]);
    // Other severities never move a case.
    given(&h_assigned(grid1()))
        .when(cmd(admin(county()), severity(Severity::Urgent).action()))
        .then(&[corrected_severity(Severity::Urgent)]);
}

#[test]
fn a_correction_to_critical_waits_for_a_running_mediation() {
    given(&h_mediating(grid1()))
        .when(cmd(admin(county()), severity(Severity::Critical).action()))
        .then_rejected(Rejection::MediationInProgress {
            action: "correct_details",
        });
    // Other corrections do not move the case and go ahead.
    given(&h_mediating(grid1()))
        .when(cmd(admin(county()), severity(Severity::Urgent).action()))
        .then(&[corrected_severity(Severity::Urgent)]);
}

#[test]
fn a_case_corrected_to_critical_when_not_open_reaches_the_township_when_it_is_open_again() {
    // Resolved at the grid, then corrected: it stays with the unit that handled it...
    let mut h = h_resolved(grid1(), ResolutionMethod::Explanation);
    let s = given(&h)
        .when(cmd(admin(county()), severity(Severity::Critical).action()))
        .then(&[corrected_severity(Severity::Critical)]);
    assert_eq!(s.holder, Some(grid1()));
    h.push(corrected_severity(Severity::Critical));
    // ... until a rework opens it again.
    given(&h)
        .when(cmd(
            staff(village1()),
            Action::RejectResolution {
                reason: "重大事项，需乡镇处置".into(),
            },
        ))
        .then(&[
            ResolutionRejected {
                reason: "重大事项，需乡镇处置".into(),
                // Critical at the grid: the same local day.
                deadline: end_of_today(),
            }
            .into(),
            critical_escalation(grid1(), now().plus_days(8)),
        ]);
    // A reopening too.
    let mut h = h_closed(grid1());
    h.push(corrected_severity(Severity::Critical));
    let s = given(&h)
        .when(cmd(
            staff(village1()),
            Action::Reopen {
                reason: ReopenReason::NewFacts,
                note: String::new(),
            },
        ))
        .then(&[
            CaseReopened {
                reason: ReopenReason::NewFacts,
                note: String::new().into(),
                unit: grid1(),
                deadline: end_of_today(),
            }
            .into(),
            critical_escalation(grid1(), now().plus_days(8)),
        ]);
    assert_eq!((s.holder, s.status), (Some(town1()), Status::Registered));
    // And a referral coming back.
    let mut h = h_referred();
    h.push(corrected_severity(Severity::Critical));
    given(&h)
        .when(cmd(
            staff(village1()),
            Action::ReturnReferral {
                reason: "诉前调解".into(),
            },
        ))
        .then(&[
            ReferralReturned {
                unit: village1(),
                reason: "诉前调解".into(),
                deadline: now().plus_days(4),
            }
            .into(),
            critical_escalation(village1(), now().plus_days(8)),
        ]);
}

#[test]
fn a_correction_does_not_move_the_location_outside_the_holding_unit() {
    // Held by grid1: grid2 is another grid.
    given(&h_assigned(grid1()))
        .when(cmd(admin(county()), correct().location(grid2()).action()))
        .then_rejected(Rejection::LocationOutsideHolder {
            location: grid2(),
            holder: grid1(),
        });
    // Held by village1: grid3 is in another village.
    given(&h_assigned_at(grid1(), village1()))
        .when(cmd(admin(county()), correct().location(grid3()).action()))
        .then_rejected(Rejection::LocationOutsideHolder {
            location: grid3(),
            holder: village1(),
        });
    // Move it first: once the township holds it, the location is corrected.
    let mut h = h_assigned(grid1());
    h.push(taken_over(grid1(), town1(), now().plus_days(15)));
    given(&h)
        .when(cmd(admin(county()), correct().location(grid3()).action()))
        .then(&[CaseDetailsCorrected {
            location: Some(grid3()),
            ..corrected()
        }
        .into()]);
}

#[test]
fn a_correction_that_changes_nothing_is_refused() {
    given(&h_assigned(grid1()))
        .when(cmd(admin(county()), correct().action()))
        .then_rejected(Rejection::EmptyCorrection);
    given(&h_assigned(grid1()))
        .when(cmd(
            admin(county()),
            correct()
                .category(Category::Neighbours)
                .location(grid1())
                .summary("邻里噪音纠纷")
                .action(),
        ))
        .then_rejected(Rejection::EmptyCorrection);
}

#[test]
fn only_admins_correct() {
    for actor in [
        staff(grid1().parent().unwrap()),
        supervisor(city()),
        grid_worker(grid1()),
    ] {
        given(&h_assigned(grid1()))
            .when(cmd(
                actor.clone(),
                correct().category(Category::Other).action(),
            ))
            .then_rejected(not_permitted(&actor, "correct_details"));
    }
}

#[test]
fn corrections_stay_within_the_admins_scope() {
    let adm = admin(town2());
    given(&h_assigned(grid1()))
        .when(cmd(
            adm.clone(),
            correct().category(Category::Other).action(),
        ))
        .then_rejected(out_of_scope(&adm, grid1()));
    // The holder must be covered too, not only where it happened.
    let adm = admin(village1());
    given(&h_assigned_at(grid1(), town1()))
        .when(cmd(
            adm.clone(),
            correct().category(Category::Other).action(),
        ))
        .then_rejected(out_of_scope(&adm, town1()));
    // And the corrected location.
    given(&h_assigned(grid1()))
        .when(cmd(adm.clone(), correct().location(grid3()).action()))
        .then_rejected(out_of_scope(&adm, grid3()));
}

#[test]
fn a_corrected_category_fits_the_kind() {
    // h_assigned is a neighbours' dispute. A new category must fit the kind in force, a new
    // kind the category in force...
    for (action, category, kind) in [
        (
            correct().category(Category::SafetyHazard),
            Category::SafetyHazard,
            CaseKind::Dispute,
        ),
        (
            correct().kind(CaseKind::Incident),
            Category::Neighbours,
            CaseKind::Incident,
        ),
    ] {
        given(&h_assigned(grid1()))
            .when(cmd(admin(county()), action.action()))
            .then_rejected(Rejection::CategoryNotForKind { category, kind });
    }
    // ... so kind and category are corrected together.
    given(&h_assigned(grid1()))
        .when(cmd(
            admin(county()),
            correct()
                .kind(CaseKind::Incident)
                .category(Category::FireSafety)
                .action(),
        ))
        .then(&[CaseDetailsCorrected {
            kind: Some(CaseKind::Incident),
            category: Some(Category::FireSafety),
            ..corrected()
        }
        .into()]);
}

#[test]
fn a_case_reported_before_the_category_rule_keeps_its_category_through_other_fixes() {
    let mut h = h_assigned(grid1());
    h[0] = report(grid1())
        .kind(CaseKind::Incident)
        .category(Category::Pollution)
        .event(grid1());
    given(&h)
        .when(cmd(
            admin(county()),
            correct().summary("河道漂浮垃圾").action(),
        ))
        .then(&[CaseDetailsCorrected {
            summary: Some("河道漂浮垃圾".into()),
            ..corrected()
        }
        .into()]);
    // Correcting the category brings it under the rule.
    given(&h)
        .when(cmd(
            admin(county()),
            correct().category(Category::Labour).action(),
        ))
        .then_rejected(Rejection::CategoryNotForKind {
            category: Category::Labour,
            kind: CaseKind::Incident,
        });
    given(&h)
        .when(cmd(
            admin(county()),
            correct().category(Category::EnvironmentSanitation).action(),
        ))
        .then(&[CaseDetailsCorrected {
            category: Some(Category::EnvironmentSanitation),
            ..corrected()
        }
        .into()]);
}

#[test]
fn a_corrected_location_is_known() {
    given(&h_assigned(grid1()))
        .when(cmd(
            admin(county()),
            correct().location(unknown_grid()).action(),
        ))
        .then_rejected(Rejection::UnknownRegion {
            code: unknown_grid(),
        });
}

#[test]
fn a_correction_has_a_reason_and_a_non_empty_summary() {
    given(&h_assigned(grid1()))
        .when(cmd(
            admin(county()),
            correct().category(Category::Other).reason("").action(),
        ))
        .then_rejected(invalid_field("reason", "must not be empty"));
    given(&h_assigned(grid1()))
        .when(cmd(admin(county()), correct().summary(" ").action()))
        .then_rejected(invalid_field("summary", "must not be empty"));
}
