//! Every error status; none appends anything.

use super::common::*;
use super::harness::*;

#[tokio::test]
async fn malformed_json_is_400() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let uri = format!("/api/v1/cases/{a}/add_note");
    for body in [
        "{\"text\": ",
        "[1, 2]",
        "\"note\"",
        "{\"text\": \"x\"} trailing",
    ] {
        let r = h.post_raw(&uri, Some(GW1), &[], body).await;
        let v = h.refused(r, 400, "malformed_json").await;
        assert!(v.get("field").is_none(), "{v}");
    }
    let r = h.post_raw("/api/v1/cases", Some(GW1), &[], "{").await;
    h.refused(r, 400, "malformed_json").await;
}

#[tokio::test]
async fn an_invalid_field_is_400_naming_the_field() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;

    // A missing required field.
    let r = h.command(GW1, &a, "escalate", json!({})).await;
    let v = h.refused(r, 400, "invalid_field").await;
    assert_eq!(v["field"], "reason", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("reason"), "{v}");

    // A malformed region code.
    let mut body = report_body(G1);
    body["location"] = json!("33080200500100");
    let r = h.command(GW1, "", "report", body).await;
    let v = h.refused(r, 400, "invalid_field").await;
    assert_eq!(v["field"], "location", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("location"), "{v}");

    // A malformed instant, a bad value nested in a list.
    let mut body = report_body(G1);
    body["happened_at"] = json!("last Tuesday");
    let v = h
        .refused(
            h.command(GW1, "", "report", body).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "happened_at", "{v}");
    let mut body = report_body(G1);
    body["parties"][1]["role"] = json!("bystander");
    let v = h
        .refused(
            h.command(GW1, "", "report", body).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "parties", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("bystander"), "{v}");

    // A value outside the vocabulary, and a field that does not exist.
    let mut body = report_body(G1);
    body["category"] = json!("weather");
    let v = h
        .refused(
            h.command(GW1, "", "report", body).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "category", "{v}");
    let v = h
        .refused(
            h.command(GW1, &a, "add_note", json!({ "text": "x", "colour": "red" }))
                .await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "colour", "{v}");

    // Envelope fields and headers.
    let v = h
        .refused(
            h.command(
                GW1,
                &a,
                "add_note",
                json!({ "text": "x", "occurred_at": "yesterday" }),
            )
            .await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "occurred_at", "{v}");
    let r = h
        .send(GW1, &a, "add_note", note("x"), &[("if-match", "three")])
        .await;
    let v = h.refused(r, 400, "invalid_field").await;
    assert_eq!(v["field"], "If-Match", "{v}");
    let r = h
        .send(
            GW1,
            &a,
            "add_note",
            note("x"),
            &[("idempotency-key", "a key")],
        )
        .await;
    let v = h.refused(r, 400, "invalid_field").await;
    assert_eq!(v["field"], "Idempotency-Key", "{v}");

    // Queries.
    let v = h
        .refused(
            h.get("/api/v1/stats?period=last-month", TWN).await,
            400,
            "invalid_query",
        )
        .await;
    assert_eq!(v["field"], "period");
    let v = h
        .refused(
            h.get("/api/v1/stats?breakdown=colour", TWN).await,
            400,
            "invalid_query",
        )
        .await;
    assert_eq!(v["field"], "breakdown");
    let v = h
        .refused(
            h.get("/api/v1/stats?as_of=soon", TWN).await,
            400,
            "invalid_query",
        )
        .await;
    assert_eq!(v["field"], "as_of");
    h.refused(
        h.get("/api/v1/stats?drill_down=maybe", TWN).await,
        400,
        "invalid_query",
    )
    .await;
    for uri in [
        format!("/api/v1/cases/{a}?after=soon"),
        format!("/api/v1/units/{VILLAGE}/queue?after=-1"),
        format!("/api/v1/regions/{TOWNSHIP}/open?after=x"),
    ] {
        h.refused(h.get(&uri, TWN).await, 400, "invalid_query")
            .await;
    }
    let v = h
        .refused(
            h.get("/api/v1/units/33080200/queue", TWN).await,
            400,
            "invalid_field",
        )
        .await;
    assert_eq!(v["field"], "unit");
}

#[tokio::test]
async fn no_or_an_unknown_token_is_401() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let uri = format!("/api/v1/cases/{a}/add_note");
    let body = note("x").to_string();
    h.refused(
        h.post_raw(&uri, None, &[], body.clone()).await,
        401,
        "unauthenticated",
    )
    .await;
    h.refused(
        h.post_raw(&uri, Some("tok-stolen"), &[], body.clone())
            .await,
        401,
        "unauthenticated",
    )
    .await;
    h.refused(
        h.post_raw(
            &uri,
            None,
            &[("authorization", &format!("Basic {GW1}"))],
            body,
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    h.refused(
        h.post_raw("/api/v1/cases", None, &[], report_body(G1).to_string())
            .await,
        401,
        "unauthenticated",
    )
    .await;
    for uri in [
        format!("/api/v1/cases/{a}"),
        format!("/api/v1/cases/{a}/timeline"),
        format!("/api/v1/units/{G1}/queue"),
        format!("/api/v1/regions/{G1}/open"),
        "/api/v1/stats".to_owned(),
    ] {
        let r = h.request(Method::GET, &uri, None, &[], Body::empty()).await;
        h.refused(r, 401, "unauthenticated").await;
        h.refused(h.get(&uri, "tok-wrong").await, 401, "unauthenticated")
            .await;
    }
}

#[tokio::test]
async fn reading_outside_role_or_scope_is_403() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.refused(
        h.get(&format!("/api/v1/cases/{a}"), ANA).await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/units/{G1}/queue"), GW2).await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/stats?region={TOWNSHIP}"), GW1)
            .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn unknown_cases_commands_regions_and_routes_are_404() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    let missing = "330802-0000000000000000";
    for uri in [
        format!("/api/v1/cases/{missing}"),
        format!("/api/v1/cases/{missing}/timeline"),
        "/api/v1/cases/not%20an%20id".to_owned(),
        format!("/api/v1/units/{}/queue", "330802005009"),
        format!("/api/v1/regions/{}/open", "330802099"),
        "/api/v1/stats?region=330802099".to_owned(),
        "/api/v2/cases".to_owned(),
        "/nothing/here".to_owned(),
    ] {
        h.refused(h.get(&uri, TWN).await, 404, "not_found").await;
    }
    // Commands: an unknown name, `report` on a case, a case never reported.
    h.refused(
        h.command(GW1, &a, "explode", json!({})).await,
        404,
        "not_found",
    )
    .await;
    let r = h
        .post_raw(
            &format!("/api/v1/cases/{a}/report"),
            Some(GW1),
            &[],
            report_body(G1).to_string(),
        )
        .await;
    h.refused(r, 404, "not_found").await;
    h.refused(
        h.command(GW1, missing, "add_note", note("x")).await,
        404,
        "not_found",
    )
    .await;
    h.refused(
        h.command(GW1, "bad!id", "add_note", note("x")).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_stale_if_match_is_409_with_expected_and_actual() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "add_note", note("第一条")).await;
    // Pinned to the current version: accepted.
    let r = h
        .send(
            GW1,
            &a,
            "add_note",
            note("第二条"),
            &[("if-match", "\"2\""), ("idempotency-key", "pinned-ok")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["version"], 3);
    // Pinned to a stale one: 409 naming both versions.
    let r = h
        .send(
            GW1,
            &a,
            "add_note",
            note("第三条"),
            &[("if-match", "\"2\""), ("idempotency-key", "pinned-stale")],
        )
        .await;
    let v = h.refused(r, 409, "conflict").await;
    assert_eq!(v["expected"], 2);
    assert_eq!(v["actual"], 3);
    let r = h
        .send(GW1, &a, "add_note", note("第四条"), &[("if-match", "7")])
        .await;
    let v = h.refused(r, 409, "conflict").await;
    assert_eq!(
        (v["expected"].as_u64(), v["actual"].as_u64()),
        (Some(7), Some(3))
    );
    // An idempotency key already used on another case.
    let b = h.report(GW1, G1).await;
    let mut body = note("x");
    body["occurred_at"] = json!(h.tick());
    let r = h
        .send(
            GW1,
            &b,
            "add_note",
            body,
            &[("idempotency-key", "pinned-ok")],
        )
        .await;
    h.refused(r, 422, "idempotency_key_mismatch").await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let h = Harness::with_config(Config {
        max_body_bytes: 1024,
        ..Config::default()
    });
    let a = h.report(GW1, G1).await;
    let big = note(&"很长的备注".repeat(200));
    h.refused(
        h.command(GW1, &a, "add_note", big.clone()).await,
        413,
        "payload_too_large",
    )
    .await;
    let mut body = report_body(G1);
    body["summary"] = json!("长".repeat(2000));
    h.refused(
        h.command(GW1, "", "report", body).await,
        413,
        "payload_too_large",
    )
    .await;
    // Just under the limit passes.
    h.ok(GW1, &a, "add_note", note(&"备注".repeat(100))).await;
}

#[tokio::test]
async fn a_domain_rejection_is_422_named_after_the_rule_and_a_refusal_of_who_asks_403() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    // Escalating sideways, to a sibling grid.
    let v = h
        .refused(
            h.command(
                GW1,
                &a,
                "escalate",
                json!({ "to": G2, "reason": "试图平级上报" }),
            )
            .await,
            422,
            "EscalationNotToAncestor",
        )
        .await;
    assert!(v["detail"].as_str().unwrap().contains(G2), "{v}");
    // The township acting on what the grid holds.
    h.refused(
        h.command(TWN, &a, "assign", json!({ "handler": "staff-t1" }))
            .await,
        403,
        "NotHoldingUnit",
    )
    .await;
    // A well-formed code no one knows.
    let mut body = report_body(G1);
    body["location"] = json!("330802005001999");
    h.refused(
        h.command(GW1, "", "report", body).await,
        422,
        "UnknownRegion",
    )
    .await;
    // A role that may not, a status that does not allow it, an empty required text.
    h.refused(
        h.command(GW1, &a, "verify_resolution", json!({})).await,
        403,
        "RoleNotPermitted",
    )
    .await;
    h.refused(
        h.command(VIL, &a, "close", json!({})).await,
        422,
        "NotResolved",
    )
    .await;
    h.refused(
        h.command(GW1, &a, "add_note", note("   ")).await,
        422,
        "InvalidField",
    )
    .await;
    // A grid worker assigns only to themselves.
    h.refused(
        h.command(GW1, &a, "assign", json!({ "handler": "gw-2" }))
            .await,
        403,
        "AssignToOther",
    )
    .await;
    // Reporting twice under one explicit case id.
    let mut body = report_body(G1);
    body["case_id"] = json!(a);
    h.refused(
        h.command(GW1, "", "report", body).await,
        422,
        "CaseAlreadyExists",
    )
    .await;
}

#[tokio::test]
async fn an_empty_read_only_store_is_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let log = SledLog::open_read_only(dir.path().join("log")).unwrap();
    let h = Harness::over(Config::default(), log.into(), None);
    let r = h.command(GW1, "", "report", report_body(G1)).await;
    assert_eq!(
        r.headers
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap()),
        Some("5"),
        "{}",
        r.text()
    );
    h.refused(r, 503, "unavailable").await;
    assert_eq!(h.head().await, 0);
}

#[tokio::test]
async fn a_log_that_takes_no_appends_is_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let (a, head) = {
        let h = Harness::over(
            Config::default(),
            SledLog::open(&path).unwrap().into(),
            None,
        );
        let a = h.report(GW1, G1).await;
        h.ok(GW1, &a, "add_note", note("写入可用时的备注")).await;
        let head = h.head().await;
        h.close().await;
        (a, head)
    };
    // The same store, now refusing appends (as while it is being shut down).
    let h = Harness::over(
        Config::default(),
        SledLog::open_read_only(&path).unwrap().into(),
        None,
    );
    h.last.store(head, Ordering::SeqCst);
    // Fresh keys: the first harness used key-0 and key-1 on this store.
    h.keys.store(1000, Ordering::SeqCst);
    let r = h.command(GW1, &a, "add_note", note("不可写时的备注")).await;
    assert_eq!(
        r.headers
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap()),
        Some("5"),
        "{}",
        r.text()
    );
    let v = h.refused(r, 503, "unavailable").await;
    assert!(v["detail"].as_str().unwrap().contains("unavailable"), "{v}");
    h.refused(
        h.command(GW1, "", "report", report_body(G1)).await,
        503,
        "unavailable",
    )
    .await;
    // Reads still work, and nothing was added.
    let tl = h.read(&format!("/api/v1/cases/{a}/timeline"), GW1).await;
    assert_eq!(tl["version"], 2);
    let view = h
        .read(&format!("/api/v1/cases/{a}?after={head}"), GW1)
        .await;
    assert_eq!(view["version"], 2);
    assert_eq!(h.head().await, head);
}
