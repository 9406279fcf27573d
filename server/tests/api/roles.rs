//! Per role: what it must not do.

use super::common::*;
use super::harness::*;

#[tokio::test]
async fn a_grid_worker_acts_and_reads_only_in_its_grid() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    // Acting on a case of another grid: it may not know the case exists, so the answer is the
    // unknown case's.
    let v = h
        .refused(
            h.command(GW2, &a, "register", json!({})).await,
            404,
            "not_found",
        )
        .await;
    assert!(!v["detail"].as_str().unwrap().contains(G1), "{v}");
    h.refused(
        h.command(GW2, &a, "add_note", note("隔壁网格的备注")).await,
        404,
        "not_found",
    )
    .await;
    // Reporting outside its grid: forbidden, naming the rule.
    h.refused(
        h.command(GW1, "", "report", report_body(G2)).await,
        403,
        "OutOfScope",
    )
    .await;
    // Reading another grid's queue or case.
    h.refused(
        h.get(&format!("/api/v1/units/{G1}/queue"), GW2).await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/cases/{a}?{}", h.after()), GW2)
            .await,
        404,
        "not_found",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/cases/{a}/timeline"), GW2).await,
        404,
        "not_found",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/regions/{VILLAGE}/open"), GW1).await,
        403,
        "forbidden",
    )
    .await;
    // Its own grid: fine.
    let q = h
        .read(&format!("/api/v1/units/{G1}/queue?{}", h.after()), GW1)
        .await;
    assert_eq!(q["open"], 1);
    h.read(&format!("/api/v1/cases/{a}/timeline"), GW1).await;
}

#[tokio::test]
async fn unit_staff_act_only_on_cases_their_unit_holds() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    // Held by a grid of the village: the village may not act in its place.
    h.refused(
        h.command(VIL, &a, "assign", json!({ "handler": "staff-v1" }))
            .await,
        403,
        "NotHoldingUnit",
    )
    .await;
    // Held by the township: the village is below it, the case is out of its scope.
    h.ok(
        GW1,
        &a,
        "escalate",
        json!({ "to": TOWNSHIP, "reason": "重大隐患，直接上报街道" }),
    )
    .await;
    let v = h
        .refused(
            h.command(VIL, &a, "assign", json!({ "handler": "staff-v1" }))
                .await,
            403,
            "OutOfScope",
        )
        .await;
    assert!(v["detail"].as_str().unwrap().contains(TOWNSHIP), "{v}");
    h.refused(
        h.command(
            VIL,
            &a,
            "delegate",
            json!({ "to": VILLAGE, "reason": "自行下派" }),
        )
        .await,
        403,
        "OutOfScope",
    )
    .await;
    // The county covers the township but does not hold the case either.
    h.refused(
        h.command(CTY, &a, "assign", json!({ "handler": "staff-c1" }))
            .await,
        403,
        "NotHoldingUnit",
    )
    .await;
    // Extensions come from above the holder only.
    h.refused(
        h.command(
            TWN,
            &a,
            "extend_deadline",
            json!({ "deadline": "2026-12-31T00:00:00Z", "reason": "自行延期" }),
        )
        .await,
        403,
        "NotAboveHolder",
    )
    .await;
    // The village no longer sees it in its queue; the township does.
    let q = h
        .read(&format!("/api/v1/units/{VILLAGE}/queue?{}", h.after()), VIL)
        .await;
    assert_eq!(q["open"], 0);
    let q = h
        .read(
            &format!("/api/v1/units/{TOWNSHIP}/queue?{}", h.after()),
            TWN,
        )
        .await;
    assert_eq!(q["open"], 1);
    h.refused(
        h.get(&format!("/api/v1/units/{TOWNSHIP}/queue"), VIL).await,
        403,
        "forbidden",
    )
    .await;
    h.ok(TWN, &a, "assign", json!({ "handler": "staff-t1" }))
        .await;
}

#[tokio::test]
async fn a_mediator_runs_and_reads_only_the_mediations_assigned_to_them() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    h.ok(GW1, &a, "assign", json!({ "handler": "gw-1" })).await;
    h.ok(
        GW1,
        &a,
        "start_mediation",
        json!({ "mediation_type": "people", "mediator": "med-1", "organization": VILLAGE }),
    )
    .await;
    let after = h.after();
    // med-2 is not the assigned mediator.
    h.refused(
        h.command(
            MED2,
            &a,
            "hold_mediation_session",
            json!({ "summary": "未受指派的调解" }),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    h.refused(
        h.command(
            MED2,
            &a,
            "conclude_mediation",
            json!({ "outcome": "agreement" }),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/cases/{a}?{after}"), MED2).await,
        404,
        "not_found",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/cases/{a}/timeline"), MED2).await,
        404,
        "not_found",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/units/{VILLAGE}/queue"), MED1).await,
        403,
        "forbidden",
    )
    .await;
    // A mediator does not handle cases.
    h.refused(
        h.command(
            MED1,
            &a,
            "resolve",
            json!({ "method": "explanation", "summary": "调解员自行办结" }),
        )
        .await,
        403,
        "RoleNotPermitted",
    )
    .await;
    // med-1 is.
    let view = h.read(&format!("/api/v1/cases/{a}?{after}"), MED1).await;
    assert_eq!(view["case"]["mediation"]["mediator"], "med-1");
    h.ok(
        MED1,
        &a,
        "hold_mediation_session",
        json!({ "summary": "首次调解" }),
    )
    .await;
    h.ok(MED1, &a, "add_note", note("调解员备注")).await;
}

#[tokio::test]
async fn a_supervisor_presses_and_approves_but_does_not_handle() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.refused(
        h.command(SUP, &a, "register", json!({})).await,
        403,
        "RoleNotPermitted",
    )
    .await;
    h.refused(
        h.command(SUP, "", "report", report_body(G1)).await,
        403,
        "RoleNotPermitted",
    )
    .await;
    h.refused(
        h.command(
            SUP,
            &a,
            "correct_details",
            json!({ "severity": "urgent", "reason": "督办人更正" }),
        )
        .await,
        403,
        "RoleNotPermitted",
    )
    .await;
    h.ok(SUP, &a, "issue_supervision", note_field("请尽快立案"))
        .await;
}

#[tokio::test]
async fn an_auditor_reads_history_in_scope_and_changes_nothing() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let outside = h.report(GW4, G4).await;
    for (action, body) in [
        ("add_note", note("审计备注")),
        ("register", json!({})),
        ("close", json!({})),
    ] {
        h.refused(h.command(AUD, &a, action, body).await, 403, "ReadOnlyRole")
            .await;
    }
    h.refused(
        h.command(AUD, "", "report", report_body(G1)).await,
        403,
        "ReadOnlyRole",
    )
    .await;
    // The whole history, its free text as the log stores it (sealed: auditors without the
    // personal-data grant do not read what people wrote about people).
    let tl = h.read(&format!("/api/v1/cases/{a}/timeline"), AUD).await;
    assert!(
        tl["events"][0]["event"]["summary"]["sealed"].is_string(),
        "{tl}"
    );
    assert!(!tl.to_string().contains(SUMMARY), "{tl}");
    h.read(&format!("/api/v1/cases/{a}?{}", h.after()), AUD)
        .await;
    h.read(&format!("/api/v1/units/{G1}/queue"), AUD).await;
    // The auditor's scope is the township; the other township's case is outside it.
    h.refused(
        h.get(&format!("/api/v1/cases/{outside}/timeline"), AUD)
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn an_analyst_reads_statistics_without_personal_data_or_free_text() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    h.ok(GW1, &a, "assign", json!({ "handler": "gw-1" })).await;
    h.ok(GW1, &a, "add_note", note("当事人张建华已到场")).await;
    // A phone number is refused in free text: it belongs in the party's encrypted fields.
    let r = h
        .command(GW1, &a, "add_note", note("当事人电话13800000000"))
        .await;
    let v = h.refused(r, 422, "PersonalNumberInText").await;
    assert!(
        v["detail"].as_str().unwrap().contains("a mobile number"),
        "{v}"
    );
    h.ok(
        GW1,
        &a,
        "resolve",
        json!({ "method": "on_the_spot", "summary": "现场劝解，双方和好" }),
    )
    .await;
    h.ok(GW1, &a, "close", json!({})).await;
    h.ok(
        GW1,
        &a,
        "record_feedback",
        json!({ "satisfaction": "basically_satisfied", "comment": "基本满意，希望加强巡查" }),
    )
    .await;
    let b = h.report(GW1, G1).await;
    h.ok(
        GW1,
        &b,
        "reject",
        json!({ "reason": "invalid", "note": "经核实不属实" }),
    )
    .await;

    for uri in [
        format!("/api/v1/cases/{a}"),
        format!("/api/v1/cases/{a}/timeline"),
        format!("/api/v1/units/{G1}/queue"),
        format!("/api/v1/regions/{VILLAGE}/open"),
    ] {
        h.refused(h.get(&uri, ANA).await, 403, "forbidden").await;
    }
    h.refused(
        h.command(ANA, &a, "add_note", note("分析员备注")).await,
        403,
        "ReadOnlyRole",
    )
    .await;

    let texts = h.texts.lock().unwrap().clone();
    assert!(texts.contains(SUMMARY));
    let after = h.after();
    for query in [
        format!("period=2025-06&{after}"),
        format!("region={VILLAGE}&period=2025-06&breakdown=category&drill_down=true&{after}"),
        format!("region={COUNTY}&period=2025&breakdown=source&drill_down=true&{after}"),
        format!("region={G1}&period=2025-06-02&breakdown=kind&{after}"),
        format!("period=2025-06&as_of={}", Timestamp::now()),
    ] {
        let s = h.read(&format!("/api/v1/stats?{query}"), ANA).await;
        assert_no_free_text(&s, &texts);
        assert_eq!(s["figures"]["cohort"]["registered"], 1, "{query}: {s}");
        assert_eq!(s["figures"]["cohort"]["rejected"], 1, "{query}: {s}");
        assert_eq!(s["figures"]["rates"]["satisfaction"], 1.0, "{query}: {s}");
    }
    let s = h
        .read(
            &format!("/api/v1/stats?region={G1}&period=2025-06&{after}"),
            ANA,
        )
        .await;
    assert_eq!(s["figures"]["cohort"]["grid_rate"], 1.0);
}

#[tokio::test]
async fn an_admin_corrects_details_but_does_not_handle_cases() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let v = h
        .ok(
            ADM,
            &a,
            "correct_details",
            json!({ "severity": "urgent", "summary": "更正后的摘要", "reason": "上报时误填严重程度" }),
        )
        .await;
    assert_eq!(v["events"][0]["type"], "CaseDetailsCorrected");
    h.refused(
        h.command(
            ADM,
            &a,
            "correct_details",
            json!({ "severity": "urgent", "reason": "重复更正" }),
        )
        .await,
        422,
        "EmptyCorrection",
    )
    .await;
    h.refused(
        h.command(ADM, &a, "register", json!({})).await,
        403,
        "RoleNotPermitted",
    )
    .await;
    h.refused(
        h.command(ADM, "", "report", report_body(G1)).await,
        403,
        "RoleNotPermitted",
    )
    .await;
    // Unit staff may not correct.
    h.refused(
        h.command(
            VIL,
            &a,
            "correct_details",
            json!({ "severity": "normal", "reason": "村里更正" }),
        )
        .await,
        403,
        "RoleNotPermitted",
    )
    .await;
    let view = h
        .read(&format!("/api/v1/cases/{a}?{}", h.after()), ADM)
        .await;
    assert_eq!(view["case"]["details"]["severity"], "urgent");
}

/// Whatever the command and whatever would refuse it — who asks, a stale version, the case's
/// state, a time before the report — a case outside the actor's reach answers exactly as an
/// unknown case does, so no refusal reveals that it exists.
#[tokio::test]
async fn no_refusal_reveals_a_case_outside_the_actors_reach() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let unknown = "330802-nosuchcase";
    // (who, action, body, headers)
    type Probe<'a> = (&'a str, &'a str, Value, Vec<(&'a str, &'a str)>);
    let probes: Vec<Probe<'_>> = vec![
        // A stale If-Match (the case is at version 1).
        (GW2, "add_note", note("探测"), vec![("if-match", "\"7\"")]),
        // A time before the report.
        (
            GW2,
            "add_note",
            json!({ "text": "探测", "occurred_at": "2020-01-01T00:00:00Z" }),
            vec![],
        ),
        // A rule about the state: no mediation was ever started.
        (
            MED1,
            "hold_mediation_session",
            json!({ "summary": "探测" }),
            vec![],
        ),
        // A role that may not close, on a case it cannot see.
        (GW4, "close", json!({}), vec![]),
    ];
    for (token, action, body, headers) in probes {
        let mut hidden = None;
        for case in [a.as_str(), unknown] {
            let key = h.next_key();
            let mut all = headers.clone();
            all.push(("idempotency-key", &key));
            let r = h.send(token, case, action, body.clone(), &all).await;
            let v = h.refused(r, 404, "not_found").await;
            match &hidden {
                None => hidden = Some(v),
                Some(first) => assert_eq!(
                    first["detail"], v["detail"],
                    "{action} by {token}: the hidden case answers like an unknown one"
                ),
            }
        }
    }
    // The same probes from someone who may see the case keep their reasons.
    h.refused(
        h.send(
            GW1,
            &a,
            "add_note",
            note("过期"),
            &[("if-match", "\"7\""), ("idempotency-key", "stale-1")],
        )
        .await,
        409,
        "conflict",
    )
    .await;
}
