//! Finding and listing work: search, my work, rosters, regions; and the API's own manners
//! (method not allowed, the scheme's case).

use super::common::*;
use super::harness::*;

/// Reports `n` cases in `grid` with summaries `"{prefix} {i}"`; returns their ids in order.
async fn report_many(h: &Harness, token: &str, grid: &str, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut body = report_body(grid);
        body["summary"] = json!(format!("{prefix} {i}"));
        let r = h.command(token, "", "report", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        ids.push(r.json()["case_id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test]
async fn search_filters_pages_and_keeps_to_the_readers_scope() {
    let h = Harness::new();
    let water = report_many(&h, GW1, G1, "楼上漏水引发邻里纠纷", 3).await;
    let light = report_many(&h, GW1, G1, "路灯电缆裸露存在安全隐患", 2).await;
    let other = report_many(&h, GW2, G2, "楼道堆放杂物", 1).await;
    h.ok(GW1, &water[0], "register", json!({})).await;
    let after = h.after();

    // Text in Chinese, without spaces: a two-character word inside the summary.
    let r = h.read(&format!("/api/v1/cases?q=漏水&{after}"), VIL).await;
    assert_eq!(r["total"], 3, "{r}");
    for item in r["items"].as_array().unwrap() {
        assert!(item["summary"].as_str().unwrap().contains("漏水"), "{item}");
        assert_eq!(item["location"]["code"], G1);
        assert!(
            item["place"].as_str().unwrap().ends_with("第1网格"),
            "{item}"
        );
    }
    // Filters combine.
    let r = h
        .read(
            &format!("/api/v1/cases?q=漏水&status=registered&{after}"),
            VIL,
        )
        .await;
    assert_eq!(r["total"], 1);
    assert_eq!(r["items"][0]["case_id"], water[0].as_str());
    let r = h
        .read(&format!("/api/v1/cases?region={G2}&{after}"), VIL)
        .await;
    assert_eq!(r["total"], 1);
    assert_eq!(r["items"][0]["case_id"], other[0].as_str());

    // Every page through a cursor: all six, each once, newest first, nothing capped.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = h
            .read(
                &format!("/api/v1/cases?limit=4&cursor={cursor}&{after}"),
                VIL,
            )
            .await;
        assert_eq!(r["total"], 6);
        for item in r["items"].as_array().unwrap() {
            seen.push(item["case_id"].as_str().unwrap().to_owned());
        }
        match r["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let mut all: Vec<String> = [water.clone(), light, other].concat();
    all.reverse();
    assert_eq!(seen, all, "newest first, each once");

    // A grid worker sees its own grid only.
    let r = h.read(&format!("/api/v1/cases?{after}"), GW2).await;
    assert_eq!(r["total"], 1);
    // Analysts have no case search; bad filters are 400 naming the field.
    h.refused(h.get("/api/v1/cases", ANA).await, 403, "forbidden")
        .await;
    let v = h
        .refused(
            h.get("/api/v1/cases?status=sleeping", VIL).await,
            400,
            "invalid_query",
        )
        .await;
    assert_eq!(v["field"], "status");
    let v = h
        .refused(
            h.get("/api/v1/cases?cursor=oldest.1.x", VIL).await,
            400,
            "invalid_query",
        )
        .await;
    assert_eq!(v["field"], "cursor");
    h.refused(
        h.get("/api/v1/cases?limit=1000", VIL).await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn my_work_is_what_each_role_works_on() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    h.ok(
        GW1,
        &a,
        "escalate",
        json!({ "to": VILLAGE, "reason": "需村调委会调解" }),
    )
    .await;
    h.ok(VIL, &a, "assign", json!({ "handler": "staff-v1" }))
        .await;
    h.ok(
        VIL,
        &a,
        "start_mediation",
        json!({ "mediation_type": "people", "mediator": "med-1", "organization": VILLAGE }),
    )
    .await;
    let after = h.after();

    let me = h.read("/api/v1/me", MED1).await;
    assert_eq!(me["id"], "med-1");
    // No name configured and no demo roster: the id, not a name made up by the fixtures.
    assert_eq!(me["name"], "med-1", "{me}");
    assert_eq!(me["role"], "mediator");
    assert_eq!(me["views"][0], "mediations");
    // The mediator sees the mediation assigned to them; another mediator sees nothing.
    let mine = h.read(&format!("/api/v1/me/cases?{after}"), MED1).await;
    assert_eq!(mine["total"], 1, "{mine}");
    assert_eq!(mine["items"][0]["case_id"], a.as_str());
    assert_eq!(mine["items"][0]["mediator"]["id"], "med-1");
    let theirs = h.read(&format!("/api/v1/me/cases?{after}"), MED2).await;
    assert_eq!(theirs["total"], 0);
    // The village's staff: the unit's queue, and what is assigned to them.
    let queue = h.read(&format!("/api/v1/me/cases?{after}"), VIL).await;
    assert_eq!(queue["total"], 1);
    let assigned = h
        .read(&format!("/api/v1/me/cases?view=assigned&{after}"), VIL)
        .await;
    assert_eq!(assigned["items"][0]["assignee"]["id"], "staff-v1");
    // The grid no longer holds it.
    let grid = h.read(&format!("/api/v1/me/cases?{after}"), GW1).await;
    assert_eq!(grid["total"], 0);
    // A view the role does not have; analysts have none.
    h.refused(
        h.get("/api/v1/me/cases?view=mediations", VIL).await,
        400,
        "invalid_query",
    )
    .await;
    h.refused(h.get("/api/v1/me/cases", ANA).await, 403, "forbidden")
        .await;
    let me = h.read("/api/v1/me", ANA).await;
    assert_eq!(me["views"], json!([]));

    // The case view tells each reader what they may do now, and tells the whole story.
    h.ok(
        MED1,
        &a,
        "hold_mediation_session",
        json!({ "summary": "首次调解" }),
    )
    .await;
    let view = h.read(&format!("/api/v1/cases/{a}"), MED1).await;
    let allowed = |v: &Value| -> Vec<String> {
        v["allowed_actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    let mediator = allowed(&view);
    assert!(
        mediator.contains(&"conclude_mediation".into()),
        "{mediator:?}"
    );
    assert!(!mediator.contains(&"resolve".into()), "{mediator:?}");
    let staff = allowed(&h.read(&format!("/api/v1/cases/{a}"), VIL).await);
    assert!(staff.contains(&"add_note".into()), "{staff:?}");
    // The holding unit may end the mediation (as not agreed) if its mediator cannot go on.
    assert!(staff.contains(&"conclude_mediation".into()), "{staff:?}");
    assert!(
        !staff.contains(&"resolve".into()),
        "not while a mediation runs: {staff:?}"
    );
    let file = &view["file"];
    assert_eq!(file["moves"][0]["kind"], "escalated");
    assert_eq!(file["moves"][0]["to"], VILLAGE);
    assert_eq!(file["mediations"][0]["mediator"], "med-1");
    assert_eq!(file["mediations"][0]["sessions"][0]["summary"], "首次调解");
    let causes: Vec<&str> = file["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["cause"].as_str().unwrap())
        .collect();
    assert_eq!(causes[0], "CaseRegistered", "{causes:?}");
    assert!(causes.contains(&"CaseEscalated"), "{causes:?}");
    assert_eq!(view["holder"]["name"], "金桂社区");

    // Resolved, the case stays in the unit's queue until it is closed: someone must verify
    // it (核查), then close it.
    h.ok(
        MED1,
        &a,
        "conclude_mediation",
        json!({ "outcome": "agreement", "note": "双方达成协议" }),
    )
    .await;
    h.ok(
        VIL,
        &a,
        "resolve",
        json!({ "method": "mediated_agreement", "summary": "已达成调解协议" }),
    )
    .await;
    let queue = || async {
        h.read(&format!("/api/v1/me/cases?{}", h.after()), VIL)
            .await
    };
    let q = queue().await;
    assert_eq!(q["total"], 1, "{q}");
    assert_eq!(q["items"][0]["status"], "resolved", "{q}");
    h.ok(TWN, &a, "verify_resolution", json!({})).await;
    let q = queue().await;
    assert_eq!(q["items"][0]["status"], "verified", "{q}");
    h.ok(VIL, &a, "close", json!({})).await;
    assert_eq!(queue().await["total"], 0);
}

#[tokio::test]
async fn a_unit_lists_its_people_and_regions_read_as_a_tree() {
    let h = Harness::new();
    let staff = h.read(&format!("/api/v1/units/{VILLAGE}/staff"), VIL).await;
    assert_eq!(staff["unit"]["code"], VILLAGE);
    let handlers: Vec<&str> = staff["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(handlers.contains(&"staff-v1"), "{staff}");
    let mediators: Vec<&str> = staff["mediators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(mediators.contains(&"med-1"), "{staff}");
    // A grid worker may read the roster of the village above it, not of another grid.
    h.read(&format!("/api/v1/units/{VILLAGE}/staff"), GW1).await;
    h.refused(
        h.get(&format!("/api/v1/units/{G2}/staff"), GW1).await,
        403,
        "forbidden",
    )
    .await;
    h.refused(
        h.get(&format!("/api/v1/units/{VILLAGE}/staff"), ANA).await,
        403,
        "forbidden",
    )
    .await;

    let r = h.read(&format!("/api/v1/regions/{VILLAGE}"), GW1).await;
    assert_eq!(r["name"], "金桂社区");
    assert_eq!(r["level"], "village");
    assert_eq!(r["parent"]["code"], TOWNSHIP);
    let children: Vec<&str> = r["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(children, [G1, G2]);
    let path: Vec<&str> = r["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["衢州市", "柯城区", "新新街道", "金桂社区"]);
    h.refused(
        h.get("/api/v1/regions/330802099", GW1).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn the_api_answers_its_manners_as_problems() {
    let h = Harness::new();
    // A known route with another method: 405, as problem+json.
    let r = h
        .request(
            Method::DELETE,
            "/api/v1/cases",
            Some(VIL),
            &[],
            Body::empty(),
        )
        .await;
    h.refused(r, 405, "method_not_allowed").await;
    // The scheme is case-insensitive.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = h
            .request(
                Method::GET,
                "/api/v1/me",
                None,
                &[("authorization", &format!("{scheme} {VIL}"))],
                Body::empty(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{scheme}: {}", r.text());
    }
}

#[tokio::test]
async fn idempotency_keys_belong_to_their_sender_and_their_request() {
    let h = Harness::new();
    // Two grid workers of the village happen to use the same key: two cases.
    let mut body = report_body(G1);
    body["occurred_at"] = json!(h.tick());
    let first = h
        .send(
            GW1,
            "",
            "report",
            body.clone(),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let mut other = report_body(G2);
    other["occurred_at"] = json!(h.tick());
    let second = h
        .send(GW2, "", "report", other, &[("idempotency-key", "k-1")])
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text());
    assert_ne!(first.json()["case_id"], second.json()["case_id"]);
    let head = h.head().await;
    // The same sender, the same key, another body: 422, and nothing appended.
    let mut changed = body.clone();
    changed["summary"] = json!("换了一个摘要");
    let r = h
        .send(GW1, "", "report", changed, &[("idempotency-key", "k-1")])
        .await;
    h.refused(r, 422, "idempotency_key_mismatch").await;
    assert_eq!(h.head().await, head);
    // The very same request again: the first result.
    let r = h
        .send(GW1, "", "report", body, &[("idempotency-key", "k-1")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["duplicate"], true);
    assert_eq!(h.head().await, head);
}

#[tokio::test]
async fn search_by_kind_source_level_time_and_order() {
    let h = Harness::new();
    let disputes = report_many(&h, GW1, G1, "邻里纠纷", 2).await;
    let between = h.tick();
    let mut hazard = report_body(G1);
    hazard["kind"] = json!("incident");
    hazard["category"] = json!("fire_safety");
    hazard["source"] = json!("smart_sensing");
    hazard["summary"] = json!("烟感报警：楼道电动车充电");
    hazard["parties"] = json!([]);
    let r = h.command(GW1, "", "report", hazard).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let alarm = r.json()["case_id"].as_str().unwrap().to_owned();
    h.ok(GW1, &disputes[0], "register", json!({})).await;
    h.ok(
        GW1,
        &disputes[0],
        "escalate",
        json!({ "reason": "需社区调委会调解" }),
    )
    .await;
    let after = h.after();
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["case_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let search = |query: String| {
        let h = &h;
        let after = after.clone();
        async move { h.read(&format!("/api/v1/cases?{query}&{after}"), VIL).await }
    };
    assert_eq!(
        ids(&search("kind=incident".into()).await),
        vec![alarm.clone()]
    );
    assert_eq!(
        ids(&search("kind=dispute&sort=oldest".into()).await),
        disputes
    );
    assert_eq!(
        ids(&search("source=smart_sensing".into()).await),
        vec![alarm.clone()]
    );
    assert_eq!(
        ids(&search("level=village".into()).await),
        vec![disputes[0].clone()]
    );
    assert_eq!(
        ids(&search("level=grid&sort=oldest".into()).await),
        [disputes[1].clone(), alarm.clone()]
    );
    // Reported from a time on, or before it.
    assert_eq!(
        ids(&search(format!("reported_from={between}")).await),
        vec![alarm.clone()]
    );
    assert_eq!(
        ids(&search(format!("reported_to={between}&sort=oldest")).await),
        disputes
    );
    // Orders: newest first by default, oldest, soonest deadline (only registered cases have
    // one), most recently changed.
    let all = [disputes[0].clone(), disputes[1].clone(), alarm.clone()];
    let mut newest = all.to_vec();
    newest.reverse();
    assert_eq!(ids(&search("sort=newest".into()).await), newest);
    assert_eq!(ids(&search("sort=oldest".into()).await), all);
    assert_eq!(ids(&search("sort=deadline".into()).await)[0], disputes[0]);
    assert_eq!(ids(&search("sort=updated".into()).await)[0], disputes[0]);
    // Unknown values are 400 naming the field.
    for (query, field) in [
        ("kind=accident", "kind"),
        ("source=rumour", "source"),
        ("level=street", "level"),
        ("reported_from=yesterday", "reported_from"),
        ("sort=random", "sort"),
    ] {
        let v = h
            .refused(
                h.get(&format!("/api/v1/cases?{query}"), VIL).await,
                400,
                "invalid_query",
            )
            .await;
        assert_eq!(v["field"], field, "{query}: {v}");
    }
}

#[tokio::test]
async fn queues_and_open_lists_page_with_cursors_and_refuse_bad_limits() {
    let h = Harness::new();
    let ids = report_many(&h, GW1, G1, "楼道堆物", 5).await;
    let after = h.after();
    for base in [
        format!("/api/v1/units/{G1}/queue"),
        format!("/api/v1/regions/{VILLAGE}/open"),
    ] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let r = h
                .read(&format!("{base}?limit=2&cursor={cursor}&{after}"), VIL)
                .await;
            assert_eq!(r["open"], 5, "{r}");
            assert!(r["cases"].as_array().unwrap().len() <= 2, "{r}");
            for item in r["cases"].as_array().unwrap() {
                seen.push(item["case_id"].as_str().unwrap().to_owned());
            }
            match r["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => break,
            }
        }
        seen.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(seen, want, "{base}: every case once");
        for limit in ["0", "201"] {
            let v = h
                .refused(
                    h.get(&format!("{base}?limit={limit}"), VIL).await,
                    400,
                    "invalid_query",
                )
                .await;
            assert_eq!(v["field"], "limit", "{v}");
        }
    }
}
