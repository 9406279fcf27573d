//! The life cycle: every command, every read endpoint.

use super::common::*;
use super::harness::*;

#[tokio::test]
async fn a_full_life_cycle_through_every_endpoint() {
    let h = Harness::new();

    // Report: 201, the case id derived from the Idempotency-Key.
    let body = report_body(G1);
    let r = h
        .send(
            GW1,
            "",
            "report",
            body.clone(),
            &[("idempotency-key", "life-a")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let first = r.json();
    let a = first["case_id"].as_str().unwrap().to_owned();
    assert_eq!(
        a,
        api::derived_case_id(&actor_of(GW1), "life-a").to_string()
    );
    assert_eq!(first["version"], 1);
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["events"][0]["type"], "CaseReported");
    let head = h.head().await;
    assert_eq!(first["position"], head);

    // The retry: 200, the first result, nothing appended.
    let r = h
        .send(GW1, "", "report", body, &[("idempotency-key", "life-a")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let retry = r.json();
    assert_eq!(retry["duplicate"], true);
    assert_eq!(retry["case_id"], first["case_id"]);
    assert_eq!(retry["position"], first["position"]);
    assert_eq!(retry["version"], first["version"]);
    assert_eq!(retry["events"], first["events"]);
    assert_eq!(h.head().await, head);

    // Handled at the grid first, then escalated to the village.
    h.ok(GW1, &a, "register", json!({})).await;
    h.ok(GW1, &a, "assign", json!({ "handler": "gw-1" })).await;
    h.ok(GW1, &a, "add_note", note("已到现场了解情况，双方情绪激动"))
        .await;
    h.ok(
        GW1,
        &a,
        "add_party",
        json!({ "party": { "role": "third_party", "personal": { "name": "隔壁住户" } } }),
    )
    .await;
    h.ok(
        GW1,
        &a,
        "attach_evidence",
        json!({ "content_hash": "ab".repeat(32), "media_type": "image/jpeg", "description": "院墙现场照片" }),
    )
    .await;
    let v = h
        .ok(
            GW1,
            &a,
            "escalate",
            json!({ "reason": "双方分歧较大，需村调委会调解" }),
        )
        .await;
    assert_eq!(v["events"][0]["type"], "CaseEscalated");
    let view = h
        .read(&format!("/api/v1/cases/{a}?{}", h.after()), VIL)
        .await;
    assert_eq!(view["status"], "registered", "{view}");
    assert_eq!(view["case"]["holder"], VILLAGE);
    assert_eq!(view["holder_level"], "village");

    // From above: an extension and a supervision.
    h.ok(
        TWN,
        &a,
        "extend_deadline",
        json!({ "deadline": "2099-07-30T00:00:00Z", "reason": "当事人外出务工，需延期调解" }),
    )
    .await;
    h.ok(
        SUP,
        &a,
        "issue_supervision",
        note_field("请抓紧调处，防止矛盾激化"),
    )
    .await;

    // The village mediates.
    h.ok(VIL, &a, "assign", json!({ "handler": "staff-v1" }))
        .await;
    h.ok(
        VIL,
        &a,
        "start_mediation",
        json!({ "mediation_type": "people", "mediator": "med-1", "organization": VILLAGE }),
    )
    .await;
    h.ok(
        MED1,
        &a,
        "hold_mediation_session",
        json!({ "summary": "第一次调解：双方同意重新测量界址" }),
    )
    .await;
    h.ok(
        MED1,
        &a,
        "conclude_mediation",
        json!({ "outcome": "agreement", "note": "双方签订人民调解协议书" }),
    )
    .await;
    let resolve = json!({ "method": "mediated_agreement", "summary": "依调解协议化解" });
    h.ok(VIL, &a, "resolve", resolve.clone()).await;
    // The township sends it back once; an agreement resolves once, so the village mediates
    // again before resolving again.
    h.ok(
        TWN,
        &a,
        "reject_resolution",
        json!({ "reason": "协议履行情况未核实，返工" }),
    )
    .await;
    h.refused(
        h.command(VIL, &a, "resolve", resolve.clone()).await,
        422,
        "NoMediatedAgreement",
    )
    .await;
    h.ok(
        VIL,
        &a,
        "start_mediation",
        json!({ "mediation_type": "people", "mediator": "med-1", "organization": VILLAGE }),
    )
    .await;
    h.ok(
        MED1,
        &a,
        "hold_mediation_session",
        json!({ "summary": "第二次调解：补充约定履行期限" }),
    )
    .await;
    h.ok(
        MED1,
        &a,
        "conclude_mediation",
        json!({ "outcome": "agreement", "note": "签订补充协议" }),
    )
    .await;
    h.ok(VIL, &a, "resolve", resolve).await;
    h.ok(
        TWN,
        &a,
        "verify_resolution",
        note_field("经回访核实，协议已履行"),
    )
    .await;
    h.ok(VIL, &a, "close", json!({})).await;
    h.ok(
        VIL,
        &a,
        "record_feedback",
        json!({ "satisfaction": "satisfied", "comment": "对调解结果满意" }),
    )
    .await;
    let view = h
        .read(&format!("/api/v1/cases/{a}?{}", h.after()), VIL)
        .await;
    assert_eq!(view["status"], "closed");
    assert_eq!(view["case"]["resolution"]["level"], "village");
    assert_eq!(view["case"]["resolution"]["method"], "mediated_agreement");
    // The case file tells the story without the timeline: both resolutions (the first sent
    // back, the second verified by the township), by whom, at what level, and the supervision.
    let file = &view["file"];
    let resolutions = file["resolutions"].as_array().unwrap();
    assert_eq!(resolutions.len(), 2, "{file}");
    for r in resolutions {
        assert_eq!(r["by"], "staff-v1", "{r}");
        assert_eq!(r["level"], "village", "{r}");
        assert_eq!(r["unit"], VILLAGE, "{r}");
        assert_eq!(r["method"], "mediated_agreement", "{r}");
        assert_eq!(r["summary"], "依调解协议化解", "{r}");
    }
    assert!(resolutions[0]["verified"].is_null(), "{file}");
    assert_eq!(resolutions[1]["verified"][0]["by"], "staff-t1", "{file}");
    assert_eq!(resolutions[1]["verified"][1], "经回访核实，协议已履行");
    let supervision = &file["supervisions"][0];
    assert_eq!(supervision["by"], "sup-1", "{file}");
    assert_eq!(supervision["by_unit"], TOWNSHIP, "{file}");
    assert_eq!(supervision["note"], "请抓紧调处，防止矛盾激化");
    assert_eq!(file["mediations"].as_array().unwrap().len(), 2, "{file}");

    // New facts: reopened, and an audited correction.
    h.ok(
        TWN,
        &a,
        "reopen",
        json!({ "reason": "new_facts", "note": "一方反映界址测量有误" }),
    )
    .await;
    h.ok(
        ADM,
        &a,
        "correct_details",
        json!({ "category": "housing_homestead", "reason": "纠纷实为宅基地界址争议，更正类别" }),
    )
    .await;

    // Case B: up to the township, down to the village, out to a court and back, taken over
    // by the township (提级领办), merged there.
    let b = h.report(GW1, G1).await;
    h.ok(GW1, &b, "register", json!({})).await;
    h.ok(
        GW1,
        &b,
        "escalate",
        json!({ "to": TOWNSHIP, "reason": "涉及多个村，需街道协调" }),
    )
    .await;
    h.ok(TWN, &b, "assign", json!({ "handler": "staff-t1" }))
        .await;
    h.ok(
        TWN,
        &b,
        "delegate",
        json!({ "to": VILLAGE, "reason": "经核实仅涉及金桂社区，交办社区处理" }),
    )
    .await;
    h.ok(
        VIL,
        &b,
        "refer",
        json!({ "target": "court", "body": "柯城区人民法院", "reason": "当事人已申请诉前调解" }),
    )
    .await;
    h.ok(
        VIL,
        &b,
        "return_referral",
        json!({ "reason": "法院退回，建议先行人民调解" }),
    )
    .await;
    h.ok(
        TWN,
        &b,
        "take_over",
        json!({ "reason": "与前案系同一纠纷，街道提级领办" }),
    )
    .await;
    h.ok(
        TWN,
        &b,
        "merge",
        json!({ "into": a, "reason": "与前案系同一纠纷，合并办理" }),
    )
    .await;

    // Case C: not registered.
    let c = h.report(GW1, G1).await;
    h.ok(
        GW1,
        &c,
        "reject",
        json!({ "reason": "duplicate", "note": "重复上报" }),
    )
    .await;

    // Every command was used.
    let names: BTreeSet<String> = Action::NAMES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(*h.used.lock().unwrap(), names);

    // The case view, read-your-writes.
    let after = h.after();
    let view = h.read(&format!("/api/v1/cases/{a}?{after}"), VIL).await;
    assert_eq!(view["case_id"], a);
    assert_eq!(view["version"], 24);
    assert_eq!(view["status"], "registered");
    assert_eq!(view["case"]["details"]["category"], "housing_homestead");
    // The file says why the deadline was extended and why the case was reopened.
    let extension = view["file"]["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["cause"] == "DeadlineExtended")
        .unwrap();
    assert_eq!(
        extension["reason"], "当事人外出务工，需延期调解",
        "{extension}"
    );
    let reopened = view["file"]["moves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "reopened")
        .unwrap();
    assert_eq!(reopened["code"], "new_facts", "{reopened}");
    assert_eq!(reopened["reason"], "一方反映界址测量有误", "{reopened}");
    let view_b = h.read(&format!("/api/v1/cases/{b}?{after}"), VIL).await;
    assert_eq!(view_b["status"], "merged");
    assert_eq!(view_b["case"]["merged_into"], a);
    // Its referral out and back, and its moves up, down and up again, in the file.
    let referral = &view_b["file"]["referrals"][0];
    assert_eq!(referral["by"], "staff-v1", "{referral}");
    assert_eq!(referral["target"], "court");
    assert_eq!(referral["body"], "柯城区人民法院");
    assert_eq!(referral["returned"][1], "法院退回，建议先行人民调解");
    let moves: Vec<&str> = view_b["file"]["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        moves,
        ["escalated", "delegated", "referral_returned", "taken_over"],
        "{}",
        view_b["file"]
    );

    // The timeline: every event, versions 1.. without gaps, chained.
    let tl = h.read(&format!("/api/v1/cases/{a}/timeline"), VIL).await;
    assert_eq!(tl["version"], 24);
    let events = tl["events"].as_array().unwrap();
    assert_eq!(events.len(), 24);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["version"], i as u64 + 1);
        if i > 0 {
            assert_eq!(e["prev_hash"], events[i - 1]["hash"]);
        }
    }
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "CaseReported",
            "CaseRegistered",
            "CaseAssigned",
            "NoteAdded",
            "PartyAdded",
            "EvidenceAttached",
            "CaseEscalated",
            "DeadlineExtended",
            "SupervisionIssued",
            "CaseAssigned",
            "MediationStarted",
            "MediationSessionHeld",
            "MediationConcluded",
            "CaseResolved",
            "ResolutionRejected",
            "MediationStarted",
            "MediationSessionHeld",
            "MediationConcluded",
            "CaseResolved",
            "ResolutionVerified",
            "CaseClosed",
            "FeedbackRecorded",
            "CaseReopened",
            "CaseDetailsCorrected",
        ]
    );
    assert_eq!(
        events[0]["command_id"],
        api::scoped_command_id(&actor_of(GW1), "life-a").to_string()
    );
    assert_eq!(events[0]["actor"]["id"], "gw-1");

    // The village's queue: case A only (B merged, C rejected).
    let q = h
        .read(&format!("/api/v1/units/{VILLAGE}/queue?{after}"), VIL)
        .await;
    assert_eq!(q["region"]["code"], VILLAGE);
    assert_eq!(q["region"]["name"], "金桂社区");
    assert_eq!(q["open"], 1, "{q}");
    assert_eq!(q["cases"][0]["case_id"], a);
    assert_eq!(q["cases"][0]["status"], "registered");
    assert_eq!(q["cases"][0]["location"]["code"], G1);
    assert_eq!(q["cases"][0]["holder"]["name"], "金桂社区");
    assert!(
        q["cases"][0]["place"]
            .as_str()
            .unwrap()
            .contains("新新街道"),
        "{q}"
    );
    assert_eq!(q["supervised"], 1);
    let q = h
        .read(&format!("/api/v1/units/{G1}/queue?{after}"), GW1)
        .await;
    assert_eq!(q["open"], 0, "{q}");

    // Open cases in the township's subtree, by level.
    let open = h
        .read(&format!("/api/v1/regions/{TOWNSHIP}/open?{after}"), TWN)
        .await;
    assert_eq!(open["open"], 1, "{open}");
    assert_eq!(open["by_level"]["village"], 1);
    assert_eq!(open["cases"][0]["case_id"], a);

    // Statistics for June 2025, by category, drilled down to the villages.
    let s = h
        .read(
            &format!(
                "/api/v1/stats?region={TOWNSHIP}&period=2025-06&breakdown=category&drill_down=true&{after}"
            ),
            TWN,
        )
        .await;
    assert_eq!(s["region"], TOWNSHIP);
    assert_eq!(s["level"], "township");
    assert_eq!(s["time_zone"], "Asia/Shanghai");
    let f = &s["figures"];
    assert_eq!(f["activity"]["reported"], 3, "{s}");
    assert_eq!(f["activity"]["escalated"], 2);
    assert_eq!(f["activity"]["delegated"], 1);
    assert_eq!(f["activity"]["referred"], 1);
    assert_eq!(f["activity"]["mediations_concluded"], 2);
    assert_eq!(f["activity"]["mediation_agreements"], 2);
    assert_eq!(f["activity"]["resolved"], 2);
    assert_eq!(f["activity"]["reworked"], 1);
    assert_eq!(f["activity"]["extended"], 1);
    assert_eq!(f["activity"]["supervised"], 1);
    assert_eq!(f["activity"]["closed"], 1);
    assert_eq!(f["activity"]["reopened"], 1);
    assert_eq!(f["activity"]["feedback"], 1);
    assert_eq!(f["cohort"]["rejected"], 1);
    assert_eq!(f["cohort"]["merged"], 1);
    // Registered = resolved + referred out + merged + open: A open, B merged.
    assert_eq!(f["cohort"]["registered"], 2);
    assert_eq!(f["cohort"]["open"], 1);
    assert_eq!(f["rates"]["mediation_success"], 1.0);
    assert!(!s["breakdown"].as_array().unwrap().is_empty(), "{s}");
    let children = s["children"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    let ranks: BTreeSet<u64> = children
        .iter()
        .map(|c| c["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(ranks, BTreeSet::from([1, 2]));
    let mine = children.iter().find(|c| c["region"] == VILLAGE).unwrap();
    assert_eq!(mine["name"], "金桂社区");
    assert_eq!(mine["figures"]["activity"]["reported"], 3);

    // As of a time before anything was recorded: nothing; as of now: everything.
    let s = h
        .read(
            &format!("/api/v1/stats?region={TOWNSHIP}&period=2025-06&as_of=2000-01-01T00:00:00Z"),
            TWN,
        )
        .await;
    assert_eq!(s["as_of"], "2000-01-01T00:00:00Z");
    assert_eq!(s["figures"]["activity"]["reported"], 0);
    let now = Timestamp::now().to_string();
    let s = h
        .read(
            &format!("/api/v1/stats?region={TOWNSHIP}&period=2025-06&as_of={now}"),
            TWN,
        )
        .await;
    assert_eq!(s["figures"]["activity"]["reported"], 3);

    // The OpenAPI document names every API path.
    let r = h
        .request(
            Method::GET,
            "/api/v1/openapi.json",
            None,
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/cases",
        "/api/v1/cases/{id}",
        "/api/v1/cases/{id}/timeline",
        "/api/v1/cases/{id}/escalate",
        "/api/v1/units/{code}/queue",
        "/api/v1/regions/{code}/open",
        "/api/v1/stats",
        "/api/v1/stats/series",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi lacks {path}");
    }

    // Operations.
    let r = h
        .request(Method::GET, "/healthz", None, &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "ok");
    let r = h
        .request(Method::GET, "/readyz", None, &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ready = r.json();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["head"], h.last());
    let r = h
        .request(Method::GET, "/metrics", None, &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let m = r.text();
    assert!(m.contains("# TYPE gridcase_commands_total counter"), "{m}");
    assert!(
        m.contains("gridcase_commands_total{action=\"report\",outcome=\"ok\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("gridcase_commands_total{action=\"report\",outcome=\"duplicate\"} 1"),
        "{m}"
    );
    assert!(
        m.contains(&format!("gridcase_log_head_position {}", h.last())),
        "{m}"
    );
}
