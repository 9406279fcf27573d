//! The OpenAPI document against the server that serves it: every route answers, every action
//! has its own documented body, and every documented example is accepted.

use super::common::*;
use super::harness::*;

async fn document(h: &Harness) -> Value {
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
    r.json()
}

#[tokio::test]
async fn every_action_has_a_documented_body_with_its_limits() {
    let h = Harness::new();
    let doc = document(&h).await;
    assert_eq!(doc["openapi"], "3.1.0");
    for name in Action::NAMES {
        let path = if *name == "report" {
            "/api/v1/cases".to_owned()
        } else {
            format!("/api/v1/cases/{{id}}/{name}")
        };
        let op = &doc["paths"][&path]["post"];
        assert!(op.is_object(), "no POST {path}");
        let schema_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("POST {path} has no body schema"));
        let schema_name = schema_ref.rsplit('/').next().unwrap();
        let schema = &doc["components"]["schemas"][schema_name];
        assert_eq!(schema["type"], "object", "{schema_name}");
        assert_eq!(schema["additionalProperties"], false, "{schema_name}");
        assert!(
            schema["properties"].get("action").is_none(),
            "{schema_name} still has the tag"
        );
        assert!(
            schema["properties"]["occurred_at"].is_object(),
            "{schema_name}"
        );
        for status in ["400", "401", "403", "404", "409", "413", "422", "503"] {
            assert!(
                op["responses"][status].is_object(),
                "POST {path}: no {status}"
            );
        }
    }
    // Enum values, limits and required fields come from the types.
    let report = &doc["components"]["schemas"]["ReportRequest"];
    assert_eq!(report["properties"]["summary"]["maxLength"], 4000);
    assert_eq!(report["properties"]["parties"]["maxItems"], 50);
    let required: Vec<&str> = report["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for f in [
        "kind",
        "category",
        "source",
        "severity",
        "location",
        "summary",
        "happened_at",
    ] {
        assert!(required.contains(&f), "report requires {f}: {required:?}");
    }
    assert!(!required.contains(&"parties"));
    // Every enum of the wire is in its wire form (snake case), as serde writes it.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if name == "RejectionCode" {
            continue;
        }
        let mut values = Vec::new();
        enum_values(schema, &mut values);
        for v in values {
            assert!(
                v.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name} documents the value {v:?}, which the server does not write"
            );
        }
    }
    let kinds = &doc["components"]["schemas"]["CaseKind"]["enum"];
    assert_eq!(kinds, &json!(["dispute", "incident", "request"]));
    let codes = doc["components"]["schemas"]["RejectionCode"]["enum"]
        .as_array()
        .unwrap();
    assert!(codes.contains(&json!("ResolverCannotVerify")));
    // Responses are typed too: the case view names its allowed actions, the timeline its events.
    assert!(doc["components"]["schemas"]["CaseView"]["properties"]["allowed_actions"].is_object());
    assert!(doc["components"]["schemas"]["TimelineEntry"]["properties"]["event"].is_object());
    assert!(doc["components"]["schemas"]["CaseEscalated"].is_object());
    // …and the statistics.
    let report = &doc["components"]["schemas"]["StatsReport"]["properties"];
    for field in [
        "figures",
        "change",
        "year_on_year",
        "overdue",
        "children",
        "time_to_resolution",
    ] {
        assert!(report[field].is_object(), "StatsReport lacks {field}");
    }
    assert!(doc["components"]["schemas"]["Cohort"]["properties"]["township_rate"].is_object());
    assert!(doc["components"]["schemas"]["Series"]["properties"]["points"].is_object());
}

/// Fills a documented path's placeholders.
fn concrete(path: &str, case: &str, party: &str) -> String {
    path.replace("{id}", case)
        .replace("{code}", VILLAGE)
        .replace("{party}", party)
}

#[tokio::test]
async fn every_documented_route_answers_and_every_example_is_accepted() {
    let h = Harness::new();
    let doc = document(&h).await;
    // A case reported with the documented example: its parties have personal data, which the
    // village (the holding unit) reads.
    let example = &doc["paths"]["/api/v1/cases"]["post"]["requestBody"]["content"]
        ["application/json"]["example"];
    let mut example = example.clone();
    // The harness's clock runs in June 2025.
    example["happened_at"] = json!("2025-06-01T08:00:00Z");
    let r = h.command(VIL, "", "report", example).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let case = r.json()["case_id"].as_str().unwrap().to_owned();
    let parties = h
        .read(&format!("/api/v1/cases/{case}/parties?purpose=x"), VIL)
        .await;
    let party = parties["parties"][0]["id"].as_str().unwrap().to_owned();
    let mut posts = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let uri = concrete(path, &case, &party);
            let example = op["requestBody"]["content"]["application/json"]["example"].clone();
            if path.ends_with("/text") {
                // The example parses; the case is still open, so the rules refuse it.
                let r = h.delete(&uri, SUP, &example).await;
                assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
                assert_eq!(r.json()["code"], "case_not_finished", "{}", r.text());
                continue;
            }
            if path.contains("/parties/") || path.ends_with("/parties") {
                // Personal data: the holding unit reads it with a purpose; a supervisor erases.
                let r = match method.as_str() {
                    "get" => h.get(&format!("{uri}?purpose=x"), VIL).await,
                    "post" => h.post_raw(&uri, Some(VIL), &[], example.to_string()).await,
                    "delete" => h.delete(&uri, SUP, &example).await,
                    other => panic!("{other} {path}"),
                };
                assert!(
                    r.status.is_success(),
                    "{method} {uri} (documented as {path}): {} {}",
                    r.status,
                    r.text()
                );
                continue;
            }
            match method.as_str() {
                "get" => {
                    let r = h.get(&uri, ADM).await;
                    assert!(
                        r.status.is_success(),
                        "GET {uri} (documented as {path}): {} {}",
                        r.status,
                        r.text()
                    );
                }
                "post" => {
                    posts += 1;
                    assert!(example.is_object(), "POST {path} has no example");
                    let action = path.rsplit('/').next().unwrap();
                    let (target, action) = if path == "/api/v1/cases" {
                        (String::new(), "report")
                    } else {
                        // A fresh case each, so that no example changes another's state.
                        (h.report(GW1, G1).await, action)
                    };
                    // Parsed and reached the domain (every example succeeds outright in
                    // `every_documented_example_of_an_action_succeeds`).
                    let r = h.command(VIL, &target, action, example.clone()).await;
                    assert!(
                        [200, 201, 403, 422].contains(&r.status.as_u16()),
                        "the documented example of {action} ({example}) answered {} {}",
                        r.status,
                        r.text()
                    );
                }
                other => panic!("{other} {path}: a method the server does not serve"),
            }
        }
    }
    assert_eq!(posts, Action::NAMES.len());
    // The first examples an integrator tries succeed outright.
    for (action, body) in [
        ("register", json!({})),
        ("add_note", json!({ "text": "已电话联系双方" })),
    ] {
        let documented = &doc["paths"][format!("/api/v1/cases/{{id}}/{action}")]["post"]
            ["requestBody"]["content"]["application/json"]["example"];
        assert_eq!(documented, &body);
        let case = h.report(GW1, G1).await;
        h.ok(GW1, &case, action, body).await;
    }
}

#[tokio::test]
async fn the_readable_page_lists_every_route() {
    let h = Harness::new();
    let doc = document(&h).await;
    let r = h
        .request(Method::GET, "/api/v1/docs", None, &[], Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = r.text();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let line = format!("{} {}", method.to_uppercase(), path);
            assert!(page.contains(&line), "the page lacks {line}");
        }
    }
    assert!(page.contains("ResolverCannotVerify"));
    assert!(page.contains("≤ 4000 characters"));
}

fn enum_values(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "enum" {
                    out.extend(
                        v.as_array()
                            .unwrap()
                            .iter()
                            .filter_map(|x| x.as_str().map(str::to_owned)),
                    );
                } else {
                    enum_values(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| enum_values(v, out)),
        _ => {}
    }
}

/// The documented example of `action`, from the document, with the deployment's ids replaced
/// by this harness's (handler, mediator, the case to merge into) and dates in its clock.
fn documented(doc: &Value, action: &str, merge_into: &str) -> Value {
    let path = if action == "report" {
        "/api/v1/cases".to_owned()
    } else {
        format!("/api/v1/cases/{{id}}/{action}")
    };
    let mut example =
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"].clone();
    assert!(example.is_object(), "{action}: no example");
    let m = example.as_object_mut().unwrap();
    for (field, ours) in [
        ("handler", json!("staff-v1")),
        ("mediator", json!("med-1")),
        ("into", json!(merge_into)),
        // The harness's clock runs in June 2025.
        ("happened_at", json!("2025-06-01T08:00:00Z")),
    ] {
        if m.contains_key(field) {
            m.insert(field.into(), ours);
        }
    }
    example
}

/// Each action's documented example, posted by someone who may take it on a case in a state
/// that allows it, succeeds: 200 (201 for a report), one new commit.
#[tokio::test]
async fn every_documented_example_of_an_action_succeeds() {
    let h = Harness::new();
    let doc = document(&h).await;
    let other = h.report(VIL, VILLAGE).await;
    h.ok(VIL, &other, "register", json!({})).await;
    // The steps that bring a case (reported by the village, held by it) to each state.
    let register = (VIL, "register", json!({}));
    let assign = (VIL, "assign", json!({ "handler": "staff-v1" }));
    let start = (
        VIL,
        "start_mediation",
        json!({ "mediation_type": "people", "mediator": "med-1", "organization": VILLAGE }),
    );
    let session = (
        MED1,
        "hold_mediation_session",
        json!({ "summary": "第一次调解" }),
    );
    let conclude = (
        MED1,
        "conclude_mediation",
        json!({ "outcome": "agreement", "note": "达成协议" }),
    );
    let resolve = (
        VIL,
        "resolve",
        json!({ "method": "mediated_agreement", "summary": "依协议化解" }),
    );
    let verify = (TWN, "verify_resolution", json!({ "note": "回访属实" }));
    let close = (VIL, "close", json!({}));
    let mediated = vec![
        register.clone(),
        assign.clone(),
        start.clone(),
        session.clone(),
        conclude.clone(),
    ];
    let resolved = [mediated.clone(), vec![resolve.clone()]].concat();
    let closed = [resolved.clone(), vec![verify.clone(), close.clone()]].concat();
    type Step = (&'static str, &'static str, Value);
    let recipes: Vec<(&str, &str, Vec<Step>)> = vec![
        ("register", VIL, vec![]),
        ("reject", VIL, vec![]),
        ("assign", VIL, vec![register.clone()]),
        ("escalate", VIL, vec![register.clone()]),
        (
            "delegate",
            TWN,
            vec![
                register.clone(),
                (VIL, "escalate", json!({ "reason": "需街道协调" })),
            ],
        ),
        ("refer", VIL, vec![register.clone()]),
        (
            "return_referral",
            VIL,
            vec![
                register.clone(),
                (
                    VIL,
                    "refer",
                    json!({ "target": "court", "body": "柯城区人民法院", "reason": "诉前调解" }),
                ),
            ],
        ),
        (
            "start_mediation",
            VIL,
            vec![register.clone(), assign.clone()],
        ),
        (
            "hold_mediation_session",
            MED1,
            vec![register.clone(), assign.clone(), start.clone()],
        ),
        (
            "conclude_mediation",
            MED1,
            vec![
                register.clone(),
                assign.clone(),
                start.clone(),
                session.clone(),
            ],
        ),
        ("resolve", VIL, mediated.clone()),
        ("verify_resolution", TWN, resolved.clone()),
        ("reject_resolution", TWN, resolved.clone()),
        (
            "close",
            VIL,
            [resolved.clone(), vec![verify.clone()]].concat(),
        ),
        ("record_feedback", VIL, closed.clone()),
        ("reopen", TWN, closed.clone()),
        ("extend_deadline", TWN, vec![register.clone()]),
        ("issue_supervision", SUP, vec![register.clone()]),
        ("add_note", VIL, vec![]),
        ("add_party", VIL, vec![]),
        ("attach_evidence", VIL, vec![]),
        ("merge", VIL, vec![register.clone()]),
        ("correct_details", ADM, vec![]),
        ("take_over", TWN, vec![register.clone()]),
    ];
    let mut tried: BTreeSet<&str> = BTreeSet::from(["report"]);
    let report = documented(&doc, "report", &other);
    let r = h.command(VIL, "", "report", report.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "report: {}", r.text());
    for (action, token, steps) in recipes {
        let r = h.command(VIL, "", "report", report.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let case = r.json()["case_id"].as_str().unwrap().to_owned();
        for (who, step, body) in steps {
            h.ok(who, &case, step, body).await;
        }
        let example = documented(&doc, action, &other);
        let r = h.command(token, &case, action, example.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "the documented example of {action} ({example}) by {token}: {}",
            r.text()
        );
        assert_eq!(r.json()["duplicate"], false);
        tried.insert(action);
    }
    let all: BTreeSet<&str> = Action::NAMES.iter().copied().collect();
    assert_eq!(tried, all, "every action's example tried");
}
