//! Statistics analysts asked for (issue 14, items 17–19): corrections move every figure,
//! DOMAIN.md's case denominators, overdue open cases at T by region and holding unit, year on
//! year, a series of periods in one query, drill-down with a breakdown, ranking by a rate.

use super::common::*;
use super::harness::*;

fn codes(v: &Value) -> Vec<(String, i64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["code"].as_str().unwrap().to_owned(),
                u["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn child<'a>(s: &'a Value, region: &str) -> &'a Value {
    s["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["region"] == region)
        .unwrap_or_else(|| panic!("no child {region}: {s}"))
}

#[tokio::test]
async fn a_correction_moves_the_cases_activity_to_the_corrected_village_and_category() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    h.ok(
        GW1,
        &a,
        "escalate",
        json!({ "to": TOWNSHIP, "reason": "涉及两个社区，需街道协调" }),
    )
    .await;
    let q = format!(
        "/api/v1/stats?region={TOWNSHIP}&period=2025-06&breakdown=category&drill_down=true"
    );
    let before = h.read(&format!("{q}&{}", h.after()), ANA).await;
    assert_eq!(
        child(&before, VILLAGE)["figures"]["activity"]["escalated"],
        1
    );

    h.ok(
        ADM,
        &a,
        "correct_details",
        json!({ "location": G3, "category": "contract", "reason": "登记时选错了网格和类别" }),
    )
    .await;
    let s = h.read(&format!("{q}&{}", h.after()), ANA).await;
    // One case, one place: nothing stays in the village it was first reported in.
    let old = &child(&s, VILLAGE)["figures"];
    assert_eq!(old["activity"]["reported"], 0, "{s}");
    assert_eq!(old["activity"]["escalated"], 0);
    assert_eq!(old["cohort"]["registered"], 0);
    let new = &child(&s, VILLAGE2)["figures"];
    assert_eq!(new["activity"]["reported"], 1, "{s}");
    assert_eq!(new["activity"]["registered"], 1);
    assert_eq!(new["activity"]["escalated"], 1);
    assert_eq!(new["cohort"]["registered"], 1);
    // Activity by handling unit stays with the unit that acted: grid 1 (in the first village)
    // reported, registered and escalated it.
    let by_unit = &child(&s, VILLAGE)["unit_activity"];
    assert_eq!(by_unit["reported"], 1, "{s}");
    assert_eq!(by_unit["escalated"], 1, "{s}");
    assert_eq!(child(&s, VILLAGE2)["unit_activity"]["escalated"], 0, "{s}");
    assert_eq!(s["unit_activity"]["escalated"], 1, "{s}");
    // Under the corrected category only, activity included; each child broken down too.
    let cats: Vec<&str> = s["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["contract"], "{s}");
    assert_eq!(s["breakdown"][0][1]["activity"]["escalated"], 1);
    assert_eq!(
        child(&s, VILLAGE2)["breakdown"][0][0]["value"],
        "contract",
        "{s}"
    );
    assert!(child(&s, VILLAGE)["breakdown"]
        .as_array()
        .unwrap()
        .is_empty());
    // The case is still held by the township, which acted: the overdue figure (now, long
    // after its June deadline) by holding unit names it, the figure by region names the
    // corrected village.
    let late = &s;
    assert_eq!(
        codes(&late["overdue"]["by_holder"]),
        [(TOWNSHIP.to_owned(), 1)]
    );
    assert_eq!(
        codes(&late["overdue"]["by_region"]),
        [(VILLAGE2.to_owned(), 1)]
    );
}

#[tokio::test]
async fn analysts_read_overdue_open_cases_at_t_by_region_and_holding_unit() {
    // The script is dated June 2025 and T is now: every deadline of June has passed, except
    // one extended far ahead.
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    let b = h.report(GW2, G2).await;
    h.ok(GW2, &b, "register", json!({})).await;
    h.ok(GW2, &b, "escalate", json!({ "reason": "需村调委会调解" }))
        .await;
    let c = h.report(GW1, G1).await;
    h.ok(GW1, &c, "register", json!({})).await;
    h.ok(GW1, &c, "assign", json!({ "handler": "gw-1" })).await;
    h.ok(
        GW1,
        &c,
        "resolve",
        json!({ "method": "on_the_spot", "summary": "当场化解" }),
    )
    .await;
    let d = h.report(GW1, G1).await;
    h.ok(GW1, &d, "register", json!({})).await;
    h.ok(
        TWN,
        &d,
        "extend_deadline",
        json!({ "deadline": "2099-12-31T00:00:00Z", "reason": "当事人长期在外" }),
    )
    .await;
    let after = h.after();
    let texts = h.texts.lock().unwrap().clone();
    let s = h
        .read(
            &format!("/api/v1/stats?region={TOWNSHIP}&period=2025-06&drill_down=true&{after}"),
            ANA,
        )
        .await;
    assert_no_free_text(&s, &texts);
    let o = &s["overdue"];
    assert!(o["as_of"].as_str().is_some(), "{s}");
    assert_eq!(o["open"], 2, "a and b; c is resolved, d extended: {s}");
    assert_eq!(o["registered_in_period"], 2);
    assert_eq!(
        codes(&o["by_holder"]),
        [(VILLAGE.to_owned(), 1), (G1.to_owned(), 1)],
        "as many each: by code, the village first"
    );
    assert_eq!(o["by_holder"][0]["name"], "金桂社区");
    assert_eq!(o["by_holder"][0]["level"], "village");
    assert_eq!(codes(&o["by_region"]), [(VILLAGE.to_owned(), 2)]);
    assert_eq!(child(&s, VILLAGE)["overdue_open"], 2);
    assert_eq!(child(&s, VILLAGE2)["overdue_open"], 0);
    // 延期率 counts the extended case once among the four registered.
    assert_eq!(s["figures"]["cohort"]["extended"], 1);
    assert_eq!(s["figures"]["rates"]["extension"], 0.25);
    // Registered in June, so July's report counts them overdue but not in its cohort.
    let july = h
        .read(
            &format!("/api/v1/stats?region={TOWNSHIP}&period=2025-07&{after}"),
            ANA,
        )
        .await;
    assert_eq!(july["overdue"]["open"], 2);
    assert_eq!(july["overdue"]["registered_in_period"], 0);
    // A grid's figure counts what is located in it, whoever holds it now.
    let g2 = h
        .read(
            &format!("/api/v1/stats?region={G2}&period=2025-06&{after}"),
            ANA,
        )
        .await;
    assert_eq!(
        codes(&g2["overdue"]["by_holder"]),
        [(VILLAGE.to_owned(), 1)]
    );
}

#[tokio::test]
async fn escalation_extension_and_reopen_rates_count_cases_and_children_rank_by_a_chosen_rate() {
    let h = Harness::new();
    // One case in village 1 escalated twice; one in village 2 never.
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    h.ok(GW1, &a, "escalate", json!({ "reason": "需村调委会调解" }))
        .await;
    h.ok(VIL, &a, "escalate", json!({ "reason": "需街道协调" }))
        .await;
    let b = h.report(TWN, G3).await;
    h.ok(TWN, &b, "register", json!({})).await;
    let s = h
        .read(
            &format!(
                "/api/v1/stats?region={TOWNSHIP}&period=2025-06&drill_down=true&rank_by=escalation&{}",
                h.after()
            ),
            ANA,
        )
        .await;
    let f = &s["figures"];
    assert_eq!(f["activity"]["escalated"], 2, "{s}");
    assert_eq!(f["cohort"]["escalated"], 1);
    assert_eq!(f["cohort"]["registered"], 2);
    assert_eq!(f["rates"]["escalation"], 0.5, "cases, not events");
    assert_eq!(f["rates"]["extension"], 0.0);
    assert_eq!(f["rates"]["reopen"], Value::Null);
    assert_eq!(s["ranked_by"], "escalation");
    let order: Vec<(&str, u64)> = s["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["region"].as_str().unwrap(), c["rank"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        order,
        [(VILLAGE2, 1), (VILLAGE, 2)],
        "lower escalation first"
    );
    assert_eq!(s["children"][0]["rank_value"], 0.0);
    h.refused(
        h.get(
            &format!("/api/v1/stats?region={TOWNSHIP}&drill_down=true&rank_by=speed"),
            ANA,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn a_series_of_periods_in_one_query_and_year_on_year_beside_the_previous_period() {
    let h = Harness::new();
    let a = h.report(GW1, G1).await;
    h.ok(GW1, &a, "register", json!({})).await;
    h.ok(GW1, &a, "assign", json!({ "handler": "gw-1" })).await;
    h.ok(
        GW1,
        &a,
        "resolve",
        json!({ "method": "on_the_spot", "summary": "当场化解" }),
    )
    .await;
    let after = h.after();
    let s = h
        .read(
            &format!(
                "/api/v1/stats/series?region={TOWNSHIP}&period=2025-04-01..2025-08-01&step=month&breakdown=kind&{after}"
            ),
            ANA,
        )
        .await;
    assert_eq!(s["step"], "month");
    assert_eq!(s["region"], TOWNSHIP);
    let points = s["points"].as_array().unwrap();
    let regs: Vec<(&str, i64)> = points
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap(),
                p["figures"]["cohort"]["registered"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        regs,
        [
            ("2025-04-01..2025-05-01", 0),
            ("2025-05-01..2025-06-01", 0),
            ("2025-06-01..2025-07-01", 1),
            ("2025-07-01..2025-08-01", 0),
        ]
    );
    assert_eq!(points[2]["breakdown"][0][0]["value"], "dispute");
    // Weeks, ISO (Monday first): 2 June 2025 was a Monday.
    let w = h
        .read(
            &format!("/api/v1/stats/series?region={TOWNSHIP}&period=2025-06&step=week&{after}"),
            ANA,
        )
        .await;
    assert_eq!(w["points"].as_array().unwrap().len(), 6);
    assert_eq!(w["points"][1]["period"], "2025-06-02..2025-06-09");
    assert_eq!(w["points"][1]["figures"]["activity"]["reported"], 1);
    // As of before anything: all zero.
    let past = h
        .read(
            &format!(
                "/api/v1/stats/series?region={TOWNSHIP}&period=2025-06&step=day&as_of=2000-01-01T00:00:00Z"
            ),
            ANA,
        )
        .await;
    assert_eq!(past["as_of"], "2000-01-01T00:00:00Z");
    assert_eq!(past["points"].as_array().unwrap().len(), 30);
    assert!(past["points"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["figures"]["activity"]["reported"] == 0));
    // Refused: an unknown step, too many points, a region outside the reader's scope.
    h.refused(
        h.get("/api/v1/stats/series?step=hour", ANA).await,
        400,
        "invalid_query",
    )
    .await;
    let v = h
        .refused(
            h.get(
                "/api/v1/stats/series?period=2024-01-01..2026-01-01&step=day",
                ANA,
            )
            .await,
            400,
            "invalid_query",
        )
        .await;
    assert_eq!(v["field"], "period");
    h.refused(
        h.get(&format!("/api/v1/stats/series?region={TOWNSHIP}"), GW1)
            .await,
        403,
        "forbidden",
    )
    .await;
    // A week the year does not have, a range that ends before it starts, a time to come:
    // each refused naming the field and saying why.
    for (query, field, why) in [
        ("period=2025-W53", "period", "52 ISO weeks"),
        (
            "period=2025-02-01..2025-01-01",
            "period",
            "the end is not after the start",
        ),
        ("as_of=2999-01-01T00:00:00Z", "as_of", "later than now"),
    ] {
        for path in ["/api/v1/stats", "/api/v1/stats/series"] {
            let v = h
                .refused(
                    h.get(&format!("{path}?{query}"), ANA).await,
                    400,
                    "invalid_query",
                )
                .await;
            assert_eq!(v["field"], field, "{v}");
            assert!(v["detail"].as_str().unwrap().contains(why), "{v}");
        }
    }

    // Year on year beside the previous period.
    let s = h
        .read(
            &format!("/api/v1/stats?region={TOWNSHIP}&period=2025-06&{after}"),
            ANA,
        )
        .await;
    assert_eq!(s["change"]["previous_period"], "2025-05-01..2025-06-01");
    assert_eq!(
        s["year_on_year"]["previous_period"],
        "2024-06-01..2024-07-01"
    );
    assert_eq!(s["year_on_year"]["previous_registered"], 0);
    assert_eq!(s["year_on_year"]["registered_change"], Value::Null);
    // Time to resolution: a figure and the range the exact value lies in.
    let grid = &s["time_to_resolution"]["grid"];
    assert_eq!(grid["count"], 1, "{s}");
    let (m, lo, hi) = (
        grid["median_hours"].as_f64().unwrap(),
        grid["median_range_hours"][0].as_f64().unwrap(),
        grid["median_range_hours"][1].as_f64().unwrap(),
    );
    assert!(lo <= m && m < hi, "{grid}");
    // Registered and resolved two minutes apart.
    assert!(lo <= 2.0 / 60.0 && 2.0 / 60.0 < hi, "{grid}");
}
