//! A mediation center's domain rules as the API answers them: categories that fit the kind,
//! the new sources, times in the future, a correction to critical severity, a correction that
//! would move a case out of its holder's reach, the case a merge keeps, an extension's new
//! deadline.

use super::common::*;
use super::harness::*;

/// An incident report (a bare street-light cable found by a sensor).
fn incident(category: &str, source: &str) -> Value {
    let mut body = report_body(G1);
    body["kind"] = json!("incident");
    body["category"] = json!(category);
    body["source"] = json!(source);
    body["summary"] = json!("路灯电缆裸露，存在触电隐患");
    body["parties"] = json!([]);
    body
}

#[tokio::test]
async fn categories_fit_their_kind_and_alerts_are_sources() {
    let h = Harness::new();
    // A dispute category on an incident: refused, nothing appended.
    let v = h
        .refused(
            h.command(GW1, "", "report", incident("neighbours", "grid_patrol"))
                .await,
            422,
            "CategoryNotForKind",
        )
        .await;
    assert!(v["detail"].as_str().unwrap().contains("neighbours"), "{v}");
    // Incident categories with the new sources: accepted, and searchable by them.
    for (category, source) in [
        ("public_facilities", "smart_sensing"),
        ("safety_hazard", "platform_alert"),
    ] {
        let r = h
            .command(GW1, "", "report", incident(category, source))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let after = h.after();
    for source in ["smart_sensing", "platform_alert"] {
        let r = h
            .read(&format!("/api/v1/cases?source={source}&{after}"), VIL)
            .await;
        assert_eq!(r["total"], 1, "{source}: {r}");
        assert_eq!(r["items"][0]["source"], source, "{r}");
        assert_eq!(r["items"][0]["kind"], "incident", "{r}");
    }
    // A correction must keep the pair fitting too.
    let r = h
        .read(&format!("/api/v1/cases?kind=incident&{after}"), VIL)
        .await;
    assert_eq!(r["total"], 2, "{r}");
    let case = r["items"][0]["case_id"].as_str().unwrap().to_owned();
    h.refused(
        h.command(
            ADM,
            &case,
            "correct_details",
            json!({ "category": "marriage_family", "reason": "误填" }),
        )
        .await,
        422,
        "CategoryNotForKind",
    )
    .await;
}

#[tokio::test]
async fn times_later_than_now_are_refused() {
    let h = Harness::new();
    let tomorrow = Timestamp::now().plus_millis(24 * 3_600_000).to_string();
    let mut body = report_body(G1);
    body["happened_at"] = json!(tomorrow);
    let v = h
        .refused(h.command(GW1, "", "report", body).await, 422, "InTheFuture")
        .await;
    assert!(v["detail"].as_str().unwrap().contains("happened_at"), "{v}");
    let a = h.report(GW1, G1).await;
    let v = h
        .refused(
            h.command(
                GW1,
                &a,
                "add_note",
                json!({ "text": "明天的备注", "occurred_at": tomorrow }),
            )
            .await,
            422,
            "InTheFuture",
        )
        .await;
    assert!(v["detail"].as_str().unwrap().contains("occurred_at"), "{v}");
}

#[tokio::test]
async fn a_correction_to_critical_brings_the_case_to_its_township() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    let v = h
        .ok(
            ADM,
            &a,
            "correct_details",
            json!({ "severity": "critical", "reason": "现场核实有人员受伤风险" }),
        )
        .await;
    let types: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["CaseDetailsCorrected", "CaseEscalated"], "{v}");
    let view = h
        .read(&format!("/api/v1/cases/{a}?{}", h.after()), TWN)
        .await;
    assert_eq!(view["case"]["holder"], TOWNSHIP, "{view}");
    assert_eq!(view["file"]["moves"][0]["kind"], "escalated", "{view}");
    assert_eq!(view["file"]["moves"][0]["to"], TOWNSHIP, "{view}");
    // The township's queue has it; the grid no longer holds it.
    let q = h
        .read(
            &format!("/api/v1/units/{TOWNSHIP}/queue?{}", h.after()),
            TWN,
        )
        .await;
    assert_eq!(q["open"], 1, "{q}");
}

#[tokio::test]
async fn a_correction_cannot_move_a_case_out_of_its_holders_reach() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    // Held by grid 1: another township's grid is outside it.
    h.refused(
        h.command(
            ADM,
            &a,
            "correct_details",
            json!({ "location": G4, "reason": "地点填错" }),
        )
        .await,
        422,
        "LocationOutsideHolder",
    )
    .await;
    let view = h
        .read(&format!("/api/v1/cases/{a}?{}", h.after()), VIL)
        .await;
    assert_eq!(view["case"]["details"]["location"], G1, "{view}");
}

/// A case reported in `grid` by `gw` and brought to its village (where a merge is decided).
async fn at_the_village(h: &Harness, gw: &str, grid: &str) -> String {
    let c = h.report(gw, grid).await;
    h.ok(gw, &c, "register", json!({})).await;
    h.ok(gw, &c, "escalate", json!({ "reason": "需村里协调" }))
        .await;
    c
}

#[tokio::test]
async fn a_merge_keeps_a_case_the_actor_can_see_and_still_in_hand() {
    let h = Harness::new();
    let dup = at_the_village(&h, GW1, G1).await;
    let merge = |into: &str| json!({ "into": into, "reason": "重复上报，合并办理" });

    // A case that does not exist, and one in another township (outside the village's
    // scope): the same refusal, so a merge form cannot probe for cases out of reach.
    let elsewhere = h.report(GW4, G4).await;
    for into in ["330802-nonexist", elsewhere.as_str()] {
        let v = h
            .refused(
                h.command(VIL, &dup, "merge", merge(into)).await,
                422,
                "MergeTargetUnknown",
            )
            .await;
        assert!(v["detail"].as_str().unwrap().contains(into), "{v}");
    }

    // A case that was not registered cannot keep another.
    let rejected = h.report(GW1, G1).await;
    h.ok(
        GW1,
        &rejected,
        "reject",
        json!({ "reason": "duplicate", "note": "重复上报" }),
    )
    .await;
    h.refused(
        h.command(VIL, &dup, "merge", merge(&rejected)).await,
        422,
        "MergeTargetNotKept",
    )
    .await;

    // The duplicate is still the village's to handle, and merges into an open case.
    let kept = h.report(GW1, G1).await;
    h.ok(VIL, &dup, "merge", merge(&kept)).await;
    let view = h
        .read(&format!("/api/v1/cases/{dup}?{}", h.after()), VIL)
        .await;
    assert_eq!(view["status"], "merged", "{view}");
    assert_eq!(view["case"]["merged_into"], kept.as_str());
}

#[tokio::test]
async fn handlers_and_mediators_are_the_units_people() {
    let h = Harness::new();
    let c = at_the_village(&h, GW1, G1).await;
    // Someone the village does not have (a grid worker of its grid is not its staff; a made-up
    // id is nobody): refused, so the case is never held by a stranger.
    for stranger in ["gw-1", "nobody-xyz", "staff-t1"] {
        let v = h
            .refused(
                h.command(VIL, &c, "assign", json!({ "handler": stranger }))
                    .await,
                422,
                "HandlerNotOfUnit",
            )
            .await;
        assert!(v["detail"].as_str().unwrap().contains(stranger), "{v}");
    }
    h.ok(VIL, &c, "assign", json!({ "handler": "staff-v1" }))
        .await;
    // A mediation with someone who is not the organization's mediator could never be ended.
    let mediation = |mediator: &str| json!({ "mediation_type": "people", "mediator": mediator, "organization": VILLAGE });
    // Nobody the organization has, nor a grid worker posing as its mediator.
    for mediator in ["med-nobody-9", "gw-1"] {
        h.refused(
            h.command(VIL, &c, "start_mediation", mediation(mediator))
                .await,
            422,
            "MediatorNotOfOrganization",
        )
        .await;
    }
    // A sibling village's organization does not mediate this village's case.
    h.refused(
        h.command(
            VIL,
            &c,
            "start_mediation",
            json!({ "mediation_type": "people", "mediator": "med-1", "organization": VILLAGE2 }),
        )
        .await,
        422,
        "MediationOrganizationNotAbove",
    )
    .await;
    h.ok(VIL, &c, "start_mediation", mediation("med-1")).await;
}
